"""The ocr stage's door: `OnscreenReader.read(video_path) -> OnscreenText`.

In: a local video file and `OcrSettings`.  Out: `routewatch.core.records.OnscreenText`: caption lines with the
seconds they showed (merged across frames, best reading kept, in time then reading order), persistent
titles once, and overlays (watermark, uploader id, timers, fixed corner text) kept out of the content.
Reads a low-rate frame stream (`ocr.video`); a frame whose picture did not change is not read again, and a
text box whose pixels did not change is not recognised again. Never prints or returns overlay text as content.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np

from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.records import OnscreenLine, OnscreenText, Overlay, Provenance
from routewatch.core.registry import ocr_readers
from routewatch.core.text import HAN_RUN, to_simplified

from .engine import MODEL_LABEL, Box, RapidOcrEngine, library_version
from .settings import OcrSettings
from .video import probe_video, sample_frames

# Uploader ids and platform marks: "抖音号：…", "TikTok @…", "快手号", "@handle", "ID: …".
_HANDLE_RE = re.compile(
    r"(抖音号|抖音|快手号|快手|小红书号|小红书|视频号|西瓜视频|今日头条|tiktok|douyin|kuaishou|@\s*[\w.]{2,}|\bid\s*[:：]"
    r"|号\s*[:：]\s*[A-Za-z0-9_.]{3,})",
    re.IGNORECASE,
)
_TIMER_RE = re.compile(r"^[\d\s:：.,/\-]+$")
_CLOCK_RE = re.compile(r"\d{1,2}[:：]\d{2}")
_CJK_RE = HAN_RUN
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.]{4,}")
_SMALL = (96, 54)  # (h, w) of the thumbnail compared to tell a changed frame
_SAME_TEXT_DIFF = 4.0  # mean change of blurred grey levels under which a box holds the same text
_NOISE_LEVEL = 6.0  # median grey-level difference to the smoothed frame above which a frame is denoised
_SAME_STROKES = 0.8  # overlap of the bright-stroke masks above which a box holds the same text
_MAX_AGE = 4
_TIMER_TICKS = 3  # a place read as different digits this many times in a row is a timer  # a reused reading is recognised again after this many frames


def _word_chars(text: str) -> str:
    """The letters, digits and CJK characters of a reading (no spaces or punctuation)."""
    return "".join(ch for ch in text if ch.isalnum())


def similarity(a: str, b: str) -> float:
    """Edit similarity of two readings in [0, 1]."""
    if a == b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


@dataclass
class _Track:
    """One piece of text followed across sampled frames."""

    box: Box
    first: float
    last: float
    readings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    samples: int = 0
    kind: str = ""  # "", "title", or an overlay kind

    def add(self, t: float, box: Box, text: str, conf: float) -> None:
        self.box, self.last = box, t
        self.readings[text].append(conf)
        self.samples += 1

    @property
    def best(self) -> tuple[str, float]:
        """The reading seen most confidently overall (sum of confidences), and its mean confidence."""
        text = max(self.readings, key=lambda k: (sum(self.readings[k]), len(k)))
        confs = self.readings[text]
        return text, sum(confs) / len(confs)

    @property
    def all_text(self) -> str:
        return " ".join(self.readings)


@dataclass
class _Seen:
    """A box read in an earlier frame: its reading is reused while the text in it did not change."""

    box: Box
    text: str
    conf: float
    age: int = 0  # frames since the box was last recognised
    ticks: int = 0  # times in a row this place read as different digits (a running timer or counter)


def _blurred(gray: np.ndarray, box: Box) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(gray[box.y0:box.y1, box.x0:box.x1].astype(np.float32), (0, 0), 3.0)


def _same_strokes(gray: np.ndarray, prev_gray: np.ndarray, box: Box) -> bool:
    """True when the bright strokes in the box are the same in both frames (light captions over a moving
    background: the background changes, the glyphs do not). Dark text or a bright background gives no
    usable mask, and the box is read again."""
    cur = gray[box.y0:box.y1, box.x0:box.x1]
    old = prev_gray[box.y0:box.y1, box.x0:box.x1]
    if cur.size == 0:
        return False
    level = max(160.0, float(np.percentile(cur, 80)))
    a, b = cur > level, old > level
    share = float(a.mean())
    if not 0.05 <= share <= 0.5:
        return False
    union = np.logical_or(a, b).sum()
    return bool(union) and float(np.logical_and(a, b).sum()) / float(union) >= _SAME_STROKES


def _noisy(gray: np.ndarray) -> bool:
    """True when most pixels differ from their smoothed neighbourhood (pixel noise, heavy grain).

    On clean footage only text and object edges do, so the median difference is ~0; on a noise
    background it is tens of grey levels.
    """
    import cv2

    sample = gray[::2, ::2].astype(np.float32)
    return float(np.median(np.abs(sample - cv2.GaussianBlur(sample, (0, 0), 0.5)))) > _NOISE_LEVEL


def _pad(box: Box, frame: np.ndarray, px: int = 3) -> np.ndarray:
    h, w = frame.shape[:2]
    return frame[max(0, box.y0 - px): min(h, box.y1 + px), max(0, box.x0 - px): min(w, box.x1 + px)]


def _join(a: str, b: str) -> str:
    """Two lines of one caption: no space between Chinese characters, one between words."""
    if a and b and _CJK_RE.match(a[-1]) and _CJK_RE.match(b[0]):
        return a + b
    return f"{a} {b}".strip()


def join_lines(lines: list[str]) -> str:
    """Caption lines as one text: a place name broken over two lines (墨西 / 哥) is whole again."""
    out = ""
    for line in lines:
        out = _join(out, line)
    return out


@ocr_readers.register("rapidocr.v1")
class OnscreenReader:
    """Reads the words on screen of a video; the engine is loaded once and reused across videos."""

    name = "rapidocr.v1"

    def __init__(self, settings: OcrSettings | None = None, engine: RapidOcrEngine | None = None):
        self.settings = settings or OcrSettings()
        self.engine = engine or RapidOcrEngine(threads=self.settings.threads, det_side=self.settings.det_side)
        self.counters: dict[str, int] = defaultdict(int)

    # -- the door ------------------------------------------------------------------------------------
    def read(self, video_path: str | Path) -> OnscreenText:
        s = self.settings
        path = Path(video_path)
        started = time.monotonic()
        deadline = started + s.timeout_s
        info = probe_video(path, s.max_width)
        if info.seconds > s.max_video_seconds:
            raise RouteWatchError(
                Code.E705, f"video longer than max_video_seconds ({info.seconds:.0f} s > {s.max_video_seconds:.0f} s)")
        fps = s.fps if info.seconds <= 0 else min(s.fps, s.max_frames / info.seconds)
        tracks, frames, read = self._track(path, info, fps, deadline)
        duration = max(info.seconds, frames / fps)
        try:
            result = self._assemble(tracks, duration, fps, info.width)
        except Exception as exc:  # pragma: no cover - a bug here must still be one failure row
            raise RouteWatchError(Code.E707, f"OCR failed: {type(exc).__name__}: {exc}") from None
        segments, persistent, overlays = result
        text_parts: list[str] = []
        for seg in segments:  # each distinct caption line once
            if not any(similarity(seg.text, prev) >= 0.9 for prev in text_parts):
                text_parts.append(seg.text)
        raw_parts = [seg.raw_text for seg in segments if seg.text in text_parts]
        self.counters["ocr/frames_sampled"] += frames
        self.counters["ocr/frames_read"] += read
        self.counters["ocr/frames_unchanged"] += frames - read
        params = (("fps", f"{fps:g}"), ("det_side", str(s.det_side)), ("threads", str(s.threads)),
                  ("max_width", str(s.max_width)), ("min_confidence", f"{s.min_confidence:g}"),
                  ("frames_sampled", str(frames)), ("frames_read", str(read)),
                  *((f"sha256:{k}", v) for k, v in self.engine.sha256.items()))
        prov = Provenance(tool="routewatch.ocr/" + self.name, version=self.engine.version, model=MODEL_LABEL,
                          params=params, at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return OnscreenText(
            text=join_lines(text_parts), segments=tuple(segments), persistent=tuple(persistent),
            overlays=tuple(overlays), model=MODEL_LABEL, seconds=round(duration, 3), frames_read=read,
            raw_text=join_lines(raw_parts), provenance=prov)

    # -- frames → tracks -----------------------------------------------------------------------------
    def _track(self, path: Path, info, fps: float, deadline: float) -> tuple[list[_Track], int, int]:
        import cv2

        s = self.settings
        tracks: list[_Track] = []
        prev_small: np.ndarray | None = None
        prev_obs: list[tuple[Box, str, float]] = []
        seen: list[_Seen] = []
        prev_gray: np.ndarray | None = None
        frames = read = 0
        step = 1.0 / fps
        for t, frame in sample_frames(path, info, fps, s.max_video_seconds, deadline):
            if frames >= s.max_frames:  # a container that gave no duration: the budget still holds
                self.counters["ocr/frames_over_budget"] += 1
                break
            frames += 1
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            small = cv2.resize(gray, _SMALL[::-1], interpolation=cv2.INTER_AREA).astype(np.int16)
            if prev_small is not None and np.abs(small - prev_small).max() <= 6:
                obs = prev_obs  # the picture did not change: same text as before
            else:
                read += 1
                if _noisy(gray):  # grain or noise behind the text: smooth it away before reading
                    self.counters["ocr/frames_denoised"] += 1
                    frame = cv2.GaussianBlur(frame, (0, 0), 1.0)
                obs, seen = self._read_frame(frame, gray, prev_gray, seen)
                prev_gray = gray
            prev_small = small
            prev_obs = obs
            self._follow(tracks, obs, t, step)
        return tracks, frames, read

    def _read_frame(self, frame: np.ndarray, gray: np.ndarray, prev_gray: np.ndarray | None,
                    seen: list[_Seen]) -> tuple[list[tuple[Box, str, float]], list[_Seen]]:
        """Detect text boxes; recognise only those whose text may have changed since the last read.

        A box is reused when an earlier box sits at the same place and the blurred pixels there did
        not change (blur keeps glyph shapes and averages fine background noise away); every reading is
        refreshed after `_MAX_AGE` frames whatever the pixels say.
        """
        boxes = self.engine.detect(frame)
        results: list[_Seen | None] = []
        todo: list[int] = []
        crops: list[np.ndarray] = []
        previous: list[_Seen | None] = []
        for box in boxes:
            reuse = None
            match = None
            if prev_gray is not None:
                match = next((old for old in seen if old.box.iou(box) >= 0.85), None)
            if match is not None and match.age < 8 * _MAX_AGE and (
                    match.ticks >= _TIMER_TICKS or _HANDLE_RE.search(match.text)):
                # a known timer or uploader id: never content, so not read again while it stays there
                reuse = _Seen(match.box, match.text, match.conf, match.age + 1, match.ticks)
            elif match is not None and match.age < _MAX_AGE:
                diff = float(np.abs(_blurred(gray, match.box) - _blurred(prev_gray, match.box)).mean())
                if diff <= _SAME_TEXT_DIFF or _same_strokes(gray, prev_gray, match.box):
                    reuse = _Seen(match.box, match.text, match.conf, match.age + 1, match.ticks)
            if reuse is None:
                todo.append(len(results))
                crops.append(_pad(box, frame))
                previous.append(match)
            results.append(reuse)
        self.counters["ocr/boxes_detected"] += len(boxes)
        self.counters["ocr/boxes_recognised"] += len(crops)
        for i, old, (text, conf) in zip(todo, previous, self.engine.recognise(crops), strict=False):
            text = text.strip()
            ticks = 0
            if old is not None and text != old.text and _TIMER_RE.match(text) and _TIMER_RE.match(old.text or "x"):
                ticks = old.ticks + 1
            results[i] = _Seen(boxes[i], text, conf, 0, ticks)
        new_seen = [r for r in results if r is not None]
        obs = [(r.box, r.text, r.conf) for r in new_seen if r.text and r.conf >= self.settings.min_confidence]
        return obs, new_seen

    def _follow(self, tracks: list[_Track], obs: list[tuple[Box, str, float]], t: float, step: float) -> None:
        """Extend the track each reading continues (same place, similar text), else start one."""
        live = [tr for tr in tracks if t - tr.last <= 2.5 * step]
        taken: set[int] = set()
        for box, text, conf in obs:
            best, best_score = None, 0.0
            for tr in live:
                if id(tr) in taken or tr.box.y_overlap(box) < 0.5:
                    continue
                score = max(similarity(text, k) for k in tr.readings)
                if score >= self.settings.same_line_ratio and score > best_score:
                    best, best_score = tr, score
            if best is None:
                best = _Track(box=box, first=t, last=t)
                tracks.append(best)
            taken.add(id(best))
            best.add(t, box, text, conf)

    # -- tracks → lines, titles, overlays ------------------------------------------------------------
    def _assemble(self, tracks: list[_Track], duration: float, fps: float, width: int):
        s = self.settings
        step = 1.0 / fps
        span = max(duration, step)
        for tr in tracks:
            text, _ = tr.best
            if _HANDLE_RE.search(tr.all_text):
                tr.kind = "handle"
            elif _CLOCK_RE.search(text) and _TIMER_RE.match(text):
                tr.kind = "timer"
        # Digits that change at one place every sample (frame counters, running timecodes).
        digits = [tr for tr in tracks if not tr.kind and _TIMER_RE.match(tr.best[0])]
        timers = [tr for tr in tracks if tr.kind == "timer"]
        for tr in digits:
            neighbours = [o for o in digits if o is not tr and o.box.iou(tr.box) >= 0.3]
            near_timer = any(_near(tr.box, o.box) for o in timers)
            if neighbours or near_timer:
                tr.kind = "timer"
        # Pieces of an uploader id split off by the detector: same row, next to it, same time.
        handles = [tr for tr in tracks if tr.kind == "handle"]
        for tr in tracks:
            if tr.kind:
                continue
            for h in handles:
                gap = max(h.box.x0 - tr.box.x1, tr.box.x0 - h.box.x1)
                if (tr.box.y_overlap(h.box) >= 0.5 and gap <= 2 * h.box.height
                        and tr.first <= h.last and h.first <= tr.last):
                    tr.kind = "handle"
                    break
        if span > step:  # a glimpse: one or two characters in one sample of a video (the detector reading a
            for tr in tracks:  # 64-pixel test pattern as 日): no caption is shown that briefly; left out
                if not tr.kind and tr.last == tr.first and len(_word_chars(tr.best[0])) <= 2:
                    tr.kind = "glimpse"
                    self.counters["ocr/dropped/glimpses"] += 1
        content = [tr for tr in tracks if not tr.kind]
        heights = sorted(tr.box.height for tr in content) or [0]
        median_h = heights[len(heights) // 2]
        for tr in content:
            shown = tr.last - tr.first + step
            centre = (tr.box.x0 + tr.box.x1) / 2
            off_centre = abs(centre - width / 2) > 0.2 * width
            at_edge = tr.box.x0 < 0.1 * width or tr.box.x1 > 0.9 * width
            if shown >= 0.5 * span and off_centre and at_edge and tr.box.height < 0.8 * median_h:
                tr.kind = "corner"
        content = [tr for tr in tracks if not tr.kind]
        changing = [tr for tr in content if tr.last - tr.first + step < s.persistent_share * span]
        if changing:  # a text shown (almost) the whole time beside changing captions is a title
            for tr in content:
                if tr.last - tr.first + step >= s.persistent_share * span:
                    tr.kind = "title"
        content = self._merge_split(tracks, step)
        overlays = [Overlay(_overlay_kind(tr), round(tr.first, 2), round(tr.last + step, 2), tr.best[0])
                    for tr in tracks if tr.kind in ("handle", "timer", "corner")]
        overlays = _merge_overlays(overlays)
        secret = {tok for o in overlays if o.kind in ("handle", "watermark") for tok in _TOKEN_RE.findall(o.text)}
        lines = self._lines(content, step, secret)
        titles = [self._line(tr.first, tr.last + step, tr.best[0], tr.best[1], secret)
                  for tr in sorted((tr for tr in tracks if tr.kind == "title"), key=lambda x: (x.box.y0, x.box.x0))]
        return lines, [t for t in titles if t.text], overlays

    def _merge_split(self, tracks: list[_Track], step: float) -> list[_Track]:
        """One caption that a missed detection split in two tracks becomes one track again."""
        content = sorted((tr for tr in tracks if not tr.kind), key=lambda x: x.first)
        out: list[_Track] = []
        for tr in content:
            for prev in out:
                if (prev.box.y_overlap(tr.box) >= 0.5 and 0 <= tr.first - prev.last <= 3 * step
                        and similarity(prev.best[0], tr.best[0]) >= 0.8):
                    for text, confs in tr.readings.items():
                        prev.readings[text].extend(confs)
                    prev.last, prev.samples = tr.last, prev.samples + tr.samples
                    break
            else:
                out.append(tr)
        return out

    def _line(self, start: float, end: float, raw: str, conf: float, secret: set[str]) -> OnscreenLine:
        for tok in secret:  # an uploader id never reaches content, even when read inside a caption
            raw = raw.replace(tok, "")
        raw = raw.strip()
        text = to_simplified(raw) if self.settings.normalise_zh else raw
        return OnscreenLine(start=round(start, 2), end=round(end, 2), text=text, confidence=round(conf, 4),
                            raw_text=raw)

    def _lines(self, content: list[_Track], step: float, secret: set[str]) -> list[OnscreenLine]:
        """Tracks that come and go together and sit one above the other are one caption."""
        content = sorted(content, key=lambda x: (round(x.first / step), x.box.y0, x.box.x0))
        groups: list[list[_Track]] = []
        for tr in content:
            g = groups[-1] if groups else None
            if (g and abs(tr.first - g[0].first) <= step * 1.01 and abs(tr.last - g[0].last) <= step * 1.01
                    and -0.5 * g[-1].box.height <= tr.box.y0 - g[-1].box.y1 <= 1.2 * g[-1].box.height
                    and tr.box.x0 < g[-1].box.x1 and g[-1].box.x0 < tr.box.x1):
                g.append(tr)
            else:
                groups.append([tr])
        lines = []
        for g in groups:
            raw, confs = "", []
            for tr in g:
                text, conf = tr.best
                raw = _join(raw, text)
                confs.append(conf)
            # A line appeared between the sample before its first sighting and that sighting: the midpoint
            # halves the worst error (same for its end).
            line = self._line(max(0.0, min(tr.first for tr in g) - step / 2), max(tr.last for tr in g) + step / 2, raw,
                              sum(confs) / len(confs), secret)
            if line.text:
                lines.append(line)
        lines.sort(key=lambda ln: ln.start)
        return lines


def _near(a: Box, b: Box) -> bool:
    """Boxes that touch or lie within one text height of each other."""
    gap = max(a.y0 - b.y1, b.y0 - a.y1, a.x0 - b.x1, b.x0 - a.x1)
    return gap <= max(a.height, b.height)


def _overlay_kind(tr: _Track) -> str:
    """An uploader id ("抖音号：zx…", "@name") is a handle; a platform mark without one is a watermark."""
    if tr.kind == "handle" and not _TOKEN_RE.search(tr.best[0]):
        return "watermark"
    return tr.kind


def _merge_overlays(overlays: list[Overlay]) -> list[Overlay]:
    """One row per overlay kind and text run: a timer read as 40 different numbers is one timer."""
    out: list[Overlay] = []
    for o in sorted(overlays, key=lambda o: (o.kind, o.start)):
        if out and out[-1].kind == o.kind and o.kind == "timer" and o.start <= out[-1].end + 1.0:
            out[-1] = Overlay(o.kind, out[-1].start, max(out[-1].end, o.end), "")
        else:
            out.append(o)
    return sorted(out, key=lambda o: (o.start, o.kind))


def model_label() -> str:
    return f"{MODEL_LABEL} rapidocr=={library_version('rapidocr')} onnxruntime=={library_version('onnxruntime')}"
