"""The records every stage takes and returns (CONVENTIONS §1).

In: nothing (pure data).  Out: frozen, typed dataclasses used by crawlers/, transcribe/, nlp/, index/
and the catalog.  Must never hold open resources or do I/O; stages talk to each other only
through these records and the catalog.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

UnitKind = Literal["caption", "subtitle", "transcript", "onscreen"]
CostKind = Literal["total", "transport", "guide", "bribe", "other"]
PayerContext = Literal["police", "military", "officials", "other"]


def post_id_for(platform: str, platform_id: str) -> str:
    """Deterministic post id: one post is one record however it was found."""
    digest = hashlib.sha1(f"{platform}:{platform_id}".encode()).hexdigest()[:16]  # noqa: S324 - id, not security
    return f"{platform}-{digest}"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who made a record and how: enough to reproduce it."""

    tool: str
    version: str
    model: str = ""
    params: tuple[tuple[str, str], ...] = ()
    at: str = ""  # ISO-8601 UTC

    def params_dict(self) -> dict[str, str]:
        return dict(self.params)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Post:
    """A public post as discovered by a crawler or an import."""

    post_id: str
    platform: str  # telegram, youtube, tiktok, douyin, web, demo ...
    platform_id: str  # id on the platform (message id, video id, url hash)
    url: str  # canonical URL
    source: str  # name of the configured source that found it
    caption: str = ""
    author_handle: str = ""  # raw handle: pseudonymised before display/export
    posted_at: str = ""  # ISO-8601 UTC, "" when unknown
    captured_at: str = ""  # ISO-8601 UTC
    lang: str = ""  # declared or detected language of the caption
    media_url: str = ""  # direct media URL when the page gives one
    page_url: str = ""  # page the media is fetched through (yt-dlp input), defaults to url
    subtitles_url: str = ""
    forwarded_from: str = ""  # repost provenance (e.g. Telegram "forwarded from" channel)
    discovered_via: str = ""  # query, page or file that led to it (sampling statement)
    views: int | None = None
    extra_json: str = "{}"  # platform-specific metadata, JSON text


@dataclass(frozen=True, slots=True)
class Media:
    """A fetched media file, addressed by content."""

    post_id: str
    path: str  # relative to the data dir
    sha256: str
    size: int
    duration: float | None = None
    mime: str = ""
    info_json: str = "{}"  # yt-dlp info dict (sanitised), JSON text
    provenance: Provenance | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One timed piece of a transcript or subtitle track."""

    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


@dataclass(frozen=True, slots=True)
class TextUnit:
    """One text source of a post, kept apart and labelled (SPEC §2).

    For timed units, ``text`` is the segments' texts joined by ``SEGMENT_JOIN`` in order, so a
    character span maps back to the seconds it was spoken (``seconds_for``).
    """

    unit_id: str
    post_id: str
    kind: UnitKind
    text: str
    lang: str = ""
    segments: tuple[Segment, ...] = ()

    SEGMENT_JOIN = " "

    def segment_offsets(self) -> list[tuple[int, int, Segment]]:
        out: list[tuple[int, int, Segment]] = []
        pos = 0
        for seg in self.segments:
            out.append((pos, pos + len(seg.text), seg))
            pos += len(seg.text) + len(self.SEGMENT_JOIN)
        return out

    def seconds_for(self, start: int, end: int) -> tuple[float, float] | None:
        """Audio seconds covering the character span [start, end), or None for untimed units."""
        hits = [seg for s, e, seg in self.segment_offsets() if s < end and e > start]
        if not hits:
            return None
        return (min(h.start for h in hits), max(h.end for h in hits))

    @staticmethod
    def join_segments(segments: tuple[Segment, ...] | list[Segment]) -> str:
        return TextUnit.SEGMENT_JOIN.join(s.text for s in segments)


@dataclass(frozen=True, slots=True)
class Transcript:
    """ASR output for one audio content hash; shared by reposts of the same audio."""

    audio_sha256: str
    language: str
    text: str
    segments: tuple[Segment, ...]
    model: str
    seconds: float  # audio duration
    provenance: Provenance | None = None
    raw_text: str = ""  # before normalisation (e.g. Traditional → Simplified)


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where a fact came from: text unit, character span, and seconds for timed units."""

    unit_id: str
    unit_kind: UnitKind
    start: int
    end: int
    text: str
    start_sec: float | None = None
    end_sec: float | None = None


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    canonical: str
    country: str
    evidence: tuple[Evidence, ...] = ()
    confidence: float = 1.0  # 0-1: source kind, ASR word confidence, rule, corroboration
    why: tuple[str, ...] = ()  # what set the confidence, readable


