"""Two periods side by side (`changes.compare_periods`, `/compare`, `/api/compare`) on the timeline corpora of
test_changes: August against September 2026 shows exactly the planted changes of September (Ipiales and its
leg EC → CO appear, the Necoclí boat moves from 40 to 85 USD) and the steady corpus shows none."""

from __future__ import annotations

import html as htmllib
import re

import pytest

from routewatch.changes import compare_periods, period_bounds
from routewatch.core.errors import RouteWatchError
from tests import test_changes
from tests.test_changes import _catalog
from tests.web.helpers import client_for

extractor = test_changes.extractor  # the spaCy extractor fixture, shared

PLANTED = {("place:Ipiales", "rise"), ("leg:EC>CO", "rise"), ("price:transport:USD:50:100", "rise"),
           ("price:transport:USD:20:50", "fall")}


@pytest.fixture(scope="module")
def changing(tmp_path_factory, extractor):
    d = tmp_path_factory.mktemp("cmp") / "data"
    d.mkdir()
    _catalog(d / "catalog.sqlite", extractor, True).close()
    return d


def test_periods():
    assert period_bounds("2026-W45") == ("2026-11-02", "2026-11-09")
    assert period_bounds("2026-12") == ("2026-12-01", "2027-01-01")
    for bad in ("2026-W60", "2026-13", "2026-1", "W45", ""):
        with pytest.raises(RouteWatchError) as ei:
            period_bounds(bad)
        assert ei.value.code.value == "E903"


def test_months_side_by_side_flag_the_planted_changes(changing):
    from routewatch.core.catalog import Catalog

    with Catalog(changing / "catalog.sqlite", write=False) as cat:
        c = compare_periods(cat, "2026-08", "2026-09")
    assert (c["a"]["n"], c["b"]["n"]) == (58, 70)
    assert {(r["feature"], r["direction"]) for r in c["rows"] if r["significant"]} == PLANTED
    ipiales = next(r for r in c["rows"] if r["feature"] == "place:Ipiales")
    assert (ipiales["a"]["count"], ipiales["b"]["count"]) == (0, 15) and len(ipiales["b"]["posts"]) == 5
    boat = next(p for p in c["prices"] if p["label"] == "within CO")
    assert (boat["a"]["median"], boat["a"]["max"], boat["b"]["min"], boat["b"]["max"]) == (40, 40, 40, 85)
    assert c["a"]["changes"] is None  # months: the weekly changes are not repeated


def test_steady_corpus_compares_without_change(tmp_path, extractor):
    with _catalog(tmp_path / "catalog.sqlite", extractor, False) as cat:
        c = compare_periods(cat, "2026-08", "2026-09")
    assert c["tests"] > 5 and [r for r in c["rows"] if r["significant"]] == []


def test_compare_page_and_api(changing):
    client = client_for(changing)
    api = client.get("/api/compare", params={"a": "2026-W37", "b": "2026-W38"}).json()
    assert {(ch["feature"], ch["direction"]) for ch in api["b"]["changes"]} == {
        ("price:transport:USD:50:100", "rise"), ("price:transport:USD:20:50", "fall")}
    assert "count" not in str(api["rows"][0]["a"])  # exact counts are not served, only "<5"-ruled ones
    small = next(r for r in api["rows"] if r["feature"] == "place:Ipiales")
    assert small["a"]["shown"] == "<5" and small["a"]["share"] is None
    html = client.get("/compare", params={"a": "2026-08", "b": "2026-09"}).text
    flagged = {htmllib.unescape(f) for f in re.findall(r'<tr data-feature="([^"]+)" class="significant">', html)}
    assert flagged == {f for f, _ in PLANTED}
    bad = client.get("/compare", params={"a": "2026-W99", "b": "2026-09"})
    assert bad.status_code == 400 and "E903" in bad.text
    assert client.get("/api/compare", params={"a": "x", "b": "2026-09"}).json()["error"]["code"] == "E903"
