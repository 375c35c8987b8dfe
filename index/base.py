"""The index stage's door: `Index.upsert(docs)` / `Index.search(query)` / `Index.trends(...)`.

In: `IndexDoc`s built from the catalog (a post, its text units, its extraction).  Out: search hits
and trend counts. The index is a projection of the catalog: `rebuild` recreates it at any time.
Backends are found by versioned name ("sqlite.v1", "elasticsearch.v1").
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from index.query import parse, positive_terms
from routewatch.errors import Code, RouteWatchError
from routewatch.records import SearchHit, TextUnit


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


def build_index(settings: Any, catalog_path: Any, *, read_only: bool = False) -> Index:
    """The configured backend, by name (CONVENTIONS §3). Readers (search, trends, web) pass
    read_only=True: they never create or migrate an index."""
    backend = settings.index.backend
    if backend == "sqlite":
        from index.sqlite_fts import SqliteIndex

        return SqliteIndex(catalog_path, read_only=read_only)
    if backend == "elasticsearch":
        from index.elastic import ElasticIndex  # type: ignore[import-not-found]

        return ElasticIndex(settings.index)
    raise RouteWatchError(Code.E902, f"unknown index backend {backend!r}: use sqlite or elasticsearch")
