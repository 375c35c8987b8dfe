"""The on-screen text stage over the catalog: each fetched post's video → its `onscreen` text unit.

In: the ocr section (`OcrSettings`), the data dir, the catalog, a progress callback, and the posts pending
"ocr".  Out: per post, in one transaction, the on-screen text (read once per media file and OCR model; a
repost links it), the post's timed `onscreen` unit (titles then captions) and its status; overlays stored as
kinds (uploader ids as pseudonyms); an audio-only file skipped with E703; a failure with its code. Counters
under `ocr/`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from routewatch.core.catalog import Catalog
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.privacy import install_secret, pseudonym
from routewatch.core.records import Segment, TextUnit
from routewatch.core.stage import Progress, StageReport, failpoint, record_failure

from .build import build_reader
from .reader import model_label
from .settings import OcrSettings


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def _open_end(a: str, b: str) -> bool:
    """A caption line that stops mid-phrase (a Chinese character, no punctuation) before one that goes on."""
    return bool(a and b) and "\u3400" <= a[-1] <= "\u9fff" and "\u3400" <= b[0] <= "\u9fff"


def onscreen_unit(pid: str, titles: tuple[Any, ...], segments: tuple[Any, ...], text: str) -> TextUnit:
    """The post's `onscreen` unit: titles then captions as timed segments (seconds on screen). Lines that
    break a phrase (墨西 / 哥) are one segment, so the extractor sees the word whole."""
    segs: list[Segment] = []
    for s in segments:
        if segs and _open_end(segs[-1].text, s.text) and s.start >= segs[-1].start:
            segs[-1] = Segment(start=segs[-1].start, end=max(segs[-1].end, s.end), text=segs[-1].text + s.text)
        else:
            segs.append(Segment(start=s.start, end=s.end, text=s.text))
    segs = [Segment(start=t.start, end=t.end, text=t.text) for t in titles] + segs
    lang = "zh" if any("\u3400" <= c <= "\u9fff" for c in text) else ""
    return TextUnit(unit_id=f"{pid}:onscreen", post_id=pid, kind="onscreen", text=TextUnit.join_segments(segs),
                    lang=lang, segments=tuple(segs))


def run_stage(settings: OcrSettings, data_dir: Path, catalog: Catalog,
              progress: Progress = _no_progress, only: list[str] | None = None) -> StageReport:
    """1. media record → 2. same media file already read (a repost) → link its text, else 3. read the video
    (bounded; an audio-only file is skipped with E703) → 4. save text, unit and status in one transaction."""
    rep = StageReport("ocr")
    t0 = time.monotonic()
    todo = catalog.pending("ocr", after="fetch", only=only)  # only: among these ids (a distributed job)
    if not todo or not settings.enabled:
        return rep
    try:
        reader = build_reader(settings)
    except RouteWatchError as e:
        for pid in todo:
            record_failure(catalog, "ocr", pid, e)
        rep.failed = len(todo)
        return rep
    model = model_label()
    key = install_secret(Path(data_dir))
    video_seconds = 0.0
    for i, pid in enumerate(todo):
        try:
            media = catalog.get_media(pid)
            if media is None:
                raise RouteWatchError(Code.E207, "no media record")
            known = catalog.find_onscreen(media.sha256, model)
            if known is not None:  # a repost of a file already read
                unit = TextUnit(f"{pid}:onscreen", pid, "onscreen", known.text, "zh" if known.text else "",
                                known.segments)
                catalog.save_onscreen_for_post(pid, media.sha256, model, unit, None)
                catalog.count("ocr/reused")
                rep.reused += 1
            else:
                res = reader.read(data_dir / media.path)
                video_seconds += res.seconds
                unit = onscreen_unit(pid, res.persistent, res.segments, res.text)
                overlays = [{"kind": o.kind, "start": o.start, "end": o.end,
                             **({"handle": pseudonym(o.text, key)} if o.kind == "handle" else {})}
                            for o in res.overlays]
                failpoint("ocr", rep.done, "before")
                catalog.save_onscreen_for_post(pid, media.sha256, model, unit, res, overlays)
                catalog.count("ocr/read")
                for o in res.overlays:
                    catalog.count(f"ocr/overlays/{o.kind}")
                rep.done += 1
        except RouteWatchError as e:
            if e.code == Code.E703:  # audio only: nothing on screen to read
                with catalog.tx():
                    catalog.set_status(pid, "ocr", "skipped", e.code.value)
                    catalog.count("ocr/skipped/no_video")
                rep.skipped += 1
            else:
                record_failure(catalog, "ocr", pid, e)
                rep.failed += 1
        except Exception as e:  # noqa: BLE001
            record_failure(catalog, "ocr", pid, e)
            rep.failed += 1
        progress("ocr", i + 1, len(todo))
    for name, n in reader.counters.items():
        catalog.count(name, n)
    rep.seconds = time.monotonic() - t0
    rep.extra["video_seconds"] = round(video_seconds, 1)
    return rep
