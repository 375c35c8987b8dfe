"""Redirects that scrapy's duplicate filter swallows: a loop is a crawl failure (E101), a redirect to a page
already fetched is counted. Real `routewatch crawl` against a local server; nothing is dropped silently."""

import pytest

from tests.httpserver import TestServer, respond
from tests.test_politeness import crawl, robots_ok

PAGE = (b"<html><head><meta property='og:description' content='cruzamos el Darien'>"
        b"<meta property='og:video' content='/media/clip.mp4'></head><body></body></html>")


def to(path):
    return lambda h: respond(h, 302, b"", "text/plain", {"Location": path})


@pytest.mark.parametrize("routes", [
    {"/start": to("/start")},  # a page redirecting to itself
    {"/start": to("/b"), "/b": to("/start?")},  # A -> B -> A (the same URL once canonicalised)
])
def test_redirect_loop_is_E101(tmp_path, routes):
    with TestServer({"/robots.txt": robots_ok, **routes}) as srv:
        rep, fails, counters, posts = crawl(srv, f"{srv.base}/start", tmp_path)
    assert fails == [("E101", f"{srv.base}/start")]
    assert posts == 0


def test_redirect_to_a_page_already_fetched_is_counted(tmp_path):
    with TestServer({"/robots.txt": robots_ok,
                     "/seeds.txt": lambda h: respond(h, 200, b"{B}/page\n{B}/short\n{B}/page\n".replace(
                         b"{B}", srv.base.encode()), "text/plain"),
                     "/short": to("/page"),
                     "/page": lambda h: respond(h, 200, PAGE)}) as srv:
        rep, fails, counters, posts = crawl(srv, f"{srv.base}/seeds.txt", tmp_path)
        assert srv.log.count("/page") == 1
    assert fails == []
    assert posts == 1
    assert counters["crawl/skipped/redirect_to_known_page"] == 1
    assert counters["crawl/skipped/duplicate"] == 1
