"""/routes: leg costs only where the text ties them (changes.tied_costs), untied costs listed apart, the
route map's points from the pack's coordinates, its offline base map, and label layouts without overlap.
A small corpus through the real catalog and extractor; no demo run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from routewatch.charts import flow_diagram, outline_rings, route_map, text_width
from routewatch.core.catalog import Catalog
from tests.corpus_helpers import add_post
from tests.web.helpers import client_for

PACK = Path(__file__).resolve().parents[2] / "nlp" / "packs" / "zouxian"
OUTLINE = Path(__file__).resolve().parents[2] / "routewatch" / "web" / "static" / "outline.json"

# Hong Kong → Istanbul → Quito → Tulcán → Ipiales: the flight price follows the flight; the taxi fare follows
# Tulcán → Ipiales (EC → CO); the whole-trip spend names no place and belongs to no leg.
TRIP = ("从香港飞伊斯坦布尔，机票五千块。从伊斯坦布尔飞基多。从图尔坎打车到伊皮亚莱斯，一个人十美金。"
        "路上一共花了一百美金。#走线")
BOAT = "从哥伦比亚到巴拿马。内科克利坐船到卡普尔加纳，船票四十美金。#走线"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    import nlp

    ex = nlp.build_extractor()
    data = tmp_path_factory.mktemp("routes") / "data"
    data.mkdir()
    cat = Catalog(data / "catalog.sqlite")
    add_post(cat, ex, platform="telegram", platform_id="c/1", caption=TRIP, posted_at="2026-09-01T08:00:00Z")
    add_post(cat, ex, platform="telegram", platform_id="c/2", caption=BOAT, posted_at="2026-09-02T08:00:00Z")
    cat.close()
    return data


def test_costs_go_only_to_the_leg_the_text_ties_them_to(corpus):
    d = client_for(corpus).get("/api/routes").json()
    legs = {(g["from"], g["to"]): g["median_cost"] for g in d["legs"]}
    assert legs[("EC", "CO")] == {"USD": {"median": 10.0, "n": 1}}
    assert legs[("HK", "TR")] == {"CNY": {"median": 5000.0, "n": 1}}
    assert legs[("TR", "EC")] == {}  # no price in the flight's sentence
    assert [(u["amount"], u["currency"]) for u in d["untied"]] == [(100.0, "USD")] and d["untied_total"] == 1
    assert d["within"] == [{"country": "CO", "median_cost": {"USD": {"median": 40.0, "n": 1}}}]
    html = client_for(corpus).get("/routes").text
    assert "Costs tied to no leg" in html and "100 USD" in html


def test_map_points_carry_pack_coordinates(corpus):
    d = client_for(corpus).get("/api/routes").json()
    pts = {p["id"]: (p["lat"], p["lon"]) for p in d["points"]}
    assert pts["EC"] == (-1.5, -78.5) and pts["HK"] == (22.3, 114.2)
    assert pts["Ipiales"] == (0.8, -77.6) and pts["Necoclí"] == (8.4, -76.8)
    svg = str(route_map(d, 1000))
    assert svg.count('class="halo maplabel"') + len(re.findall(r"no room for a label\): ([^<]*)", svg)) > 0
    assert "tile" not in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_every_pack_country_and_place_has_coordinates_near_its_country():
    countries = {c["iso"]: c for c in yaml.safe_load((PACK / "countries.yaml").read_text())["countries"]}
    places = yaml.safe_load((PACK / "places.yaml").read_text())["places"]
    for c in countries.values():
        assert -90 <= c["lat"] <= 90 and -180 <= c["lon"] <= 180, c["iso"]
    for p in places:
        c = countries[p["country"]]
        # a swapped lat/lon or a typo lands far from the country's own point
        assert abs(p["lat"] - c["lat"]) < 25 and abs(p["lon"] - c["lon"]) < 25, p["canonical"]


def _inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    hit = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def test_offline_outline_is_small_and_puts_land_where_it_is():
    assert OUTLINE.stat().st_size < 300_000
    meta = json.loads(OUTLINE.read_text())
    assert "public domain" in meta["licence"]
    rings = outline_rings()
    for lon, lat in [(-78.5, -0.2), (114.2, 22.5), (32.9, 39.9), (-99.1, 19.4)]:  # Quito, HK, Ankara, Mexico City
        assert any(_inside(lon, lat, r) for r in rings), (lon, lat)
    for lon, lat in [(-100.0, 0.0), (-30.0, 20.0)]:  # the Pacific off Ecuador, the Atlantic
        assert not any(_inside(lon, lat, r) for r in rings), (lon, lat)


def _boxes(svg: str) -> list[tuple[float, float, float, float]]:
    out = []
    for m in re.finditer(r'<text x="([\d.]+)" y="([\d.]+)" font-size="(\d+)" text-anchor="(\w+)" '
                         r'font-weight="(\w+)"[^>]*>([^<]*)</text>', svg):
        x, y, size = float(m[1]), float(m[2]), int(m[3])
        w = text_width(m[6], size, bold=m[5] != "normal")
        x0 = x - w / 2 if m[4] == "middle" else x
        out.append((x0, y - size, x0 + w, y + size * 0.25))
    return out


def test_flow_labels_get_boxes_of_their_own_with_many_crossing_legs():
    pairs = [("CN", "HK"), ("HK", "TR"), ("TR", "EC"), ("CN", "TR"), ("EC", "CO"), ("CO", "PA"), ("PA", "CR"),
             ("CR", "NI"), ("NI", "HN"), ("HN", "GT"), ("GT", "MX"), ("MX", "US"), ("EC", "PA"), ("CO", "MX"),
             ("TR", "CO"), ("HK", "EC"), ("AE", "EC"), ("CN", "AE")]
    legs = [{"from": a, "to": b, "posts": 1 + i % 4, "median_cost": {"USD": {"median": 1234.5, "n": 2}},
             "headline_currency": "USD"} for i, (a, b) in enumerate(pairs)]
    svg = str(flow_diagram({"countries": ["CN", "AE", "HK", "TR", "EC", "CO", "PA", "CR", "NI", "HN", "GT", "MX", "US"],
                            "legs": legs}))
    boxes = _boxes(svg)
    assert len(boxes) == 13 * 2 + 18 * 2
    clash = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
             if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]
    assert clash == []
