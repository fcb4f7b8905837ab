"""The platform's wire protocols as typed messages, used by the servers and by the clients inside
the fleet alike: `transcribe` (/ws/transcribe/vad), `voice_chat` (/ws/voice-chat), `tts` (/ws/tts),
`datachannel` (the WebRTC "chat" channel); `base` holds what they share. Field names and event types
are the API reference's; additions are optional fields, left out when unset."""
