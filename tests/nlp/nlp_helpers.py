"""Helpers shared by the nlp tests (imported by name: tests/nlp is on sys.path under pytest)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from routewatch.core.records import Segment, TextUnit

REPO = Path(__file__).resolve().parents[2]
TEST_PACKS = REPO / "tests" / "data" / "packs"


def shared_data() -> Path:
    return Path(os.environ.get("ROUTEWATCH_SHARED_DATA") or REPO.parent / "shared" / "data")


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def make_unit(
    text: str = "", kind: str = "caption", post_id: str = "p1", segments: list[Segment] | None = None, **kw
) -> TextUnit:
    """A text unit; with `segments`, its text is their join (as transcribe/ makes it)."""
    if segments:
        text = TextUnit.join_segments(segments)
    return TextUnit(
        unit_id=kw.pop("unit_id", f"{post_id}:{kind}"),
        post_id=post_id,
        kind=kind,  # type: ignore[arg-type]
        text=text,
        segments=tuple(segments or ()),
        **kw,
    )
