"""The configured transcriber, by versioned name (CONVENTIONS §3): the transcription stage's loader.

In: `TranscribeSettings` (`backend`, e.g. "faster_whisper.v1").  Out: a `Transcriber` with its model loaded,
or NotConfigured (E902 for a name no backend registered; E301/E303 when the model cannot load). Imports the
backends so they register in `routewatch.core.registry.transcribers`; their heavy libraries (faster_whisper,
whisper, torch) load only when one is built.
"""

from __future__ import annotations

import transcribe.backends.faster_whisper_v1  # noqa: F401 - registers faster_whisper.v1
import transcribe.backends.openai_whisper_v1  # noqa: F401 - registers openai_whisper.v1
from routewatch.core.registry import lookup, names, transcribers
from transcribe.base import Transcriber
from transcribe.settings import TranscribeSettings


def available_backends() -> list[str]:
    return names(transcribers)


def build_transcriber(settings: TranscribeSettings | None = None) -> Transcriber:
    """The configured backend with its model loaded; NotConfigured (E301/E902) when it cannot run."""
    settings = settings or TranscribeSettings()
    return lookup(transcribers, settings.backend, "transcriber")(settings)
