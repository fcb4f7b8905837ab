"""A stand-in for the `f5-tts` package (see api.py)."""
