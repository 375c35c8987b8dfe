"""The window look-ups the extraction steps use (nlp/spans.py) answer exactly as a scan of every span,
and a dense text costs in proportion to its length."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import pytest

from nlp.spans import Bounds, KindIndex, Spans
from routewatch.core.records import TextUnit


@dataclass(frozen=True)
class S:
    start: int
    end: int
    payloads: tuple = ()


def _random_spans(rnd: random.Random, n: int, ordered: bool) -> list[S]:
    out = []
    for _ in range(n):
        a = rnd.randrange(0, 200)
        out.append(S(a, a + rnd.randrange(0, 9), tuple((k, "") for k in rnd.sample("abc", rnd.randrange(0, 3)))))
    return sorted(out, key=lambda s: s.start) if ordered else out


@pytest.mark.parametrize("ordered", [True, False])
def test_windows_equal_a_full_scan(ordered):
    rnd = random.Random(11)
    for _ in range(200):
        items = _random_spans(rnd, rnd.randrange(0, 40), ordered)
        sp = Spans(items)
        kinds = KindIndex(items)
        for _ in range(20):
            lo = rnd.randrange(-5, 210)
            hi = lo + rnd.randrange(0, 40)
            assert sp.starting(lo, hi) == [x for x in items if lo <= x.start < hi]
            assert sp.inside(lo, hi) == [x for x in items if lo <= x.start and x.end <= hi]
            assert sp.any_inside(lo, hi) == any(lo <= x.start and x.end <= hi for x in items)
            assert Spans(items).ending(lo, hi) == [x for x in items if lo <= x.end <= hi]  # a fresh index
            assert sp.first_start(lo, -1) == min((x.start for x in items if x.start >= lo), default=-1)
            i, j = sp.index_range(lo, hi)
            assert [x for x in items[i:j] if lo <= x.start <= hi] == [x for x in items if lo <= x.start <= hi]
            assert kinds["a"].inside(lo, hi) == [x for x in items if lo <= x.start and x.end <= hi
                                                 and any(p[0] == "a" for p in x.payloads)]
            assert kinds.any_of(("b", "c")).starting(lo, hi) == [
                x for x in items if lo <= x.start < hi and any(p[0] in ("b", "c") for p in x.payloads)]


def test_bounds_overlapping_covers_every_overlapping_span():
    spans = [(0, 5), (5, 9), (9, 9), (9, 20), (20, 31)]
    b = Bounds(spans)
    for lo in range(-2, 33):
        for hi in range(lo, 35):
            got = [spans[i] for i in b.overlapping(lo, hi) if not (spans[i][1] <= lo or spans[i][0] >= hi)]
            assert got == [s for s in spans if not (s[1] <= lo or s[0] >= hi)]


def test_dense_text_extraction_grows_linearly(extractor):
    """A route-and-bribe sentence repeated: 5x the text may cost at most ~10x (it was ~25x: quadratic)."""
    sentence = "我们从厄瓜多尔坐大巴到哥伦比亚，向导费500美元，墨西哥警察要了200美元。"

    def cpu(chars: int) -> float:
        unit = TextUnit(unit_id="d:caption", post_id="d", kind="caption", text=(sentence * (chars // len(sentence) + 1))[:chars])
        t0 = time.process_time()
        ex = extractor.extract(unit)
        assert len(ex.bribes) >= chars // len(sentence) // 2  # one bribe told per sentence
        return time.process_time() - t0

    cpu(2000)  # warm-up
    small = min(cpu(8000) for _ in range(2))
    big = min(cpu(40000) for _ in range(2))
    assert big < 10 * small + 0.2, f"8 KB took {small:.2f} s CPU, 40 KB {big:.2f} s"
