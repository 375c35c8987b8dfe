"""The index stage's door: `Index.upsert(docs)` / `Index.search(query)` / `Index.trends(...)`.

In: `IndexDoc`s built from the catalog (a post, its text units, its extraction).  Out: search hits
and trend counts. The index is a projection of the catalog: `rebuild` recreates it at any time.
Backends register by versioned name ("sqlite.v1", "elasticsearch.v1"); `index.build` builds the configured one.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from index.query import parse, positive_terms
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.records import SearchHit, TextUnit

DEFAULT_MIN_CONFIDENCE = 0.5  # extract.aggregate_min_confidence's default: the facts aggregates count
STATES = ("available", "deleted", "private", "geo_blocked", "account_gone")  # what `routewatch recheck` records
UNCHECKED = "unchecked"  # a post never rechecked (the --state value)


@dataclass(frozen=True, slots=True)
class FactView:
    """A post's facts as one confidence threshold sees them (what filters and trends read)."""

    countries: tuple[str, ...] = ()
    route: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    costs: tuple[tuple[float, str, str], ...] = ()  # (amount, currency, kind)
    has_bribe: bool = False


@dataclass(frozen=True, slots=True)
class PostFacts:
    """Every fact of a post with its confidence (the catalog's facts JSON), whether the post is judged
    relevant or not. `at(m)` leaves out what is below m the way nlp.confidence.for_aggregates does: a
    country below m leaves the route too, and its places with it."""

    countries: tuple[tuple[str, float], ...] = ()  # (iso, confidence)
    route: tuple[str, ...] = ()
    places: tuple[tuple[str, str, float], ...] = ()  # (canonical, country, confidence)
    costs: tuple[tuple[float, str, str, float], ...] = ()  # (amount, currency, kind, confidence)
    bribes: tuple[float, ...] = ()  # the confidence of each bribe

    @classmethod
    def from_json(cls, facts: dict[str, Any]) -> PostFacts:
        """From a stored facts JSON (asdict of an Extraction); items of a wrong shape are skipped."""
        def items(key: str) -> list[dict[str, Any]]:
            v = facts.get(key) if isinstance(facts, dict) else None
            return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []

        def conf(x: dict[str, Any]) -> float:
            c = x.get("confidence", 1.0)
            return float(c) if isinstance(c, int | float) and not isinstance(c, bool) else 1.0

        best: dict[str, float] = {}
        for c in items("countries"):
            if isinstance(c.get("iso"), str):
                best[c["iso"]] = max(best.get(c["iso"], 0.0), conf(c))
        route = facts.get("route") if isinstance(facts, dict) else None
        return cls(
            countries=tuple(best.items()),
            route=tuple(x for x in route if isinstance(x, str)) if isinstance(route, list) else (),
            places=tuple((p["canonical"], str(p.get("country") or ""), conf(p)) for p in items("places")
                         if isinstance(p.get("canonical"), str)),
            costs=tuple((float(c["amount"]), str(c["currency"]), str(c.get("kind") or ""), conf(c))
                        for c in items("costs") if isinstance(c.get("amount"), int | float) and c.get("currency")),
            bribes=tuple(conf(b) for b in items("bribes")),
        )

    @classmethod
    def certain(cls, d: IndexDoc) -> PostFacts:
        """The facts of a document that carries none with confidences: each of its fields at 1.0."""
        return cls(countries=tuple((c, 1.0) for c in dict.fromkeys(d.countries)), route=d.route,
                   places=tuple((p, "", 1.0) for p in d.places), costs=tuple((*c, 1.0) for c in d.costs),
                   bribes=(1.0,) if d.has_bribe else ())

    def conf(self) -> dict[str, float]:
        return dict(self.countries)

    def at(self, m: float) -> FactView:
        conf = self.conf()
        low = {iso for iso, c in conf.items() if c < m}
        return FactView(
            countries=tuple(iso for iso, _c in self.countries if iso not in low),
            route=tuple(iso for iso in self.route if iso not in low),
            places=tuple(p for p, country, c in self.places if c >= m and country not in low),
            costs=tuple((a, cur, k) for a, cur, k, c in self.costs if c >= m),
            has_bribe=any(c >= m for c in self.bribes))

    def leg_spans(self) -> list[tuple[str, float, float]]:
        """Each leg the route can have with the confidences at which it is there: (leg, lo, hi) means the
        leg is in the route at threshold m when lo < m <= hi (both ends at least m, every country between
        them below m). A route country without a confidence counts as certain."""
        conf = self.conf()
        cs = [conf.get(iso, 1.0) for iso in self.route]
        out = []
        for i in range(len(cs)):
            between = -1.0
            for j in range(i + 1, len(cs)):
                hi = min(cs[i], cs[j])
                if hi > between:
                    out.append((f"{self.route[i]}>{self.route[j]}", between, hi))
                between = max(between, cs[j])
                if between >= cs[i]:
                    break  # a later leg from i would need everything up to j below m, but cs[j] >= cs[i]
        return out


