"""The alerts page and the Atom feed of a saved search: after a second run they show exactly the posts that
are new (real Chromium for the page; the feed parsed as XML and checked against RFC 4287's required parts)."""

from __future__ import annotations

import json
import re
from xml.etree import ElementTree

import pytest

from index.sqlite_fts import SqliteIndex
from routewatch import alerts
from routewatch.core.catalog import Catalog
from tests.search_world import add_posts, check_saved, gold
from tests.web.helpers import LiveServer, client_for

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")




@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("alertsweb") / "data"
    old = add_posts(d, [(f"a/{i}", f"走线 达连 第{i}天", f"2026-11-0{1 + i}T08:00:00Z", gold(("CO", "PA")))
                        for i in range(4)])
    with Catalog(d / "catalog.sqlite") as cat:
        idx = SqliteIndex(d / "catalog.sqlite", read_only=True)
        try:
            _, base = alerts.add(cat, idx, "darien", "达连", {"country": "PA"})
        finally:
            idx.close()
    assert base == 4
    new = add_posts(d, [(f"b/{i}", f"达连 丛林 新 {i} 联系微信 abc12345", f"2026-11-2{i}T08:00:00Z", gold(("CO", "PA")))
                        for i in range(3)] + [("c/1", "墨西哥 走线", "2026-11-25T08:00:00Z", gold(("MX", "US")))])
    assert check_saved(d) == {"darien": [new[2], new[1], new[0]]}  # newest first
    return d, old, new[:3]


def test_alerts_page_shows_exactly_the_new_posts(world, page):
    d, old, new = world
    with LiveServer(d) as srv:
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{srv.url}/alerts")
            section = page.locator('section.saved[data-name="darien"]')
            shown = section.locator("li.hit").evaluate_all("els => els.map(e => e.dataset.post)")
            assert sorted(shown) == sorted(new)
            assert section.locator("li.hit.new").count() == 3
            assert page.evaluate("document.documentElement.scrollWidth") <= width
        text = page.locator("main").inner_text()
        assert "route_guide" not in text and "abc12345" not in text  # handles and contacts as in search results
        page.click('a.feed')  # the feed link answers the feed
        assert page.url.endswith("/alerts/darien.atom")
        page.goto(f"{srv.url}/compare?a=2026-10&b=2026-11")  # the comparison page fits a phone too
        assert page.locator("table.compare-table tr[data-feature]").count() > 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_atom_feed_is_valid_and_private(world):
    d, _, new = world
    r = client_for(d).get("/alerts/darien.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(r.content)
    assert feed.tag == f"{ATOM}feed"
    for part in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{part}") is not None, part
    assert RFC3339.fullmatch(feed.findtext(f"{ATOM}updated"))
    entries = feed.findall(f"{ATOM}entry")
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert sorted(ids) == sorted(f"tag:routewatch,2026:saved/darien/{p}" for p in new) and len(set(ids)) == 3
    for e in entries:
        assert e.findtext(f"{ATOM}title") and RFC3339.fullmatch(e.findtext(f"{ATOM}updated"))
        assert e.find(f"{ATOM}link[@rel='alternate']").get("href").startswith("http://testserver/posts/")
        assert e.findtext(f"{ATOM}author/{ATOM}name").startswith("user-")
        assert [c.get("term") for c in e.findall(f"{ATOM}category")] == ["CO", "PA"]
    body = r.content.decode("utf-8")
    assert "route_guide" not in body and "abc12345" not in body
    missing = client_for(d).get("/alerts/nothing.atom")
    assert missing.status_code == 404


def test_api_alerts_marks_unseen_as_new(world):
    d, _, new = world
    got = client_for(d).get("/api/alerts").json()["saved_searches"]
    assert [(s["name"], s["unseen"], s["filters"]) for s in got] == [("darien", 3, {"country": "PA"})]
    assert sorted(a["post_id"] for a in got[0]["alerts"] if a["new"]) == sorted(new)
    assert "route_guide" not in json.dumps(got)


def test_alerts_page_on_a_catalog_from_before_saved_searches(tmp_path):
    """The web opens the catalog read-only: one last written before the saved-search tables existed shows
    "no saved searches" (and its feeds 404), not an error."""
    import sqlite3

    from routewatch.core.catalog import MIGRATIONS

    d = tmp_path / "data"
    add_posts(d, [("a/1", "达连", "2026-11-01T08:00:00Z", gold(("CO", "PA")))])
    db = sqlite3.connect(d / "catalog.sqlite")
    db.executescript("DROP TABLE saved_alerts; DROP TABLE saved_searches;")
    db.execute("DELETE FROM schema_version WHERE version = ?", (len(MIGRATIONS),))
    db.commit()
    db.close()
    client = client_for(d)
    r = client.get("/alerts")
    assert r.status_code == 200 and "No saved searches" in r.text
    assert client.get("/api/alerts").json() == {"saved_searches": []}
    assert client.get("/alerts/x.atom").status_code == 404
    db = sqlite3.connect(d / "catalog.sqlite")
    assert db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'saved_alerts'").fetchone() == (0,)
    db.close()  # the web did not migrate it: the case above was really the old layout
