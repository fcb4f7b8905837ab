"""Catalog service: TTS speakers and the collections that route a language to a speaker."""