def doc_facts(d: IndexDoc) -> PostFacts:
    return d.facts if d.facts is not None else PostFacts.certain(d)


def facts_gold(facts: dict[str, Any], min_confidence: float) -> dict[str, Any]:
    """A stored facts JSON as the gold schema (SPEC §5) at `min_confidence`, relevant or not: what the
    aggregates read when a person asks for another threshold or for every post."""
    m = min_confidence

    def items(key: str) -> list[dict[str, Any]]:
        v = facts.get(key)
        return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []

    def ok(x: dict[str, Any]) -> bool:
        c = x.get("confidence", 1.0)
        return not isinstance(c, int | float) or c >= m

    low = {c.get("iso") for c in items("countries") if not ok(c)}
    low -= {c.get("iso") for c in items("countries") if ok(c)}  # told twice: the surer mention counts
    route = facts.get("route") if isinstance(facts.get("route"), list) else []
    return {
        "id": facts.get("post_id", ""), "relevant": bool(facts.get("relevant")),
        "countries": [c["iso"] for c in items("countries") if c.get("iso") not in low],
        "route": [iso for iso in route if iso not in low],
        "places": [{"name": p.get("name"), "canonical": p.get("canonical"), "country": p.get("country")}
                   for p in items("places") if ok(p) and p.get("country") not in low],
        "costs": [{"amount": c.get("amount"), "currency": c.get("currency"), "text": c.get("text"),
                   "kind": c.get("kind")} for c in items("costs") if ok(c)],
        "bribes": [{"text": b.get("text"), "payer_context": b.get("payer_context"), "country": b.get("country"),
                    "amount": b.get("amount"), "currency": b.get("currency")} for b in items("bribes") if ok(b)],
    }


@dataclass(frozen=True, slots=True)
class IndexDoc:
    post_id: str
    platform: str
    url: str
    posted_at: str
    captured_at: str
    lang: str
    source: str
    units: tuple[TextUnit, ...]
    relevant: bool = False
    countries: tuple[str, ...] = ()
    route: tuple[str, ...] = ()
    has_bribe: bool = False
    costs: tuple[tuple[float, str, str], ...] = ()  # (amount, currency, kind)
    places: tuple[str, ...] = ()
    facts: PostFacts | None = None  # every fact with its confidence; None: the fields above, each at 1.0
    state: str = ""  # the latest `routewatch recheck` state ("" never rechecked)


@dataclass(frozen=True, slots=True)
class Query:
    text: str = ""
    country: str | None = None
    route: tuple[str, ...] = ()
    platform: str | None = None
    lang: str | None = None
    since: str | None = None  # YYYY-MM-DD
    until: str | None = None
    has_bribe: bool = False
    min_cost: float | None = None
    max_cost: float | None = None
    currency: str | None = None
    limit: int = 20
    offset: int = 0  # hits to skip (paging), after sorting
    sort: str = "relevance"  # or "date": newest first (posted_at, then post id)
    # facts below this confidence match no filter and count in no trend; None: the index's default
    # (extract.aggregate_min_confidence, whose facts the index keeps ready)
    min_confidence: float | None = None
    # True: only posts judged relevant; False: every post (with its facts); None: the call's default
    # (search: every post; trends: relevant posts only)
    relevant: bool | None = None
    state: str | None = None  # a recheck state (STATES) or UNCHECKED


