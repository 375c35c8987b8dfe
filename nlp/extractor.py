"""The extractor: one text unit in, one `Extraction` out; and merging the units of one post.

In: `TextUnit`s (caption, subtitle, transcript) and `ExtractSettings`. Out: frozen
`routewatch.core.records.Extraction`s whose every fact carries `Evidence` (unit, character span, exact
text, and audio seconds for timed units) and a confidence with its reasons (nlp.confidence). Facts are
kept for irrelevant texts too; their gold schema (what aggregates read) is empty. Must never return a
span that is not an exact slice of the unit text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from spacy.language import Language

from routewatch.core.errors import Code, NotConfigured, RouteWatchError
from routewatch.core.records import (
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
from .confidence import (
    AMBIGUOUS_NAME,
    CUE_ONLY_BRIBE,
    DEFAULT_CURRENCY,
    SOUNDS_LIKE,
    corroborate,
    fact_confidence,
)
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
        """Every fact of the unit, relevant or not: relevance decides whether aggregates and the gold
        schema see them (`Extraction.to_gold`), never whether the catalog keeps them."""
        prov = self.provenance()
        text = unit.text

        def ev(s: int, e: int) -> Evidence:
            secs = unit.seconds_for(s, e) if unit.segments else None
            return Evidence(unit.unit_id, unit.kind, s, e, text[s:e], *(secs or (None, None)))

        def mention_conf(ms: list) -> tuple[float, tuple[str, ...]]:
            best: tuple[float, tuple[str, ...]] = (0.0, ())
            for m in ms:
                rule = [(SOUNDS_LIKE, f"sounds like {m.sounds_like}")] if m.sounds_like else []
                if m.place is not None and m.place.requires:
                    rule.append((AMBIGUOUS_NAME, "ambiguous name, confirmed by context"))
                got = fact_confidence(unit, m.start, m.end, rule)
                if got[0] > best[0]:
                    best = got
            return best

        journey = [m for m in an.mentions if m.journey]
        order = list(dict.fromkeys([*an.route, *an.countries]))
        countries = []
        for iso in order:
            ms = [m for m in journey if m.iso == iso]
            conf, why = mention_conf(ms)
            countries.append(CountryMention(iso, tuple(ev(m.start, m.end) for m in ms), conf, why))
        places: dict[str, list] = {}
        for m in journey:
            if m.place is not None:
                places.setdefault(m.place.canonical, []).append(m)
        place_recs = tuple(
            Place(text[ms[0].start : ms[0].end], canon, ms[0].place.country, tuple(ev(m.start, m.end) for m in ms),
                  *mention_conf(ms))
            for canon, ms in places.items()
        )
        costs = []
        for c in an.costs:
            if not c.amount.currency:
                continue
            a = c.amount
            rule = [] if a.explicit else [(DEFAULT_CURRENCY, f"currency {a.currency} by default")]
            if a.sounds_like:
                rule.append((SOUNDS_LIKE, f"currency word sounds like {a.sounds_like}"))
            costs.append(Cost(a.value, a.currency, text[a.start : a.end], c.kind, (ev(a.start, a.end),),
                              *fact_confidence(unit, a.start, a.end, rule)))
        bribes = []
        for b in an.bribes:
            rule = [] if b.amount else [(CUE_ONLY_BRIBE, "no amount written")]
            bribes.append(Bribe(
                text[b.start : b.end],
                b.payer,  # type: ignore[arg-type]
                b.country,
                b.amount.value if b.amount else None,
                b.amount.currency if b.amount else None,
                (ev(b.start, b.end),),
                *fact_confidence(unit, b.start, b.end, rule),
            ))
        n_facts = len(countries) + len(place_recs) + len(costs) + len(bribes)
        if relevant:
            self.counters["nlp/relevant"] += 1
            self.counters["nlp/facts/countries"] += len(countries)
            self.counters["nlp/facts/places"] += len(place_recs)
            self.counters["nlp/facts/costs"] += len(costs)
            self.counters["nlp/facts/bribes"] += len(bribes)
        else:
            self.counters["nlp/irrelevant"] += 1
            # kept in the record and the catalog, left out of the gold schema and the aggregates
            self.counters["nlp/dropped/facts_in_irrelevant"] += n_facts
        return Extraction(
            post_id=unit.post_id,
            unit_id=unit.unit_id,
            relevant=relevant,
            countries=tuple(countries),
            route=tuple(an.route),
            places=place_recs,
            costs=tuple(costs),
            bribes=tuple(bribes),
            relevance_score=an.relevance_score,
            provenance=prov,
            relevance_reasons=tuple(an.relevance_reasons),
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


def _corroborated(confs: dict[str, float], why: tuple[str, ...]) -> tuple[float, tuple[str, ...]]:
    """A fact's confidence over the units that told it (unit id -> that unit's confidence)."""
    conf, note = corroborate(list(confs.values()), len(confs))
    return conf, (*why, note) if note else why


def merge(post_id: str, extractions: list[Extraction]) -> Extraction:
    """Facts of several units of one post as one Extraction (unit_id ""), all evidence kept.

    The same fact found in two units (a price said in the video and written in the caption) is one
    fact with the evidence of both, and a higher confidence; two equal prices within one unit stay two
    facts. Facts of irrelevant units are kept (the post's relevance decides what aggregates see).
    """
    relevant = any(e.relevant for e in extractions)
    prov = next((e.provenance for e in extractions if e.provenance), None)
    best = max((e.relevance_score for e in extractions), default=0.0)
    top = max(extractions, key=lambda e: (e.relevant, e.relevance_score), default=None)
    reasons = top.relevance_reasons if top is not None else ()
    # A relevant post takes the facts of its relevant units; an irrelevant one keeps all (out of aggregates).
    used = [e for e in extractions if e.relevant] if relevant else extractions
    route = _merge_routes(e.route for e in used)
    countries: dict[str, tuple[tuple[Evidence, ...], dict[str, float], tuple[str, ...]]] = {}
    places: dict[str, tuple[Place, dict[str, float]]] = {}
    costs: list[tuple[Cost, dict[str, float]]] = []
    bribes: list[tuple[Bribe, dict[str, float]]] = []
    for e in used:
        for c in e.countries:
            old_ev, confs, why = countries.get(c.iso, ((), {}, c.why))
            if c.confidence > max(confs.values(), default=0.0):
                why = c.why
            confs = {**confs, e.unit_id: max(confs.get(e.unit_id, 0.0), c.confidence)}
            countries[c.iso] = (_add_evidence(old_ev, c.evidence), confs, why)
        for p in e.places:
            got = places.get(p.canonical)
            if got is None:
                places[p.canonical] = (p, {e.unit_id: p.confidence})
            else:
                old, confs = got
                keep = old if old.confidence >= p.confidence else p
                places[p.canonical] = (
                    Place(old.name, old.canonical, old.country, _add_evidence(old.evidence, p.evidence), keep.confidence, keep.why),
                    {**confs, e.unit_id: max(confs.get(e.unit_id, 0.0), p.confidence)},
                )
        for c in e.costs:
            twin = next((i for i, (o, units) in enumerate(costs) if (o.amount, o.currency) == (c.amount, c.currency) and e.unit_id not in units), None)
            if twin is None:
                costs.append((c, {e.unit_id: c.confidence}))
            else:
                o, units = costs[twin]
                kind = o.kind if o.kind != "other" else c.kind
                costs[twin] = (Cost(o.amount, o.currency, o.text, kind, _add_evidence(o.evidence, c.evidence), o.confidence, o.why),
                               {**units, e.unit_id: c.confidence})
        for b in e.bribes:
            key = (b.payer_context, b.country, b.amount, b.currency)
            twin = next(
                (i for i, (o, units) in enumerate(bribes) if (o.payer_context, o.country, o.amount, o.currency) == key and e.unit_id not in units),
                None,
            )
            if twin is None:
                bribes.append((b, {e.unit_id: b.confidence}))
            else:
                o, units = bribes[twin]
                bribes[twin] = (Bribe(o.text, o.payer_context, o.country, o.amount, o.currency, _add_evidence(o.evidence, b.evidence), o.confidence, o.why),
                                {**units, e.unit_id: b.confidence})
    order = list(dict.fromkeys([*route, *countries]))
    country_recs = []
    for iso in order:
        evs, confs, why = countries.get(iso, ((), {}, ()))
        country_recs.append(CountryMention(iso, evs, *_corroborated(confs, why)))
    place_recs = [Place(p.name, p.canonical, p.country, p.evidence, *_corroborated(confs, p.why)) for p, confs in places.values()]
    cost_recs = [Cost(c.amount, c.currency, c.text, c.kind, c.evidence, *_corroborated(u, c.why)) for c, u in costs]
    bribe_recs = [Bribe(b.text, b.payer_context, b.country, b.amount, b.currency, b.evidence, *_corroborated(u, b.why)) for b, u in bribes]
    return Extraction(
        post_id=post_id,
        unit_id="",
        relevant=relevant,
        countries=tuple(country_recs),
        route=tuple(route),
        places=tuple(place_recs),
        costs=tuple(cost_recs),
        bribes=tuple(bribe_recs),
        relevance_score=best,
        provenance=prov,
        relevance_reasons=reasons,
    )
