"""Fixtures for the on-screen text stage: one loaded reader, the ocr_dev manifest and a video factory."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ocr import OcrSettings, OnscreenReader

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """make_video(name, *ffmpeg_args): run ffmpeg with the output tmp_path/name, return the path."""

    def make(name: str, *args: str) -> Path:
        out = tmp_path / name
        ffmpeg(*args, str(out))
        return out

    return make


def caption(text: str, size: int = 40, y: str = "h*0.75", enable: str = "") -> str:
    """A drawtext filter: white text with a black border, centred."""
    on = f":enable='{enable}'" if enable else ""
    return (f"drawtext=fontfile={FONT}:text='{text}':fontsize={size}:fontcolor=white:borderw=3:"
            f"bordercolor=black:x=(w-tw)/2:y={y}{on}")


@pytest.fixture(scope="session")
def reader() -> OnscreenReader:
    return OnscreenReader(OcrSettings())


@pytest.fixture(scope="session")
def ocr_manifest(shared_data: Path) -> dict[str, dict]:
    root = shared_data / "ocr_dev"
    rows = [json.loads(x) for x in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    for row in rows:
        row["path"] = str(root / row["file"])
    return {row["id"]: row for row in rows}
