"""Concrete ASR backends, each registered under a versioned name (faster_whisper.v1, openai_whisper.v1)."""
