"""Issue 15 on the demo data: with default settings, every leg in trends and the route map rests on
facts at or above extract.aggregate_min_confidence, and the post page explains each fact's confidence."""

from __future__ import annotations

import json
import sqlite3

import pytest

from routewatch.settings import load_settings

pytestmark = pytest.mark.slow


def test_demo_legs_rest_on_confident_facts_and_post_page_explains(demo_run) -> None:
    from tests.web.helpers import client_for

    data_dir, _ = demo_run
    floor = load_settings(data_dir=data_dir).extract.aggregate_min_confidence
    con = sqlite3.connect(data_dir / "catalog.sqlite")
    con.row_factory = sqlite3.Row
    rows = con.execute("SELECT post_id, gold_json, facts_json FROM extractions").fetchall()
    con.close()
    legs_seen = 0
    for r in rows:
        gold, facts = json.loads(r["gold_json"]), json.loads(r["facts_json"])
        conf = {c["iso"]: c["confidence"] for c in facts["countries"]}
        for iso in gold["route"]:
            assert conf[iso] >= floor, (r["post_id"], iso, conf[iso])
        legs_seen += max(0, len(gold["route"]) - 1)
        for kind in ("countries", "places", "costs", "bribes"):
            for fact in facts[kind]:
                assert 0.0 < fact["confidence"] <= 1.0 and fact["why"], (r["post_id"], kind, fact)
    assert legs_seen > 0
    client = client_for(data_dir)
    routes = client.get("/api/routes").json()
    gold_legs = {(a, b) for r in rows for g in [json.loads(r["gold_json"])] if g["relevant"]
                 for a, b in zip(g["route"], g["route"][1:], strict=False)}
    assert {(leg["from"], leg["to"]) for leg in routes["legs"]} <= gold_legs
    pid = next(r["post_id"] for r in rows if json.loads(r["gold_json"])["places"])
    page = client.get(f"/posts/{pid}").text
    assert "confidence 0." in page and "caption 0.90" in page


def test_demo_leg_told_only_by_a_misheard_word_is_out_of_default_aggregates(demo_run) -> None:
    """A leg that only a low-confidence transcript fact supports (the demo's "伊斯坦堡" heard by sound) is in no
    default trend, route map or digest, and comes back when a person asks for that confidence."""
    from index.base import PostFacts, legs
    from tests.web.helpers import client_for

    data_dir, _ = demo_run
    floor = load_settings(data_dir=data_dir).extract.aggregate_min_confidence
    con = sqlite3.connect(data_dir / "catalog.sqlite")
    rows = con.execute("SELECT post_id, facts_json FROM extractions WHERE relevant = 1").fetchall()
    con.close()
    every, sure = set(), set()
    low_asr = {}  # leg → the post and the low ASR country it rests on
    for pid, fj in rows:
        facts = json.loads(fj)
        pf = PostFacts.from_json(facts)
        every |= set(legs(pf.route))
        sure |= set(legs(pf.at(floor).route))
        for c in facts["countries"]:
            if c["confidence"] < floor and any(e["unit_kind"] == "transcript" for e in c["evidence"]):
                low_asr.update({leg: (pid, c["iso"]) for leg in legs(pf.route) if c["iso"] in leg.split(">")})
    only_low = {leg: low_asr[leg] for leg in every - sure if leg in low_asr}
    assert only_low, "the demo has a leg that only a misheard word supports"
    client = client_for(data_dir)
    for q, expect_in in (("", False), ("&min_confidence=0.3", True), ("&min_confidence=0&relevant=false", True)):
        trend_legs = {r["value"] for r in client.get(f"/api/trends?field=leg&by=month{q}").json()["rows"]}
        route_legs = {f"{x['from']}>{x['to']}" for x in client.get(f"/api/routes?{q.lstrip('&')}").json()["legs"]}
        for leg in only_low:
            assert (leg in trend_legs, leg in route_legs) == (expect_in, expect_in), (leg, q)
    assert trend_legs - every == set()  # every leg counted is one the extraction told
    pid, iso = next(iter(only_low.values()))
    week = client.get(f"/api/posts/{pid}").json()["posted_at"][:10]
    from routewatch.digest import week_of

    wk = week_of(__import__("datetime").date.fromisoformat(week))
    default = {x["key"] for x in client.get(f"/api/digest?week={wk}").json()["top_legs"]}
    asked = {x["key"] for x in client.get(f"/api/digest?week={wk}&min_confidence=0.3").json()["top_legs"]}
    assert not default & set(only_low) and set(only_low) & asked
    page = client.get(f"/posts/{pid}").text
    assert "sounds like" in page  # the post page says why the fact is unsure
