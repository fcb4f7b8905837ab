"""WebSocket route of the voice-chat service."""
