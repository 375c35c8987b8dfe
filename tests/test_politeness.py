"""Crawl politeness and safety against a real local server: robots, Retry-After, the SSRF guard
(also on redirects), and media caps without a Content-Length. Each case asserts code and counter."""

import json
import sqlite3
import time

import pytest

from tests.conftest import run_cli
from tests.httpserver import TestServer, chunked, respond

PAGE = (b"<html><head><meta property='og:description' content='cruzamos el Darien'>"
        b"<meta property='og:video' content='/media/clip.mp4'></head><body></body></html>")


def robots_ok(h):
    respond(h, 200, b"User-agent: *\nDisallow: /private/\n", "text/plain")


def crawl(srv, url, tmp_path, **env):
    data = tmp_path / "data"
    cp = run_cli("crawl", "--url", url, "--json", data_dir=data,
                 env={"ROUTEWATCH_ALLOW_HOSTS": srv.hostport, **env}, timeout=120, check=False)
    rep = json.loads(cp.stdout)[0]
    all_failed = rep["failed"] and not (rep["done"] + rep["skipped"] + rep["reused"])
    assert cp.returncode == (1 if all_failed else 0), cp.stderr[-2000:]  # README: exit 1 when every item failed
    con = sqlite3.connect(data / "catalog.sqlite")
    fails = [tuple(r) for r in con.execute("SELECT code, item_id FROM failures")]
    counters = dict(con.execute("SELECT name, SUM(value) FROM counters GROUP BY name").fetchall())
    posts = con.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
    con.close()
    return rep, fails, counters, posts


def test_robots_disallow_is_E102(tmp_path):
    with TestServer({"/robots.txt": robots_ok, "/private/page": lambda h: respond(h, 200, PAGE)}) as srv:
        rep, fails, counters, posts = crawl(srv, f"{srv.base}/private/page", tmp_path)
        assert "/private/page" not in srv.log
    assert [f[0] for f in fails] == ["E102"]
    assert counters["crawl/robots_forbidden"] == 1
    assert posts == 0


def test_robots_503_means_disallow(tmp_path):
    with TestServer({"/robots.txt": lambda h: respond(h, 503, b"down", "text/plain"),
                     "/page": lambda h: respond(h, 200, PAGE)}) as srv:
        rep, fails, counters, posts = crawl(srv, f"{srv.base}/page", tmp_path)
        assert "/page" not in srv.log
    assert [f[0] for f in fails] == ["E102"]
    assert counters["crawl/robots_unreachable"] == 1
    assert posts == 0


def test_429_retry_after_is_honoured(tmp_path):
    hits = []

    def page(h):
        hits.append(time.monotonic())
        if len(hits) == 1:
            respond(h, 429, b"slow down", "text/plain", {"Retry-After": "2"})
        else:
            respond(h, 200, PAGE)

    with TestServer({"/robots.txt": robots_ok, "/page": page}) as srv:
        rep, fails, counters, posts = crawl(srv, f"{srv.base}/page", tmp_path)
    assert len(hits) == 2
    assert hits[1] - hits[0] >= 2.0
    assert counters["crawl/rate_limited/429"] == 1
    assert fails == []
    assert posts == 1


def test_429_forever_ends_as_E107(tmp_path):
    with TestServer({"/robots.txt": robots_ok,
                     "/page": lambda h: respond(h, 429, b"no", "text/plain", {"Retry-After": "0"})}) as srv:
        rep, fails, counters, posts = crawl(srv, f"{srv.base}/page", tmp_path)
    assert [f[0] for f in fails] == ["E107"]
    assert posts == 0


@pytest.mark.parametrize("target", ["http://127.1:{port}/page", "http://localhost:{port}/page",
                                    "http://[::ffff:127.0.0.1]:{port}/page", "http://2130706433:{port}/page",
                                    "http://169.254.169.254/latest/meta-data/"])
def test_redirect_to_private_address_is_refused(tmp_path, target):
    def redirect(h):
        respond(h, 302, b"", headers={"Location": target.format(port=h.server.server_address[1])})

    with TestServer({"/robots.txt": robots_ok, "/go": redirect, "/page": lambda h: respond(h, 200, PAGE)}) as srv:
        rep, fails, counters, posts = crawl(srv, f"{srv.base}/go", tmp_path)
        assert "/page" not in srv.log
    assert [f[0] for f in fails] == ["E103"]
    assert counters["crawl/refused_address"] == 1
    assert posts == 0


def _fetch_with(tmp_path, srv, media_path, max_bytes=None):
    from routewatch import pipeline
    from routewatch.core.catalog import Catalog
    from routewatch.settings import load_settings
    from tests.conftest import make_post

    s = load_settings(tmp_path / "data")
    upd = {"allow_hosts": [srv.hostport]}
    if max_bytes:
        upd["max_media_bytes"] = max_bytes
    s = s.model_copy(update={"crawl": s.crawl.model_copy(update=upd)})
    cat = Catalog(s.data_dir / "catalog.sqlite")
    post = make_post(platform="web", platform_id="clip", media_url=f"{srv.base}{media_path}")
    cat.upsert_post(post)
    cat.set_status(post.post_id, "crawl", "done")
    rep = pipeline.stage_fetch(pipeline.Context(settings=s, catalog=cat))
    fails = [(f.stage, f.code) for f in cat.failures()]
    cat.close()
    return rep, fails, s.data_dir / "media"


def test_chunked_download_over_cap_is_E202_and_leaves_nothing(tmp_path):
    with TestServer({"/big.mp4": lambda h: chunked(h, 3 * 1024 * 1024)}) as srv:
        rep, fails, media = _fetch_with(tmp_path, srv, "/big.mp4", max_bytes=1024 * 1024)
    assert fails == [("fetch", "E202")]
    assert [p for p in media.rglob("*") if p.is_file()] == []


def test_media_redirect_to_private_address_is_E103(tmp_path):
    def redirect(h):
        respond(h, 302, b"", headers={"Location": f"http://127.0.0.2:{h.server.server_address[1]}/real.mp4"})

    with TestServer({"/clip.mp4": redirect, "/real.mp4": lambda h: respond(h, 200, b"x" * 1000, "video/mp4")}) as srv:
        rep, fails, media = _fetch_with(tmp_path, srv, "/clip.mp4")
        assert "/real.mp4" not in srv.log
    assert fails == [("fetch", "E103")]
