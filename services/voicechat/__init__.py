"""Voice agent orchestrator: ASR stream → OpenAI-compatible LLM → TTS, over one WebSocket."""
