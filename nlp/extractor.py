"""The extractor: one text unit in, one `Extraction` out; and merging the units of one post.

In: `TextUnit`s (caption, subtitle, transcript) and `ExtractSettings`. Out: frozen
`routewatch.records.Extraction`s whose every fact carries `Evidence` (unit, character span, exact
text, and audio seconds for timed units). Must never return facts for an irrelevant text, never a
span that is not an exact slice of the unit text, and never change the records module's types.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from spacy.language import Language

from routewatch.errors import Code, NotConfigured, RouteWatchError
from routewatch.records import (
    Bribe,
    Cost,
    CountryMention,
    Evidence,
    Extraction,
    Place,
    Provenance,
    TextUnit,
)

from .analysis import Analysis
from .lexmatch import phonetic_available
from .pack import compile_pack
from .pipeline import load_pipeline, make_pipeline
from .settings import ExtractSettings
from .text import detect_language

TOOL = "routewatch.nlp"
VERSION = "1.0.0"


class Extractor:
    """Rule-based extractor driven by a corridor pack (CONVENTIONS §2: one verb, `extract`)."""

    def __init__(self, settings: ExtractSettings, name: str = "zouxian_rules.v1"):
        if settings.phonetic and not phonetic_available():
            raise NotConfigured(
                "phonetic matching needs the 'pypinyin' package: pip install pypinyin==0.55.0 "
                "(or set nlp.phonetic = false)",
                Code.E902,
            )
        self.settings = settings
        self.name = name
        self.rules = compile_pack(settings.pack, tuple(settings.pack_dirs), phonetic=settings.phonetic)
        self.pack = self.rules.pack
        unknown = [lang for lang in settings.languages if lang not in ("zh", "en", "es")]
        if unknown:
            raise NotConfigured(f"no pipeline for language(s) {unknown}: supported are zh, en, es", Code.E902)
        self._pipelines: dict[str, Language] = {}
        # What the stage did and dropped (CONVENTIONS §11): units seen, relevant or not, facts kept,
        # facts found in irrelevant units and therefore not reported, failures.
        self.counters: Counter[str] = Counter()
        self._provenance = Provenance(
            tool=TOOL,
            version=VERSION,
            model=name,
            params=(("pack", self.pack.name), ("pack_version", self.pack.version)),
        )

    # --- pipelines ---
    def pipeline(self, lang: str) -> Language:
        if lang not in self.settings.languages:
            lang = self.settings.default_language if self.settings.default_language in self.settings.languages else self.settings.languages[0]
        nlp = self._pipelines.get(lang)
        if nlp is None:
            saved = Path(self.settings.pipeline_dir) / lang if self.settings.pipeline_dir else None
            if saved is not None and (saved / "config.cfg").is_file():
                nlp = load_pipeline(saved)
            else:
                nlp = make_pipeline(lang, self.settings.pack, list(self.settings.pack_dirs), self.settings.phonetic)
            self._pipelines[lang] = nlp
        return nlp

    def pipelines(self) -> dict[str, Language]:
        return {lang: self.pipeline(lang) for lang in self.settings.languages}

    def analyse(self, text: str, lang_hint: str = "") -> Analysis:
        lang = detect_language(text, default=lang_hint or self.settings.default_language)
        return self.pipeline(lang)(text)._.rw

    # --- the door ---
    def extract(self, unit: TextUnit) -> Extraction:
        an = self._analyse_unit(unit)
        return self._build(unit, an, an.relevant)

    def _analyse_unit(self, unit: TextUnit) -> Analysis:
        self.counters["nlp/units"] += 1
        try:
            return self.analyse(unit.text, unit.lang)
        except Exception as exc:  # one bad unit is a recorded failure with a code, never a crash of the run
            self.counters["nlp/failed"] += 1
            raise RouteWatchError(Code.E401, f"extraction failed on {unit.unit_id}: {type(exc).__name__}: {exc}") from exc

    def extract_post(self, units: Sequence[TextUnit]) -> Extraction:
        """All units of one post, relevance decided on their pooled evidence, then merged.

        A caption's hashtag (#走线) can make a transcript that names the route relevant, which
        `merge` of separately-judged units cannot do.
        """
        if not units:
            raise ValueError("extract_post needs at least one text unit")
        analyses = [self._analyse_unit(u) for u in units]
        pooled = sum(an.relevance_score for an in analyses)
        relevant = any(an.relevant for an in analyses) or pooled >= self.rules.relevance_threshold
        return merge(units[0].post_id, [self._build(u, an, relevant) for u, an in zip(units, analyses, strict=True)])

    def provenance(self) -> Provenance:
        return Provenance(
            tool=self._provenance.tool,
            version=self._provenance.version,
            model=self._provenance.model,
            params=self._provenance.params,
            at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def _build(self, unit: TextUnit, an: Analysis, relevant: bool) -> Extraction:
        prov = self.provenance()
        if not relevant:
            self.counters["nlp/irrelevant"] += 1
            dropped = len([m for m in an.mentions if m.journey]) + len(an.costs) + len(an.bribes)
            self.counters["nlp/dropped/facts_in_irrelevant"] += dropped
            return Extraction(unit.post_id, unit.unit_id, False, relevance_score=an.relevance_score, provenance=prov)
        self.counters["nlp/relevant"] += 1
        text = unit.text

        def ev(s: int, e: int) -> Evidence:
            secs = unit.seconds_for(s, e) if unit.segments else None
            return Evidence(unit.unit_id, unit.kind, s, e, text[s:e], *(secs or (None, None)))

        journey = [m for m in an.mentions if m.journey]
        order = list(dict.fromkeys([*an.route, *an.countries]))
        countries = tuple(
            CountryMention(iso, tuple(ev(m.start, m.end) for m in journey if m.iso == iso)) for iso in order
        )
        places: dict[str, list] = {}
        for m in journey:
            if m.place is not None:
                places.setdefault(m.place.canonical, []).append(m)
        place_recs = tuple(
            Place(text[ms[0].start : ms[0].end], canon, ms[0].place.country, tuple(ev(m.start, m.end) for m in ms))
            for canon, ms in places.items()
        )
        costs = tuple(
            Cost(c.amount.value, c.amount.currency, text[c.amount.start : c.amount.end], c.kind, (ev(c.amount.start, c.amount.end),))
            for c in an.costs
            if c.amount.currency
        )
        bribes = tuple(
            Bribe(
                text[b.start : b.end],
                b.payer,  # type: ignore[arg-type]
                b.country,
                b.amount.value if b.amount else None,
                b.amount.currency if b.amount else None,
                (ev(b.start, b.end),),
            )
            for b in an.bribes
        )
        self.counters["nlp/facts/countries"] += len(countries)
        self.counters["nlp/facts/places"] += len(place_recs)
        self.counters["nlp/facts/costs"] += len(costs)
        self.counters["nlp/facts/bribes"] += len(bribes)
        return Extraction(
            post_id=unit.post_id,
            unit_id=unit.unit_id,
            relevant=True,
            countries=countries,
            route=tuple(an.route),
            places=place_recs,
            costs=costs,
            bribes=bribes,
            relevance_score=an.relevance_score,
            provenance=prov,
        )


# --- merging -------------------------------------------------------------------------------------


def _merge_routes(routes: Iterable[tuple[str, ...]]) -> list[str]:
    routes = sorted((r for r in routes if r), key=len, reverse=True)
    if not routes:
        return []
    merged = list(routes[0])
    for r in routes[1:]:
        for i, iso in enumerate(r):
            if iso in merged:
                continue
            prev = next((r[j] for j in range(i - 1, -1, -1) if r[j] in merged), None)
            merged.insert(merged.index(prev) + 1 if prev else 0, iso)
    return merged


def _add_evidence(old: tuple[Evidence, ...], new: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    return old + tuple(e for e in new if e not in old)


def merge(post_id: str, extractions: list[Extraction]) -> Extraction:
    """Facts of several units of one post as one Extraction (unit_id ""), all evidence kept.

    The same fact found in two units (a price said in the video and written in the caption) is one
    fact with the evidence of both; two equal prices within one unit stay two facts.
    """
    relevant = any(e.relevant for e in extractions)
    prov = next((e.provenance for e in extractions if e.provenance), None)
    best = max((e.relevance_score for e in extractions), default=0.0)
    if not relevant:
        return Extraction(post_id, "", False, relevance_score=best, provenance=prov)
    route = _merge_routes(e.route for e in extractions if e.relevant)
    countries: dict[str, tuple[Evidence, ...]] = {}
    places: dict[str, Place] = {}
    costs: list[tuple[Cost, set[str]]] = []
    bribes: list[tuple[Bribe, set[str]]] = []
    for e in extractions:
        if not e.relevant:
            continue
        for c in e.countries:
            countries[c.iso] = _add_evidence(countries.get(c.iso, ()), c.evidence)
        for p in e.places:
            old = places.get(p.canonical)
            places[p.canonical] = p if old is None else Place(old.name, old.canonical, old.country, _add_evidence(old.evidence, p.evidence))
        for c in e.costs:
            twin = next((i for i, (o, units) in enumerate(costs) if (o.amount, o.currency) == (c.amount, c.currency) and e.unit_id not in units), None)
            if twin is None:
                costs.append((c, {e.unit_id}))
            else:
                o, units = costs[twin]
                kind = o.kind if o.kind != "other" else c.kind
                costs[twin] = (Cost(o.amount, o.currency, o.text, kind, _add_evidence(o.evidence, c.evidence)), units | {e.unit_id})
        for b in e.bribes:
            key = (b.payer_context, b.country, b.amount, b.currency)
            twin = next(
                (i for i, (o, units) in enumerate(bribes) if (o.payer_context, o.country, o.amount, o.currency) == key and e.unit_id not in units),
                None,
            )
            if twin is None:
                bribes.append((b, {e.unit_id}))
            else:
                o, units = bribes[twin]
                bribes[twin] = (Bribe(o.text, o.payer_context, o.country, o.amount, o.currency, _add_evidence(o.evidence, b.evidence)), units | {e.unit_id})
    order = list(dict.fromkeys([*route, *countries]))
    return Extraction(
        post_id=post_id,
        unit_id="",
        relevant=True,
        countries=tuple(CountryMention(iso, countries.get(iso, ())) for iso in order),
        route=tuple(route),
        places=tuple(places.values()),
        costs=tuple(c for c, _ in costs),
        bribes=tuple(b for b, _ in bribes),
        relevance_score=best,
        provenance=prov,
    )