@dataclass(frozen=True, slots=True)
class Cost:
    amount: float
    currency: str
    text: str
    kind: CostKind
    evidence: tuple[Evidence, ...] = ()
    confidence: float = 1.0  # 0-1: source kind, ASR word confidence, rule, corroboration
    why: tuple[str, ...] = ()  # what set the confidence, readable


@dataclass(frozen=True, slots=True)
class Bribe:
    text: str
    payer_context: PayerContext
    country: str | None = None
    amount: float | None = None
    currency: str | None = None
    evidence: tuple[Evidence, ...] = ()
    confidence: float = 1.0  # 0-1: source kind, ASR word confidence, rule, corroboration
    why: tuple[str, ...] = ()  # what set the confidence, readable


@dataclass(frozen=True, slots=True)
class CountryMention:
    iso: str
    evidence: tuple[Evidence, ...] = ()
    confidence: float = 1.0  # 0-1: source kind, ASR word confidence, rule, corroboration
    why: tuple[str, ...] = ()  # what set the confidence, readable


@dataclass(frozen=True, slots=True)
class Extraction:
    """Facts found in one text unit, or merged over all units of a post (unit_id == "")."""

    post_id: str
    unit_id: str
    relevant: bool
    countries: tuple[CountryMention, ...] = ()
    route: tuple[str, ...] = ()
    places: tuple[Place, ...] = ()
    costs: tuple[Cost, ...] = ()
    bribes: tuple[Bribe, ...] = ()
    relevance_score: float = 0.0
    provenance: Provenance | None = None
    relevance_reasons: tuple[str, ...] = ()  # what decided `relevant` ("+1.5 cue 走线", "-3.0 against 阻抗")

    def to_gold(self, item_id: str | None = None) -> dict[str, Any]:
        """The SPEC §5 schema (what `annotate` writes and aggregates read). An irrelevant post keeps its
        facts in the record (and the catalog's facts JSON) but shows none here (lexicon §0)."""
        if not self.relevant:
            return {"id": item_id if item_id is not None else self.post_id, "relevant": False, "countries": [],
                    "route": [], "places": [], "costs": [], "bribes": []}
        return {
            "id": item_id if item_id is not None else self.post_id,
            "relevant": self.relevant,
            "countries": [c.iso for c in self.countries],
            "route": list(self.route),
            "places": [{"name": p.name, "canonical": p.canonical, "country": p.country} for p in self.places],
            "costs": [
                {"amount": _num(c.amount), "currency": c.currency, "text": c.text, "kind": c.kind}
                for c in self.costs
            ],
            "bribes": [
                {
                    "text": b.text,
                    "payer_context": b.payer_context,
                    "country": b.country,
                    "amount": _num(b.amount) if b.amount is not None else None,
                    "currency": b.currency,
                }
                for b in self.bribes
            ],
        }


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


@dataclass(frozen=True, slots=True)
class Failure:
    """A recorded failure: never a silent drop (CONVENTIONS §10-11)."""

    stage: str
    item_id: str
    code: str  # stable error code, e.g. "E204"
    reason: str
    at: str = ""


@dataclass(frozen=True, slots=True)
class SearchHit:
    post_id: str
    url: str
    platform: str
    posted_at: str
    snippet: str
    source: UnitKind
    unit_id: str
    score: float
    start_sec: float | None = None
    end_sec: float | None = None
    span: tuple[int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


OverlayKind = Literal["watermark", "handle", "timer", "corner"]


@dataclass(frozen=True, slots=True)
class OnscreenLine:
    """One piece of text read on screen (a caption, or a persistent title), with the seconds it showed."""

    start: float
    end: float
    text: str  # Simplified (search and extraction)
    confidence: float
    raw_text: str = ""  # as read, before Traditional → Simplified


@dataclass(frozen=True, slots=True)
class Overlay:
    """Platform furniture kept out of content: watermark, uploader id, timer, fixed corner text.

    ``text`` may hold an uploader handle: it goes to provenance only, pseudonymised before display.
    """

    kind: OverlayKind
    start: float
    end: float
    text: str = ""


@dataclass(frozen=True, slots=True)
class OnscreenText:
    """What the ocr stage read in one video: captions in time order, persistent titles once, overlays apart."""

    text: str  # each distinct caption line once, in order (Simplified)
    segments: tuple[OnscreenLine, ...]
    persistent: tuple[OnscreenLine, ...]
    overlays: tuple[Overlay, ...]
    model: str
    seconds: float  # video duration
    frames_read: int = 0
    raw_text: str = ""
    provenance: Provenance | None = None
