"""Transcription stage: media → Transcript (segments, language, model, provenance).

In: `DecodedAudio` or a media path, and `TranscribeSettings`.  Out: `routewatch.core.records.Transcript`.
Public door: `build_transcriber(settings) -> Transcriber`, `Transcriber.transcribe(audio)`,
`decode_audio`, `fingerprint`, `fingerprint_similarity`, `ensure_base_model`, `transcribe_files`.
Never loads an unverified model file and never crashes a run on one bad file (errors carry codes).
"""

from transcribe.audio import DecodedAudio, decode_audio, fingerprint, fingerprint_similarity, pcm_sha256
from transcribe.base import Transcriber, register
from transcribe.build import available_backends, build_transcriber
from transcribe.file_cli import transcribe_files
from transcribe.model import ensure_base_model
from transcribe.settings import TranscribeSettings

__all__ = [
    "DecodedAudio",
    "TranscribeSettings",
    "Transcriber",
    "available_backends",
    "build_transcriber",
    "decode_audio",
    "ensure_base_model",
    "fingerprint",
    "fingerprint_similarity",
    "pcm_sha256",
    "register",
    "transcribe_files",
]