class SearchHits(list):  # noqa: FURB189 - a list with two attributes: every caller of search() keeps working
    """The hits of a search, best first, and how many posts match: `total` exactly (relation "eq") or at
    least (relation "gte": the backend stopped counting, like Elasticsearch past 10,000)."""

    def __init__(self, hits: Iterable[SearchHit] = (), *, total: int | None = None, relation: str = "eq"):
        super().__init__(hits)
        self.total = len(self) if total is None else total
        self.relation = relation


@dataclass(frozen=True, slots=True)
class UpsertResult:
    indexed: int = 0
    failed: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)  # (post_id, code, reason)


class Index(ABC):
    name: str

    @abstractmethod
    def upsert(self, docs: Iterable[IndexDoc]) -> UpsertResult: ...

    @abstractmethod
    def search(self, q: Query) -> SearchHits: ...

    @abstractmethod
    def trends(self, field: str, by: str = "week", q: Query | None = None) -> list[dict[str, Any]]: ...

    @abstractmethod
    def clear(self) -> None: ...

    def rebuild(self, docs: Iterable[IndexDoc]) -> UpsertResult:
        """Replace the whole index with `docs`. Backends build the new index aside and swap it in, so a
        reader sees the old or the new index, never a partial one, and a failure keeps the old one."""
        self.clear()
        return self.upsert(docs)

    @abstractmethod
    def count(self) -> int: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


# ---- query text shared by the backends -------------------------------------------------------------
SORTS = ("relevance", "date")


def parse_query_text(text: str) -> list[str]:
    """The words and phrases of a query that make a text match (not those under NOT), for marking
    matches; raises E505-E508 on malformed syntax (the language is in index.query)."""
    return positive_terms(parse(text))


def check_paging(q: Query) -> None:
    if q.sort not in SORTS:
        raise RouteWatchError(Code.E903, f"--sort must be relevance or date, not {q.sort!r}")
    if q.offset < 0 or q.offset > 10_000:
        raise RouteWatchError(Code.E903, f"--offset must be between 0 and 10000, got {q.offset}")
    if q.limit < 1 or q.limit > 1000:
        raise RouteWatchError(Code.E903, f"--limit must be between 1 and 1000, got {q.limit}")


def threshold(q: Query, default: float) -> float:
    """The confidence a query's facts must reach (its own or the index's default), its --state checked."""
    m = default if q.min_confidence is None else float(q.min_confidence)
    if not 0.0 <= m <= 1.0:
        raise RouteWatchError(Code.E903, f"--min-confidence must be between 0 and 1, got {m}")
    if q.state and q.state not in (*STATES, UNCHECKED):
        raise RouteWatchError(Code.E903, f"--state must be one of {', '.join((*STATES, UNCHECKED))}, not {q.state!r}")
    return m


def parse_route(spec: str) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for c in re.split(r"[>,\s]+", spec or "") if c.strip())
    for c in codes:
        if not re.fullmatch(r"[A-Z]{2}", c):
            raise RouteWatchError(Code.E903, f"route step {c!r} is not an ISO 3166-1 alpha-2 code (e.g. EC>CO>PA)")
    return codes


def parse_date(s: str | None, flag: str) -> str | None:
    if not s:
        return None
    try:
        return date.fromisoformat(s).isoformat()
    except ValueError as e:
        raise RouteWatchError(Code.E903, f"{flag} expects a date like 2026-03-01, got {s!r}") from e


def period_of(posted_at: str, by: str) -> str:
    if not posted_at:
        return "unknown"
    dt = datetime.fromisoformat(posted_at.replace("Z", "+00:00"))
    if by == "day":
        return dt.strftime("%Y-%m-%d")
    if by == "month":
        return dt.strftime("%Y-%m")
    y, w, _ = dt.isocalendar()
    return f"{y}-W{w:02d}"


def legs(route: tuple[str, ...] | list[str]) -> list[str]:
    return [f"{a}>{b}" for a, b in zip(route, route[1:], strict=False)]
