"""Post pages of TikTok, Douyin, Bilibili, Kuaishou and X read from the metadata they embed; listings followed."""

import json
from pathlib import Path

import pytest

from crawlers.base import Follow, Page
from crawlers.platforms import Bilibili, Douyin, Kuaishou, TikTok, X, caption_of, iso_from_epoch
from crawlers.routing import crawler_for
from routewatch.core.records import Post, post_id_for
from tests.crawlers.records import collect, media_bytes, origin_env, records, sha256
from tests.httpserver import TestServer, respond

PAGES = Path(__file__).resolve().parents[1] / "data" / "ytdlp" / "pages"


def page(url: str, name: str) -> Page:
    return Page(url=url, fetch_url=url, status=200, body=(PAGES / name).read_bytes(), source="web:test",
                captured_at="2026-10-21T00:00:00Z", discovered_via="https://t.me/s/ruta_norte")


def test_tiktok_video_page_rehydration_data():
    url = "https://www.tiktok.com/@xiao_lu_walks/video/7431029384756102905"
    assert crawler_for(url).name == "tiktok.v1"
    [p] = list(TikTok().discover(page(url, "tiktok_video.html")))
    assert p.post_id == post_id_for("tiktok", "7431029384756102905")  # the same post the imports and yt-dlp make
    assert (p.url, p.author_handle, p.posted_at, p.views) == (url, "xiao_lu_walks", "2026-09-07T21:00:00Z", 5565)
    assert p.caption == "内科克利的船票，每人 40 美元，救生衣要自己买 #走线 #达连"
    assert p.media_url.startswith("https://v16-webapp-prime.tiktok.com/video/tos/")
    assert p.discovered_via == "https://t.me/s/ruta_norte"
    assert json.loads(p.extra_json)["from"] == "rehydration_data"


def test_tiktok_profile_lists_its_videos_once():
    url = "https://www.tiktok.com/@camino.al.norte"
    out = list(TikTok().discover(page(url, "tiktok_user.html")))
    assert out == [Follow(f"https://www.tiktok.com/@camino.al.norte/video/{v}", crawler="tiktok.v1")
                   for v in ("7431029384756102904", "7431029384756102908", "7431029384756102915")]


def test_douyin_video_page_render_data():
    url = "https://www.douyin.com/video/7429876543210987603"
    [p] = list(Douyin().discover(page(url, "douyin_video.html")))
    assert p.post_id == post_id_for("douyin", "7429876543210987603")
    assert (p.url, p.author_handle, p.posted_at) == (url, "beishang88", "2026-09-08T03:00:00Z")
    assert p.caption == "内科克利等船，海边的帐篷营地 #达连"
    assert p.media_url.startswith("https://www.douyin.com/aweme/v1/play/?video_id=v0200fg10000")
    extra = json.loads(p.extra_json)
    assert (extra["from"], extra["duration"], extra["hashtags"]) == ("render_data", 24.411, ["达连"])


def test_bilibili_video_page_initial_state():
    url = "https://www.bilibili.com/video/BV1Xq4y1m7Zc"
    [p] = list(Bilibili().discover(page(url, "bilibili_video.html")))
    assert (p.platform, p.platform_id, p.url) == ("bilibili", "BV1Xq4y1m7Zc", url)
    assert p.caption == "【走线】厄瓜多尔到墨西哥全程记录 第1集\n这是我们一家三口从基多出发的记录。\n路线：基多-图尔坎-麦德林-内科克利。"
    assert (p.author_handle, p.posted_at, p.views) == ("路上的老陈", "2026-09-21T14:13:20Z", 88012)
    assert json.loads(p.extra_json)["duration"] == 1325


def test_kuaishou_video_page_apollo_state():
    url = "https://www.kuaishou.com/short-video/3xk9m2q7w5e4r8t?authorId=3xabc123def456"
    [p] = list(Kuaishou().discover(page(url, "kuaishou_video.html")))
    assert (p.platform, p.platform_id) == ("kuaishou", "3xk9m2q7w5e4r8t")
    assert p.url == "https://www.kuaishou.com/short-video/3xk9m2q7w5e4r8t"
    assert p.caption == "危地马拉到墨西哥，坐筏子过苏奇亚特河，一人 5 美元"
    assert (p.author_handle, p.posted_at, p.views) == ("北漂的阿强", "2026-10-02T06:00:00Z", 98231)
    assert p.media_url.startswith("https://v2.kwaicdn.com/upic/2026/10/02/12/")
    assert json.loads(p.extra_json)["duration"] == 48.211


