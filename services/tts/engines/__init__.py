"""TTS engines behind one small interface."""
