"""Speaker diarization backends behind one interface (see base.py)."""
