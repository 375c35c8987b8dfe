"""One counter per event (issue 13): a fetched post adds exactly 1 to `fetch/fetched` and a failed one exactly
1 to `fetch/failed/<code>`, both under the post's source; a crawl failure is counted once too. Real fetcher
(yt-dlp) against a real local HTTP server, real catalog file."""

from __future__ import annotations

import sqlite3

from routewatch import pipeline
from routewatch.core.catalog import Catalog
from routewatch.settings import load_settings
from tests.conftest import make_post, run_cli
from tests.httpserver import TestServer, respond


def _counters(db_path) -> list[tuple[str, str, int]]:
    con = sqlite3.connect(db_path)
    try:
        return sorted((r[0], r[1], r[2]) for r in con.execute(
            "SELECT source, name, SUM(value) FROM counters WHERE name LIKE 'fetch/%' OR name LIKE 'crawl/failed/%' "
            "GROUP BY source, name"))
    finally:
        con.close()


def test_one_fetch_and_one_failure_count_once_each(tmp_path):
    routes = {"/ok.mp4": lambda h: respond(h, 200, b"\x00" * 4096, "video/mp4"),
              "/gone.mp4": lambda h: respond(h, 404, b"not here", "text/plain")}
    with TestServer(routes) as srv:
        s = load_settings(tmp_path / "data")
        s = s.model_copy(update={"crawl": s.crawl.model_copy(update={"allow_hosts": [srv.hostport]})})
        cat = Catalog(s.data_dir / "catalog.sqlite")
        try:
            for name in ("ok", "gone"):
                post = make_post(platform="web", platform_id=name, media_url=f"{srv.base}/{name}.mp4",
                                 source="watchlist")
                cat.upsert_post(post)
                cat.set_status(post.post_id, "crawl", "done")
            rep = pipeline.stage_fetch(pipeline.Context(settings=s, catalog=cat))
            codes = [f.code for f in cat.failures("fetch")]
            totals = cat.run_counters()
        finally:
            cat.close()
    assert (rep.done, rep.failed) == (1, 1)
    assert len(codes) == 1
    assert _counters(s.data_dir / "catalog.sqlite") == [("watchlist", "fetch/failed/" + codes[0], 1),
                                                        ("watchlist", "fetch/fetched", 1)]
    assert totals["fetch/fetched"] == 1 and totals["fetch/failed/" + codes[0]] == 1


def test_a_crawl_failure_counts_once_under_its_source(tmp_path):
    data = tmp_path / "data"
    with TestServer({"/robots.txt": lambda h: respond(h, 200, b"User-agent: *\nDisallow: /x/\n", "text/plain"),
                     "/x/page": lambda h: respond(h, 200, b"<html></html>")}) as srv:
        run_cli("crawl", "--url", f"{srv.base}/x/page", "--json", data_dir=data,
                env={"ROUTEWATCH_ALLOW_HOSTS": srv.hostport}, timeout=120, check=False)
    assert _counters(data / "catalog.sqlite") == [("cli", "crawl/failed/E102", 1)]
