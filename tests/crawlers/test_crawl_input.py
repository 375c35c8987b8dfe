"""Crawl input and download deadlines (issue 21 groups 4 and 5): each URL judged on its own (E108 malformed,
E109 too long), canonical links trusted only on the fetched host's platform, and a total time budget per
download (E210) that a server dripping bytes cannot stretch. Real local servers, real yt-dlp."""

from __future__ import annotations

import time

import pytest

from crawlers.fetch import YtDlpFetcher, guarded_get
from crawlers.safety import check_url_form
from crawlers.settings import CrawlSettings
from crawlers.web import trusted_canonical
from routewatch.core.errors import RouteWatchError
from routewatch.core.records import Post
from routewatch.settings import load_settings
from tests.httpserver import TestServer


def test_defaults():
    c = CrawlSettings()
    assert (c.max_url_chars, c.max_download_seconds, c.timeout_seconds) == (8192, 600.0, 20.0)


@pytest.mark.parametrize(("url", "code"), [
    ("http://[::1/x", "E108"), ("http://exa mple.org/", "E108"), ("http://example.org/\x00", "E108"),
    ("http://example.org/\u202e", "E108"), ("https://", "E108"), ("http:///path", "E108"),
    ("http://example.org/?q=" + "a" * 9000, "E109"),
])
def test_malformed_and_overlong_urls_have_their_code(url, code):
    with pytest.raises(RouteWatchError) as e:
        check_url_form(url, 8192)
    assert e.value.code.value == code


@pytest.mark.parametrize("url", ["http://example.org/?q=" + "a" * 2100, "https://t.me/s/chan", "ftp://x/y",
                                 "http://[::1]:8080/x", "http://127.0.0.1:99999/"])
def test_long_and_odd_but_parseable_urls_pass_the_form_check(url):
    check_url_form(url, 8192)  # ports, schemes and addresses are judged later (E103, E106)


@pytest.mark.parametrize(("page", "claimed", "kept"), [
    ("https://news.example.org/a", "https://t.me/chan/5", "https://news.example.org/a"),
    ("https://news.example.org/a", "https://www.youtube.com/watch?v=x", "https://news.example.org/a"),
    ("https://news.example.org/a", "https://evil.example.com/a", "https://news.example.org/a"),
    ("https://news.example.org/a", "javascript:alert(1)", "https://news.example.org/a"),
    ("https://news.example.org/a?utm=1", "https://www.example.org/a", "https://www.example.org/a"),
    ("https://news.example.org/a", "/b", "https://news.example.org/b"),
    ("https://demo.routewatch.invalid/watch/p01?x", "https://demo.routewatch.invalid/watch/p01",
     "https://demo.routewatch.invalid/watch/p01"),
])
def test_canonical_is_trusted_only_on_the_fetched_platform(page, claimed, kept):
    assert trusted_canonical(page, claimed) == kept


def _drip(ctype):
    def handler(h):
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", "1000000")
        h.end_headers()
        try:
            for _ in range(60):
                h.wfile.write(b"\0" * 64)
                h.wfile.flush()
                time.sleep(1)
        except OSError:
            pass
    return handler


@pytest.fixture
def drip_settings(tmp_path):
    with TestServer({"/m.mp4": _drip("video/mp4"), "/s.vtt": _drip("text/vtt")}) as srv:
        (tmp_path / "routewatch.toml").write_text(
            f'[crawl]\nallow_hosts = ["{srv.hostport}"]\nmax_download_seconds = 4\ntimeout_seconds = 3\n')
        yield srv, load_settings(tmp_path)


def test_a_dripping_media_server_ends_at_the_budget(drip_settings):
    srv, s = drip_settings
    post = Post(post_id="web:x", platform="web", platform_id="x", url="https://example.org/x", source="t",
                media_url=srv.base + "/m.mp4")
    t0 = time.monotonic()
    with pytest.raises(RouteWatchError) as e:
        YtDlpFetcher(s.crawl, s.data_dir).fetch(post)
    took = time.monotonic() - t0
    assert e.value.code.value == "E210"
    assert took < 4 + 3, f"{took:.1f} s for a 4 s budget"
    assert not list((s.data_dir / "media").rglob("*.mp4"))  # no partial file kept


def test_a_dripping_subtitle_server_ends_at_the_budget(drip_settings):
    srv, s = drip_settings
    t0 = time.monotonic()
    with pytest.raises(RouteWatchError) as e:
        guarded_get(srv.base + "/s.vtt", s.crawl, max_bytes=2 << 20)
    assert e.value.code.value == "E210"
    assert time.monotonic() - t0 < 4 + 3


# ---- per-platform cookies (issue 19) ----------------------------------------------------------------------------
def _members_only(h):
    from pathlib import Path as _P

    from tests.httpserver import respond

    if "sessionid=logged-in" not in (h.headers.get("Cookie") or ""):
        respond(h, 403, b"please log in", "text/plain")
        return
    respond(h, 200, (_P(__file__).resolve().parents[2] / "routewatch" / "demo" / "corpus" / "media" /
                     "p01_shanghai_to_colombia.mp4").read_bytes(), "video/mp4")


def _douyin_post(url):
    return Post(post_id="douyin:7429876543210987699", platform="douyin", platform_id="7429876543210987699",
                url="https://www.douyin.com/video/7429876543210987699", source="t", media_url=url)


def test_a_login_wall_says_which_cookies_setting_would_help(tmp_path):
    with TestServer({"/v.mp4": _members_only}) as srv:
        (tmp_path / "routewatch.toml").write_text(f'[crawl]\nallow_hosts = ["{srv.hostport}"]\nretry_times = 0\n')
        with pytest.raises(RouteWatchError) as e:
            YtDlpFetcher(load_settings(tmp_path).crawl, tmp_path).fetch(_douyin_post(srv.base + "/v.mp4"))
    assert e.value.code.value == "E211"
    assert "crawl.cookies_file.douyin" in e.value.reason


def test_the_platform_s_cookies_file_is_sent_and_left_unchanged(tmp_path):
    cookies = tmp_path / "douyin-cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t2000000000\tsessionid\tlogged-in\n")
    before = cookies.read_bytes()
    with TestServer({"/v.mp4": _members_only}) as srv:
        (tmp_path / "routewatch.toml").write_text(
            f'[crawl]\nallow_hosts = ["{srv.hostport}"]\n[crawl.cookies_file]\ndouyin = "{cookies}"\n')
        media, _ = YtDlpFetcher(load_settings(tmp_path).crawl, tmp_path).fetch(_douyin_post(srv.base + "/v.mp4"))
    assert media.size > 1000 and media.path.endswith(".mp4")
    assert cookies.read_bytes() == before
