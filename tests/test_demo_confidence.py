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