def test_x_status_page_open_graph_with_video():
    url = "https://twitter.com/rutanorte_mx/status/1843098765432101234/video/1"
    assert crawler_for(url).name == "x.v1"
    [p] = list(X().discover(page(url, "x_status.html")))
    assert (p.platform, p.platform_id) == ("x", "1843098765432101234")
    assert p.url == p.media_url == "https://x.com/rutanorte_mx/status/1843098765432101234"
    assert p.author_handle == "rutanorte_mx"
    assert p.caption == "Ruta Norte MX on X\n“Así está el río hoy en el Darién. No crucen de noche.”"


@pytest.mark.parametrize(("cls", "url"), [
    (TikTok, "https://www.tiktok.com/@ruta.norte.2026/video/7431029384756102938"),
    (Douyin, "https://www.douyin.com/video/7429876543210987654"),
    (Bilibili, "https://www.bilibili.com/video/BV1Xq4y1m7Zc"),
    (Kuaishou, "https://www.kuaishou.com/short-video/3xk9m2q7w5e4r8t"),
])
def test_a_page_without_metadata_gives_no_post(cls, url):
    blank = Page(url=url, fetch_url=url, status=200, body=b"<html><body>captcha</body></html>", source="s",
                 captured_at="2026-10-21T00:00:00Z")
    assert [o for o in cls().discover(blank) if isinstance(o, Post)] == []


@pytest.mark.parametrize(("title", "description", "caption"), [
    ("Bus a Tulcán", "Sale a las seis.", "Bus a Tulcán\nSale a las seis."),
    ("Bus a Tulcán…", "Bus a Tulcán, sale a las seis.", "Bus a Tulcán, sale a las seis."),
    ("", "solo descripción", "solo descripción"),
    ("solo título", None, "solo título"),
])
def test_caption_says_the_title_once(title, description, caption):
    assert caption_of(title, description) == caption


@pytest.mark.parametrize(("value", "millis", "iso"), [
    (1791036007, False, "2026-10-03T14:00:07Z"), ("1791036007", False, "2026-10-03T14:00:07Z"),
    (1792483207500, True, "2026-10-20T08:00:07Z"), (0, False, ""), (None, False, ""), ("soon", False, ""),
])
def test_epoch_times(value, millis, iso):
    assert iso_from_epoch(value, millis=millis) == iso


# ---- a URL list crawled through local origins, then fetched: every field of every post (issue 19) ------------------

def _serve(name: str):
    return lambda h: respond(h, 200, (PAGES / name).read_bytes())


WEB_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Ruta del Darién</title>"
            "<meta property='og:description' content='El cruce dura cuatro días; el guía cobra 300 USD.'>"
            "<meta property='article:published_time' content='2026-10-05T09:00:00-05:00'>"
            "<meta name='author' content='Redacción Frontera'></head><body>"
            "<video src='/media/darien.mp4'></video></body></html>").encode()


FEED = ("<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>Frontera</title>"
        "<link>{base}/noticias/</link><item><title>Necoclí</title><link>{base}/noticias/necocli.html</link>"
        "<pubDate>Tue, 06 Oct 2026 10:30:00 -0500</pubDate></item></channel></rss>")
TEXT_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Necoclí</title>"
             "<meta property='og:description' content='En Necoclí la lancha a Acandí sale a las 7; el boleto cuesta 40 USD.'>"
             "<meta property='article:published_time' content='2026-10-06T10:30:00-05:00'></head><body></body></html>").encode()


