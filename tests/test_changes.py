"""Change detection and leg prices on timeline corpora built through the real catalog and extractor.

The changing corpus: 12 weeks (2026-W30 … 2026-W41) of relevant posts about two legs, where a term (蛇头)
appears from week 5 (W35), a new place (Ipiales, with the leg EC → CO) from week 7 (W37), and the Necoclí
boat price moves from 40 to 85 USD in week 8 (W38). The steady corpus has the same posts and no change."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from routewatch.changes import (
    PostFacts,
    _significant,
    all_week_changes,
    hyper_cdf,
    hyper_sf,
    leg_prices,
    price_band,
    share_change,
)
from routewatch.core.catalog import Catalog
from tests.corpus_helpers import add_post

WEEKS = [f"2026-W{30 + i}" for i in range(12)]
QUITO = "从基多坐大巴到图尔坎，车票十五美金。#走线"
QUITO_GUIDE = "从基多坐大巴到图尔坎，车票十五美金，蛇头带路。#走线"
BOAT = "内科克利坐船到卡普尔加纳，船票{}美金。#走线"
IPIALES = "从图尔坎打车到伊皮亚莱斯，一个人十美金。#走线"
UNTIED = "从基多坐大巴到图尔坎。路上一共花了一百美金。#走线"  # the 100 USD is in a sentence with no place


def _plan(change: bool) -> list[tuple[str, str]]:
    """(posted_at, text) for every post of the corpus."""
    out = []
    for i in range(len(WEEKS)):
        monday = date.fromisocalendar(2026, 30 + i, 1)
        texts = [QUITO_GUIDE if change and i >= 5 else QUITO] * (6, 5, 7)[i % 3]
        texts += [BOAT.format("八十五" if change and i >= 8 else "四十")] * 6
        texts += [UNTIED]
        if change and i >= 7:
            texts += [IPIALES] * 4
        for k, t in enumerate(texts):
            out.append(((monday + timedelta(days=k % 6)).isoformat() + f"T{8 + k % 12:02d}:{k:02d}:00Z", t))
    return out


@pytest.fixture(scope="module")
def extractor():
    import nlp

    return nlp.build_extractor()


def _catalog(path, extractor, change):
    cat = Catalog(path)
    for j, (posted, text) in enumerate(_plan(change)):
        add_post(cat, extractor, platform="telegram", platform_id=f"chan/{j}", caption=text, posted_at=posted)
    return cat


@pytest.fixture(scope="module")
def changing(tmp_path_factory, extractor):
    cat = _catalog(tmp_path_factory.mktemp("changing") / "catalog.sqlite", extractor, True)
    yield cat
    cat.close()


@pytest.fixture(scope="module")
def steady(tmp_path_factory, extractor):
    cat = _catalog(tmp_path_factory.mktemp("steady") / "catalog.sqlite", extractor, False)
    yield cat
    cat.close()


def test_hypergeometric_tails_are_exact():
    # 10 posts, 4 with the feature, 5 of them this week: P(3 or 4 this week) = (C(4,3)C(6,2) + C(4,4)C(6,1)) / C(10,5)
    assert hyper_sf(3, 10, 4, 5) == pytest.approx((4 * 15 + 6) / 252)
    assert hyper_cdf(0, 10, 4, 5) == pytest.approx(6 / 252)
    assert hyper_sf(0, 10, 4, 5) == pytest.approx(1.0) and hyper_cdf(4, 10, 4, 5) == pytest.approx(1.0)
    # minimum counts: 2 posts this week never make a rise, whatever the baseline
    assert share_change(2, 10, 0, 100) is None
    assert share_change(5, 10, 0, 10) is None  # baseline too small to know what is usual
    assert share_change(6, 12, 0, 80)[0] == "rise" and share_change(0, 12, 40, 80)[0] == "fall"
    assert price_band(85) == (50.0, 100.0) and price_band(1500) == (1000.0, 2000.0) and price_band(20) == (20.0, 50.0)


def test_false_alarms_stay_under_the_stated_rate():
    """Steady random corpora (features drawn with fixed shares, 20-60 posts a week): at most ALPHA = 1% of
    the weeks may show any change. 100 seeded corpora x 21 tested weeks."""
    shares = {"place:A": 0.5, "place:B": 0.2, "leg:EC>CO": 0.3, "term:x": 0.1, "price:transport:USD:50:100": 0.15,
              "place:C": 0.05}
    weeks = [f"2026-W{i + 2:02d}" for i in range(30)]
    alarms = tested = 0
    for seed in range(100):
        rng = random.Random(seed)
        rows = [PostFacts(f"{w}-{k}", "", w, {f for f, p in shares.items() if rng.random() < p})
                for w in weeks for k in range(rng.randint(20, 60))]
        for w in weeks[9:]:
            tested += 1
            alarms += bool(_significant(rows, w))
    assert tested == 2100
    assert alarms <= 0.01 * tested  # measured: 11 of 2100 weeks (0.5%)


def test_each_change_is_flagged_in_its_week(changing):
    weeks = all_week_changes(changing)
    onsets = {(w, c["feature"], c["direction"]) for w, r in weeks.items() for c in r["changes"] if c["onset"]}
    assert onsets == {
        ("2026-W35", "term:蛇头", "rise"),
        ("2026-W37", "place:Ipiales", "rise"),
        ("2026-W37", "leg:EC>CO", "rise"),
        ("2026-W38", "price:transport:USD:50:100", "rise"),
        ("2026-W38", "price:transport:USD:20:50", "fall"),
    }
    # each change carries its posts: the week's posts that say it (a rise)
    price = next(c for c in weeks["2026-W38"]["changes"] if c["feature"] == "price:transport:USD:50:100")
    assert price["count"] == 6 and len(price["posts"]) == 6 and price["label"] == "transport cost 50–100 USD"
    assert all(p["posted_at"].startswith("2026-09-1") for p in price["posts"])
    # nothing is flagged before the first change
    assert not [c for w in WEEKS[:5] for c in weeks[w]["changes"]]


def test_a_steady_corpus_has_no_change(steady):
    weeks = all_week_changes(steady)
    assert list(weeks) == WEEKS
    assert [c for r in weeks.values() for c in r["changes"]] == []
    assert sum(r["tests"] for r in weeks.values()) > 20  # the tests ran; they found nothing


def test_prices_per_leg_use_only_costs_tied_to_the_leg(changing):
    rows = {(r["label"], r["kind"], r["currency"], r["month"]): r for r in leg_prices(changing)}
    boat = {m: rows[("within CO", "transport", "USD", m)] for m in ("2026-07", "2026-08", "2026-09", "2026-10")}
    assert (boat["2026-07"]["median"], boat["2026-07"]["min"], boat["2026-07"]["max"]) == (40, 40, 40)
    assert (boat["2026-09"]["min"], boat["2026-09"]["max"]) == (40, 85)
    # October: the 3 boat posts of W40 dated Oct 1-3 (W40 starts on Sep 28) and the 6 of W41
    assert boat["2026-10"]["median"] == 85 and boat["2026-10"]["n"] == 3 + 6
    # the Quito–Tulcán bus is within EC, Tulcán–Ipiales is EC → CO; the untied 100 USD is nowhere
    assert {r["max"] for r in leg_prices(changing) if r["label"] == "within EC"} == {15}
    ipiales = [r for r in leg_prices(changing) if r["label"] == "EC → CO"]
    assert {r["median"] for r in ipiales} == {10} and sum(r["n"] for r in ipiales) == 4 * 5
    assert not [r for r in leg_prices(changing) if r["max"] == 100]


def test_a_price_is_tied_to_the_trip_it_follows(extractor):
    import json
    from dataclasses import asdict

    from routewatch.changes import tied_costs
    from routewatch.core.records import TextUnit

    text = "厄瓜多尔免签，直接飞基多。机票八千块左右，到了基多有人接，坐大巴去图尔坎只要十五美金。出了达连雨林，到巴拿马的营地，坐大巴去哥斯达黎加，一个人四十美金。"
    unit = TextUnit(unit_id="x:transcript", post_id="x", kind="transcript", text=text)
    facts = json.loads(json.dumps(asdict(extractor.extract_post([unit])), default=str))
    got = [(t["leg"], t["amount"], t["currency"]) for t in tied_costs(facts, {unit.unit_id: text})]
    # the flight's 8,000 CNY comes before the places of its sentence and is followed by the bus fare: untied
    assert got == [("EC", 15.0, "USD"), ("PA>CR", 40.0, "USD")]
