"""Fixtures for the transcription stage: a media factory (ffmpeg in tmp_path) and one loaded model."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from transcribe import TranscribeSettings, build_transcriber


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


@pytest.fixture
def make_media(tmp_path: Path) -> Callable[..., Path]:
    """make_media(name, *ffmpeg_args): run ffmpeg with the output tmp_path/name, return the path."""

    def make(name: str, *args: str) -> Path:
        out = tmp_path / name
        ffmpeg(*args, str(out))
        return out

    return make


@pytest.fixture(scope="session")
def audio_dev(shared_data: Path) -> Path:
    return shared_data / "audio_dev"


@pytest.fixture(scope="session")
def manifest(audio_dev: Path) -> dict[str, dict]:
    lines = (audio_dev / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return {item["id"]: item for item in map(json.loads, filter(None, lines))}


@pytest.fixture(scope="session")
def transcriber():
    """The default transcriber (offline verified base model), loaded once for the session."""
    return build_transcriber(TranscribeSettings())