def test_url_list_of_platform_pages_crawled_and_fetched_keep_every_field(tmp_path):
    video = media_bytes("p07_panama_bus.mp4")
    clip = lambda h: respond(h, 200, video, "video/mp4")  # noqa: E731 - one route, several paths
    seeds = "\n".join([
        "https://www.tiktok.com/@xiao_lu_walks/video/7431029384756102905",
        "https://www.douyin.com/video/7429876543210987603",
        "https://www.bilibili.com/video/BV1Xq4y1m7Zc",
        "https://www.kuaishou.com/short-video/3xk9m2q7w5e4r8t?authorId=3xabc123def456",
        "https://x.com/rutanorte_mx/status/1843098765432101234",
        "{base}/noticias/darien.html",
        "{base}/noticias/feed.xml",
    ])
    with TestServer({}) as srv:
        srv.routes.update({
            "/robots.txt": lambda h: respond(h, 200, b"User-agent: *\nAllow: /\n", "text/plain"),
            "/lists/seeds.txt": lambda h: respond(h, 200, seeds.format(base=srv.base).encode(), "text/plain"),
            "/@xiao_lu_walks/video/7431029384756102905": _serve("tiktok_video.html"),
            "/video/7429876543210987603": _serve("douyin_video.html"),
            "/video/BV1Xq4y1m7Zc": _serve("bilibili_video.html"),
            "/short-video/3xk9m2q7w5e4r8t": _serve("kuaishou_video.html"),
            "/rutanorte_mx/status/1843098765432101234": _serve("x_status.html"),
            "/noticias/darien.html": lambda h: respond(h, 200, WEB_PAGE),
            "/noticias/feed.xml": lambda h: respond(h, 200, FEED.format(base=srv.base).encode(), "application/rss+xml"),
            "/noticias/necocli.html": lambda h: respond(h, 200, TEXT_PAGE),
            "/video/tos/useast2a/tos-useast2a-ve-0068c001/oc813b1466a117598b0ef/": clip,  # TikTok's CDN
            "/aweme/v1/play/": clip,  # Douyin
            "/upic/2026/10/02/12/BMjAyNjEwMDIxMjAw_b_B1a2b3c4.mp4": clip,  # Kuaishou's CDN
            "/media/darien.mp4": clip,
        })
        collect(tmp_path / "data", origin_env(srv, "tiktok", "tiktok_cdn", "douyin", "bilibili", "kuaishou",
                                              "kuaishou_cdn", "x"), "crawl", "--url", f"{srv.base}/lists/seeds.txt")
        web, text_only = f"{srv.base}/noticias/darien.html", f"{srv.base}/noticias/necocli.html"
    got = sha256(video)
    plain = {"signer": "", "forwarded_from": "", "edited": False, "reply_to": "", "media": got}
    assert records(tmp_path / "data") == {
        "7431029384756102905": {**plain, "platform": "tiktok", "url": "https://www.tiktok.com/@xiao_lu_walks/video/7431029384756102905",
                                "posted_at": "2026-09-07T21:00:00Z", "text": "内科克利的船票，每人 40 美元，救生衣要自己买 #走线 #达连",
                                "author": "xiao_lu_walks", "views": 5565},
        # Douyin's page says playCount 0 for every video: unknown, not zero
        "7429876543210987603": {**plain, "platform": "douyin", "url": "https://www.douyin.com/video/7429876543210987603",
                                "posted_at": "2026-09-08T03:00:00Z", "text": "内科克利等船，海边的帐篷营地 #达连",
                                "author": "beishang88", "views": None},
        # Bilibili and X serve their video only to yt-dlp's own extractors (the real sites), not from a page
        "BV1Xq4y1m7Zc": {**plain, "platform": "bilibili", "url": "https://www.bilibili.com/video/BV1Xq4y1m7Zc",
                         "posted_at": "2026-09-21T14:13:20Z", "author": "路上的老陈", "views": 88012, "media": "failed E203",
                         "text": "【走线】厄瓜多尔到墨西哥全程记录 第1集\n这是我们一家三口从基多出发的记录。\n路线：基多-图尔坎-麦德林-内科克利。"},
        "3xk9m2q7w5e4r8t": {**plain, "platform": "kuaishou", "url": "https://www.kuaishou.com/short-video/3xk9m2q7w5e4r8t",
                            "posted_at": "2026-10-02T06:00:00Z", "text": "危地马拉到墨西哥，坐筏子过苏奇亚特河，一人 5 美元",
                            "author": "北漂的阿强", "views": 98231},
        # X shows unfurlers neither the date nor a count
        "1843098765432101234": {**plain, "platform": "x", "url": "https://x.com/rutanorte_mx/status/1843098765432101234",
                                "posted_at": "", "author": "rutanorte_mx", "views": None, "media": "failed E203",
                                "text": "Ruta Norte MX on X\n“Así está el río hoy en el Darién. No crucen de noche.”"},
        web: {**plain, "platform": "web", "url": web, "posted_at": "2026-10-05T14:00:00Z", "author": "Redacción Frontera",
              "text": "El cruce dura cuatro días; el guía cobra 300 USD.", "views": None},
        # through the RSS feed (feed.v1 follows its items); a page without video is a text-only post
        text_only: {**plain, "platform": "web", "url": text_only, "posted_at": "2026-10-06T15:30:00Z", "author": "",
                    "text": "En Necoclí la lancha a Acandí sale a las 7; el boleto cuesta 40 USD.", "views": None,
                    "media": "skipped E207"},
    }
