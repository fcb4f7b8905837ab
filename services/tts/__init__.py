"""TTS service: streamed speech in seven languages from Piper, Kokoro, espeak-ng and F5-TTS."""
