"""Windows over spans in text order, found by bisection instead of a scan of every span.

In: a sequence of items with `start` / `end` (route, cost or bribe `Hit`s, `Amount`s, `Mention`s),
normally in text order. Out: the items inside a character window, in the sequence's own order, so a
step that asked "which cues lie between these two countries?" gets the same answer as a full scan
at a cost that grows with the window, not the text (dense 100 KB texts were quadratic).
Never reorders or drops an item: when the sequence is not in start order it falls back to a scan.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar


class _Span(Protocol):
    start: int
    end: int


T = TypeVar("T", bound=_Span)


_SCAN = 16  # up to this many items a plain scan is cheaper than building the index (most posts)


class Spans(Generic[T]):
    """`items` (in text order) with the questions the extraction steps ask of a window."""

    __slots__ = ("_longest", "_ordered", "_starts", "items")

    def __init__(self, items: Sequence[T]):
        self.items = items
        self._starts: list[int] | None = None  # built on the first look-up of a long list
        self._ordered = False
        self._longest = 0

    def __len__(self) -> int:
        return len(self.items)

    def _build(self) -> list[int]:
        starts = self._starts = [x.start for x in self.items]
        self._ordered = _nondecreasing(starts)
        self._longest = max((x.end - x.start for x in self.items), default=0)
        return starts

    def index_range(self, lo: int, hi: int) -> tuple[int, int]:
        """(i, j): every item with lo <= start <= hi is in items[i:j] (all items when out of order)."""
        n = len(self.items)
        if n <= _SCAN:
            return 0, n
        starts = self._starts if self._starts is not None else self._build()
        if not self._ordered:
            return 0, n
        return bisect_left(starts, lo), bisect_right(starts, hi)

    def _range(self, lo: int, hi: int) -> Sequence[T]:
        """Items whose start may be in [lo, hi] (a superset of what a caller keeps), in order."""
        i, j = self.index_range(lo, hi)
        return self.items[i:j]

    @property
    def longest(self) -> int:
        """The longest item's length (0 for a short list, whose look-ups scan every item anyway)."""
        if self._starts is None and len(self.items) > _SCAN:
            self._build()
        return self._longest

    def starting(self, lo: int, hi: int) -> list[T]:
        """Items with lo <= start < hi."""
        items = self.items if len(self.items) <= _SCAN else self._range(lo, hi - 1)
        return [x for x in items if lo <= x.start < hi]

    def any_starting(self, lo: int, hi: int) -> bool:
        """Is there an item with lo <= start < hi?"""
        items = self.items if len(self.items) <= _SCAN else self._range(lo, hi - 1)
        return any(lo <= x.start < hi for x in items)

    def inside(self, lo: int, hi: int) -> list[T]:
        """Items with lo <= start and end <= hi."""
        items = self.items if len(self.items) <= _SCAN else self._range(lo, hi)
        return [x for x in items if lo <= x.start and x.end <= hi]

    def any_inside(self, lo: int, hi: int) -> bool:
        items = self.items if len(self.items) <= _SCAN else self._range(lo, hi)
        return any(lo <= x.start and x.end <= hi for x in items)

    def first_start(self, pos: int, default: int) -> int:
        """The smallest start >= pos, or `default` when there is none."""
        i, j = self.index_range(pos, pos)
        if (i, j) == (0, len(self.items)):  # a scan
            return min((x.start for x in self.items if x.start >= pos), default=default)
        return self.items[i].start if i < len(self.items) else default

    def ending(self, lo: int, hi: int) -> list[T]:
        """Items with lo <= end <= hi."""
        return [x for x in self._range(lo - self.longest, hi) if lo <= x.end <= hi]


def _nondecreasing(xs: list[int]) -> bool:
    return all(a <= b for a, b in zip(xs, xs[1:], strict=False))


class Bounds:
    """(start, end) pairs in text order (sentences, clauses) and the ones overlapping a window."""

    __slots__ = ("_ends", "_ordered", "_starts", "spans")

    def __init__(self, spans: Sequence[tuple[int, int]]):
        self.spans = spans
        self._starts: list[int] | None = None  # built on the first look-up of a long list
        self._ends: list[int] = []
        self._ordered = False

    def overlapping(self, lo: int, hi: int) -> range:
        """Indices that may hold a span with end > lo and start < hi (all of them when out of order)."""
        n = len(self.spans)
        if n <= _SCAN:
            return range(n)
        if self._starts is None:
            self._starts = [a for a, _ in self.spans]
            self._ends = [b for _, b in self.spans]
            self._ordered = _nondecreasing(self._starts) and _nondecreasing(self._ends)
        if not self._ordered:
            return range(n)
        return range(bisect_right(self._ends, lo), bisect_left(self._starts, hi))


class KindIndex:
    """Hits by payload kind, each a `Spans` in the hits' own order (a hit with two kinds is in both)."""

    __slots__ = ("_by", "_hits")

    def __init__(self, hits: Sequence[Any]):
        self._hits = hits
        self._by: dict[Any, Spans[Any]] = {}

    def __getitem__(self, kind: str) -> Spans[Any]:
        got = self._by.get(kind)
        if got is None:
            got = self._by[kind] = Spans([h for h in self._hits if any(p[0] == kind for p in h.payloads)])
        return got

    def any_of(self, kinds: tuple[str, ...]) -> Spans[Any]:
        """Hits with any of `kinds`, in the hits' order."""
        got = self._by.get(kinds)
        if got is None:
            got = self._by[kinds] = Spans([h for h in self._hits if any(p[0] in kinds for p in h.payloads)])
        return got
