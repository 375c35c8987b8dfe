"""`ocr-file` lines: one JSON-ready dict per input file, failures included.

In: video file paths and `OcrSettings` (or an already built `OnscreenReader`).
Out: `{"file","text","segments":[{"start","end","text","confidence"}],"overlays":[{"kind","start","end"}],
"model","seconds"}` or `{"file","error":{"code","reason"}}`. Overlay texts (uploader ids) are left out
unless `show_overlay_text` is asked for. Never stops at a failing file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from routewatch.core.errors import Code, error_line
from routewatch.core.records import OnscreenText

from .build import build_reader
from .reader import OnscreenReader
from .settings import OcrSettings


def to_line(name: str, res: OnscreenText, show_overlay_text: bool = False) -> dict:
    """The `ocr-file` JSON object of one result."""
    return {
        "file": name,
        "text": res.text,
        "segments": [{"start": s.start, "end": s.end, "text": s.text, "confidence": s.confidence}
                     for s in res.segments],
        "persistent": [{"start": s.start, "end": s.end, "text": s.text, "confidence": s.confidence}
                       for s in res.persistent],
        "overlays": [{"kind": o.kind, "start": o.start, "end": o.end, **({"text": o.text} if show_overlay_text else {})}
                     for o in res.overlays],
        "model": res.model,
        "seconds": res.seconds,
        "frames_read": res.frames_read,
    }


def ocr_files(paths: Iterable[str | Path], settings: OcrSettings | None = None,
              reader: OnscreenReader | None = None, show_overlay_text: bool = False) -> Iterator[dict]:
    """Read each file in order; the engine is loaded once, and only if there is a file.

    An engine that cannot be loaded (E701/E702) is raised, since no file could succeed. Each line also
    carries `ocr_s` (wall seconds) and `cpu_s` (process CPU seconds) for the bench.
    """
    for path in paths:
        name = str(path)
        if reader is None:
            reader = build_reader(settings)
        wall, cpu = time.monotonic(), time.process_time()
        try:
            res = reader.read(Path(path))
        except Exception as exc:  # noqa: BLE001 - one broken file must not end the batch
            yield error_line(name, exc, Code.E707)
            continue
        line = to_line(name, res, show_overlay_text)
        line["ocr_s"] = round(time.monotonic() - wall, 3)
        line["cpu_s"] = round(time.process_time() - cpu, 3)
        yield line
