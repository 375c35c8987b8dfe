"""`trace` as a fact-checker uses it, on the demo corpus loaded through the real catalog and extractor:
stance with deciding words, a timeline by posting time, earliest posted vs captured with ties explained,
claims matched on their parts (place, amount) and not only on words."""

from __future__ import annotations

import json

import pytest

from routewatch.core.catalog import Catalog
from routewatch.settings import load_settings
from routewatch.trace import trace_claim
from tests.conftest import run_cli
from tests.corpus_helpers import CAPTURED, demo_catalog


@pytest.fixture(scope="module")
def extractor():
    import nlp

    return nlp.build_extractor()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, extractor):
    data = tmp_path_factory.mktemp("trace") / "data"
    ids = demo_catalog(data, extractor)
    return data, ids


def _trace(demo, extractor, claim):
    data, _ = demo
    with Catalog(data / "catalog.sqlite", write=False) as cat:
        return trace_claim(cat, load_settings(data), claim, extractor=extractor)


def _by_post(res):
    return {e["post_id"]: e for e in res["timeline"]}


def test_visa_claim_marks_the_contradicting_post_with_its_words(demo, extractor):
    _, ids = demo
    res = _trace(demo, extractor, "厄瓜多尔免签")
    tl = _by_post(res)
    # p23: title "厄瓜多尔要签证以后的新走法", then "厄瓜多尔不免签以后…"
    st = tl[ids["p23"]]["stance"]
    assert st["label"] == "contradicts"
    assert st["words"] == ["要签证"]
    assert st["source"] == "caption"
    # the visa-free clip and its two reposts support it, with the words that say so
    for d in ("p03", "p10", "p28"):
        assert tl[ids[d]]["stance"]["label"] == "supports"
        assert tl[ids[d]]["stance"]["words"][:2] == ["厄瓜多尔", "免签"]
    assert {p["kind"]: p["value"] for p in res["parts"]} == {"country": "EC", "visa": "visa_free"}


def test_timeline_is_in_posting_order_and_captured_tie_is_explained(demo, extractor):
    _, ids = demo
    res = _trace(demo, extractor, "厄瓜多尔免签")
    posted = [e["posted_at"] for e in res["timeline"]]
    assert posted == sorted(posted)
    assert [e["post_id"] for e in res["timeline"]] == [ids[d] for d in ("p03", "p10", "p23", "p28")]
    # groups in the order they were first posted, the repost group first
    assert [g["earliest_posted"] for g in res["groups"]] == [ids["p03"], ids["p23"]]
    assert res["earliest_posted"]["post_id"] == ids["p03"]
    assert res["earliest_posted"]["tie"] is None
    # every copy was captured in one second: the tie is said, and the newest copy (p28) is never named
    cap = res["earliest_captured"]
    assert cap["post_id"] == ids["p03"]
    assert cap["tie"]["count"] == 4 and cap["tie"]["at"] == CAPTURED
    assert cap["tie"]["note"].startswith("all 4 posts were captured in the same second")
    g = res["groups"][0]
    assert g["earliest_captured"] == ids["p03"] and g["captured_tie"]["count"] == 3


def test_boat_claim_is_matched_on_place_and_price(demo, extractor):
    _, ids = demo
    res = _trace(demo, extractor, "the boat from Necoclí costs 85 dollars")
    labels = [p["label"] for p in res["parts"]]
    assert labels == ["place Necoclí (CO)", "amount 85 USD (transport)", "boat"]
    best = res["best_matches"]
    assert best[0]["post_id"] == ids["p02"]  # 内科克利码头…船票…八十五美金
    assert best[0]["matched"] == ["place Necoclí", "amount 85 USD", "boat"]
    assert best[0]["stance"] == "supports"
    tl = _by_post(res)
    # posts with the place and a boat but not the price still show, below it; boat-only posts do not
    assert set(tl) == {ids["p02"], ids["p13"], ids["p16"]}
    assert tl[ids["p16"]]["stance"]["label"] == "related"
    assert tl[ids["p16"]]["stance"]["words"] == ["Necoclí", "lancha"]
    assert ids["p09"] not in tl  # a Galápagos boat tour for 300 dollars


def test_cli_prints_stance_and_deciding_words(demo):
    data, ids = demo
    out = run_cli("trace", "厄瓜多尔免签", data_dir=data, env={"COLUMNS": "200"}).stdout
    line = next(ln for ln in out.splitlines() if ids["p23"] in ln and "│" in ln)
    assert "contradicts" in line and "要签证" in line
    assert "earliest posted: " + ids["p03"] in out
    assert "all 4 posts were captured in the same second" in out
    # a phone-width terminal gets one block per post, the stance line whole
    narrow = run_cli("trace", "厄瓜多尔免签", data_dir=data, env={"COLUMNS": "60"}).stdout.splitlines()
    i = next(k for k, ln in enumerate(narrow) if ln.startswith(f"2026-11-10  {ids['p23']} (telegram, group 2"))
    assert narrow[i + 1] == "  contradicts: 要签证  [caption]"
    js = json.loads(run_cli("trace", "厄瓜多尔免签", "--json", data_dir=data).stdout)
    st = {e["post_id"]: e["stance"] for e in js["timeline"]}[ids["p23"]]
    assert st["label"] == "contradicts" and st["words"] == ["要签证"]
