"""HTTP and WebSocket routes of the TTS service."""
