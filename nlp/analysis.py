"""The working record of one text while the pipeline components run (kept on `doc._.rw`).

In: filled step by step by the components (gazetteer, money, bribes, costs, route, relevance).
Out: read by the extractor to build `routewatch.core.records.Extraction`. Internal to nlp/: never
passed to other stages (they get records), never holds anything but offsets and values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .lexmatch import Hit
from .pack import PlaceDef
from .text import Norm


@dataclass(slots=True)
class Mention:
    """A country or place named in the text (or implied by a flag)."""

    start: int
    end: int
    iso: str
    place: PlaceDef | None = None
    journey: bool = True  # False: named but not as part of a journey (nationality, modifier, no origin)
    deport: bool = False  # a deportation landing
    sounds_like: str = ""  # matched by pinyin only (an ASR homophone): the pack term it sounds like


@dataclass(slots=True)
class Amount:
    start: int  # span of the whole money expression (number + currency word / symbol)
    end: int
    value: float
    currency: str | None
    explicit: bool  # a currency word or symbol is written
    num_start: int = 0
    num_end: int = 0
    sounds_like: str = ""  # its currency word was heard as a sound-alike (必索 for 比索)


@dataclass(slots=True)
class BribeEvent:
    start: int
    end: int
    payer: str
    country: str | None = None
    amount: Amount | None = None
    sentence: int = 0


@dataclass(slots=True)
class CostItem:
    amount: Amount
    kind: str


@dataclass(slots=True)
class Analysis:
    norm: Norm
    lang: str
    sents: list[tuple[int, int]]
    clauses: list[tuple[int, int]]
    mentions: list[Mention] = field(default_factory=list)
    adjectives: list[Mention] = field(default_factory=list)
    amounts: list[Amount] = field(default_factory=list)
    bribes: list[BribeEvent] = field(default_factory=list)
    costs: list[CostItem] = field(default_factory=list)
    route: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    relevance_score: float = 0.0
    relevant: bool = False
    relevance_hits: list[Hit] = field(default_factory=list)
    relevance_reasons: list[str] = field(default_factory=list)
    route_hits: list[Hit] | None = None
    cost_hits: list[Hit] | None = None

    @property
    def text(self) -> str:
        return self.norm.text

    def journey_mentions(self) -> list[Mention]:
        return [m for m in self.mentions if m.journey]
