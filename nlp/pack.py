"""Corridor packs: loading the YAML rule files of one corridor and compiling them into matchers.

In: a pack name (a folder under nlp/packs/ or a configured search dir) or a path to a pack folder.
Out: a `Pack` (raw data + metadata) and its compiled `Rules`, cached per folder. Must never run
code from a pack (yaml.safe_load only) and never guess: a missing pack or file is NotConfigured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from routewatch.core.errors import Code, NotConfigured
from routewatch.core.packs import PACKS_DIR, read_yaml, resolve_pack_dir

from .lexmatch import SoundIndex, TermMatcher
from .text import fold_term, is_han

BUILTIN_DIR = PACKS_DIR
RULE_FILES = ("countries", "places", "relevance", "currency", "numbers", "costs", "bribes", "route")


@dataclass(frozen=True)
class Pack:
    name: str
    version: str
    path: Path
    languages: tuple[str, ...]
    data: dict[str, dict[str, Any]]  # rule-file key -> parsed YAML

    def get(self, file_key: str) -> dict[str, Any]:
        return self.data.get(file_key) or {}

    def cases(self, file_key: str) -> list[dict[str, Any]]:
        return list(self.get(file_key).get("cases") or [])


@lru_cache(maxsize=16)
def _load_pack_dir(path: Path) -> Pack:
    meta = read_yaml(path / "pack.yaml")
    for key in ("name", "version"):
        if not meta.get(key):
            raise NotConfigured(f"{path / 'pack.yaml'} lacks {key!r}", Code.E902)
    files = meta.get("files") or {}
    data: dict[str, dict[str, Any]] = {}
    for key in RULE_FILES:
        fname = files.get(key, f"{key}.yaml")
        fpath = path / fname
        if not fpath.is_file():
            raise NotConfigured(f"pack {meta['name']!r} lacks its {key} file ({fpath})", Code.E902)
        data[key] = read_yaml(fpath)
    return Pack(
        name=str(meta["name"]),
        version=str(meta["version"]),
        path=path,
        languages=tuple(meta.get("languages") or ("zh", "en", "es")),
        data=data,
    )


def load_pack(name_or_path: str, search_dirs: Sequence[str | Path] = ()) -> Pack:
    return _load_pack_dir(resolve_pack_dir(name_or_path, tuple(search_dirs)))


# --- compiled rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceDef:
    canonical: str
    country: str
    signal: float = 0.0
    journey_only: bool = False
    requires: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoryRules:
    """relevance.yaml `story`: how much a told journey weighs (legs between corridor countries)."""

    americas: frozenset[str]
    hubs: frozenset[str]
    leg_weight: float
    max_legs: int
    long_haul_weight: float
    walk_weight: float = 0.0
    walk: re.Pattern[str] | None = None
    stretch_weight: float = 0.0
    stretch_after: tuple[str, ...] = ()


@dataclass(frozen=True)
class CountryDef:
    iso: str
    journey_only: bool = False


def _strings(values: Any) -> list[str]:
    if not values:
        return []
    return [str(v) for v in values]


def _entries(terms: Iterable[Any], payload: Any, cased: bool = False) -> list[tuple[str, Any, bool]]:
    return [(str(t), payload, cased) for t in terms]


@dataclass
class Rules:
    """Everything a pack says, compiled once: matchers plus small lookup tables."""

    pack: Pack
    phonetic: bool
    geo: TermMatcher = field(init=False)
    relevance: TermMatcher = field(init=False)
    costs: TermMatcher = field(init=False)
    bribes: TermMatcher = field(init=False)
    route: TermMatcher = field(init=False)
    countries: dict[str, CountryDef] = field(init=False)
    places: list[PlaceDef] = field(init=False)
    modifier_suffixes: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        p = self.pack
        self._compile_geo(p.get("countries"), p.get("places"))
        rel = p.get("relevance")
        entries: list[tuple[str, Any, bool]] = []
        for group in [*(rel.get("cues") or []), *(rel.get("negatives") or [])]:
            weight = float(group.get("weight", 0))
            entries += _entries(_strings(group.get("terms")), weight)
            entries += _entries(_strings(group.get("cased")), weight, cased=True)
        self.relevance = TermMatcher(entries, phonetic=self.phonetic)
        self.relevance_threshold = float(rel.get("threshold", 1.0))
        self.signals = {k: float(v) for k, v in (rel.get("signals") or {}).items()}
        self.spans = [
            (frozenset(_strings(sp.get("from"))), frozenset(_strings(sp.get("to"))), float(sp.get("weight", 0)))
            for sp in rel.get("spans") or []
        ]
        story = rel.get("story") or {}
        self.story = (
            StoryRules(
                americas=frozenset(_strings(story.get("americas"))),
                hubs=frozenset(_strings(story.get("hubs"))),
                leg_weight=float(story.get("leg_weight", 0.0)),
                max_legs=int(story.get("max_legs", 2)),
                long_haul_weight=float(story.get("long_haul_weight", 0.0)),
                walk_weight=float(story.get("walk_weight", 0.0)),
                walk=re.compile("|".join(f"(?:{p})" for p in _strings(story.get("walk_patterns")))) if story.get("walk_patterns") else None,
                stretch_weight=float(story.get("stretch_weight", 0.0)),
                stretch_after=tuple(fold_term(t) for t in _strings(story.get("stretch_after"))),
            )
            if story
            else None
        )

        costs = p.get("costs")
        entries = []
        for kind, terms in (costs.get("kinds") or {}).items():
            entries += _entries(_strings(terms), ("kind", kind))
        entries += _entries(_strings(costs.get("segment")), ("segment", ""))
        entries += _entries(_strings(costs.get("price_context")), ("price", ""))
        entries += _entries(_strings(costs.get("not_cost")), ("notcost", ""))
        entries += _entries(_strings(costs.get("waived")), ("waived", ""))
        entries += _entries(_strings(costs.get("purchase")), ("purchase", ""))
        self.costs = TermMatcher(entries)
        self.context_window = int(costs.get("context_window", 12))

        def han_terms(terms: Iterable[str]) -> SoundIndex:
            return SoundIndex(fold_term(t) for t in terms)

        # for ASR text: the sound-alikes of these count as price context / not a cost (nlp.money)
        self.price_sounds = han_terms(
            [*_strings(costs.get("price_context")), *(t for ts in (costs.get("kinds") or {}).values() for t in _strings(ts))]
        )
        self.notcost_sounds = han_terms(_strings(costs.get("not_cost")))

        br = p.get("bribes")
        entries = []
        for ctx, terms in (br.get("actors") or {}).items():
            entries += _entries(_strings(terms), ("actor", ctx))
        for ctx, terms in (br.get("weak_actors") or {}).items():
            entries += _entries(_strings(terms), ("weak_actor", ctx))
        for group in br.get("cues") or []:
            entries += _entries(_strings(group.get("terms")), ("cue", str(group.get("payer", "police"))))
        for key in ("demand", "money", "pass", "negation", "hypothetical", "official", "payment", "inspect", "threat"):
            entries += _entries(_strings(br.get(key)), (key, ""))
        # No sound-alike matching here: function phrases collide (没人要 "nobody asked" ~ 每人要 "each must pay").
        self.bribes = TermMatcher(entries)

        rt = p.get("route")
        entries = []
        for key in ("forward", "before", "from", "arrive", "deport", "no_journey", "policy_cause", "comparison", "earlier", "deport_context"):
            entries += _entries(_strings(rt.get(key)), (key, ""))
        origin = rt.get("origin") or {}
        for key in ("before", "after", "departure"):
            entries += _entries(_strings(origin.get(key)), ("origin_" + key, ""))
        self.route = TermMatcher(entries)
        self.corridor_rank: dict[str, int] = {}
        for rank, group in enumerate(rt.get("corridor") or []):
            for iso in group:
                self.corridor_rank[str(iso)] = rank

        self._compile_money(p.get("currency"), p.get("numbers"))

    def _compile_geo(self, countries: dict[str, Any], places: dict[str, Any]) -> None:
        entries: list[tuple[str, Any, bool]] = []
        self.countries = {}
        for c in countries.get("countries") or []:
            iso = str(c["iso"])
            self.countries[iso] = CountryDef(iso, bool(c.get("journey_only", False)))
            entries += _entries(_strings(c.get("names")), ("country", iso))
            entries += _entries(_strings(c.get("cased")), ("country", iso), cased=True)
            entries += _entries(_strings(c.get("always")), ("always", iso))
            entries += _entries(_strings(c.get("adjectives")), ("adj", iso))
        entries += _entries(_strings(countries.get("traps")), ("trap", ""))
        self.places = []
        for pl in places.get("places") or []:
            pdef = PlaceDef(
                canonical=str(pl["canonical"]),
                country=str(pl["country"]),
                signal=float(pl.get("signal", 0.0)),
                journey_only=bool(pl.get("journey_only", False)),
                requires=tuple(fold_term(t) for t in _strings(pl.get("requires"))),
                unless=tuple(fold_term(t) for t in _strings(pl.get("unless"))),
            )
            self.places.append(pdef)
            entries += _entries(_strings(pl.get("names")), ("place", pdef))
            entries += _entries(_strings(pl.get("cased")), ("place", pdef), cased=True)
        entries += _entries(_strings(places.get("traps")), ("trap", ""))
        self.geo = TermMatcher(entries, phonetic=self.phonetic)
        self.modifier_suffixes = tuple(
            sorted((fold_term(s) for s in _strings(countries.get("modifier_suffixes"))), key=len, reverse=True)
        )
        self.flags = bool(countries.get("flags", True))

    def _compile_money(self, cur: dict[str, Any], num: dict[str, Any]) -> None:
        after: list[tuple[str, Any, bool]] = []
        self.currency_before: list[tuple[str, str, bool]] = []  # (symbol, iso, cased)
        for c in cur.get("currencies") or []:
            iso = str(c["iso"])
            after += _entries(_strings(c.get("after")), ("iso", iso))
            after += _entries(_strings(c.get("cased_after")), ("iso_attached", iso), cased=True)
            self.currency_before += [(fold_term(s), iso, False) for s in _strings(c.get("before"))]
            self.currency_before += [(s, iso, True) for s in _strings(c.get("cased_before"))]
        self.currency_before.sort(key=lambda t: -len(t[0]))
        self.by_country: list[tuple[dict[str, str], str]] = []
        for i, group in enumerate(cur.get("by_country") or []):
            after += _entries(_strings(group.get("words")), ("by_country", i))
            self.by_country.append(
                ({str(k): str(v) for k, v in (group.get("countries") or {}).items()}, str(group.get("default", "")))
            )
        after += _entries(_strings(cur.get("not_currency")), ("none", ""))
        self.currency_after = TermMatcher(after, word_start=False)
        # Chinese currency words heard by ASR as sound-alikes (必索 for 比索): matched right after a number
        self.currency_sound_payload = {
            fold_term(t): payload for t, payload, _ in after
            if payload[0] != "none" and len(fold_term(t)) >= 2 and all(is_han(c) for c in fold_term(t))
        }
        self.currency_sounds = SoundIndex(self.currency_sound_payload)
        self.bare_currency = {str(k): str(v) for k, v in (cur.get("bare") or {}).items()}
        self.inherit_in = frozenset(_strings(cur.get("inherit_in")))

        self.digits = {str(k): int(v) for k, v in (num.get("digits") or {}).items()}
        self.units = {str(k): float(v) for k, v in (num.get("units") or {}).items()}
        self.section_unit = float(num.get("section_unit", 10000))
        self.spaced_units = {fold_term(str(k)): float(v) for k, v in (num.get("spaced_units") or {}).items()}
        # words after "2,5" that make its comma a decimal one (2,5 millones); longest first
        self.decimal_multipliers = tuple(
            sorted({*self.spaced_units, *(fold_term(str(k)) for k in (num.get("units") or {}))}, key=len, reverse=True)
        )
        self.vague_unit_only = tuple(fold_term(s) for s in _strings(num.get("vague_before_unit_only")))
        self.unit_currency = {fold_term(str(k)): str(v) for k, v in (num.get("unit_currency") or {}).items()}
        self.number_words = {
            lang: {fold_term(str(k)): float(v) for k, v in table.items()}
            for lang, table in (num.get("words") or {}).items()
        }
        self.multipliers = frozenset(fold_term(w) for w in _strings(num.get("multipliers")))
        self.word_joiners = frozenset(fold_term(w) for w in _strings(num.get("word_joiners")))
        self.weak_words = frozenset(fold_term(w) for w in _strings(num.get("weak_words")))
        self.vague_after = tuple(sorted(_strings(num.get("vague_after")), key=len, reverse=True))
        self.vague_before = tuple(sorted(_strings(num.get("vague_before")), key=len, reverse=True))
        self.range_joiners = tuple(sorted((fold_term(s) for s in _strings(num.get("range_joiners"))), key=len, reverse=True))
        self.not_money_after = tuple(
            sorted((fold_term(s) for s in _strings(num.get("not_money_after"))), key=len, reverse=True)
        )
        self.not_money_before = tuple(fold_term(s) for s in _strings(num.get("not_money_before")))
        self.bare_min = float(num.get("bare_min", 10))


@lru_cache(maxsize=16)
def _compiled(path: Path, phonetic: bool) -> Rules:
    return Rules(_load_pack_dir(path), phonetic)


def compile_pack(name_or_path: str, search_dirs: Sequence[str | Path] = (), phonetic: bool = True) -> Rules:
    return _compiled(resolve_pack_dir(name_or_path, tuple(search_dirs)), phonetic)
