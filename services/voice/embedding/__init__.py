"""Speaker embedding models behind one small interface."""
