"""Post pages of TikTok, Douyin, Bilibili, Kuaishou and X read from the metadata they embed; listings followed."""

import json
from pathlib import Path

import pytest

from crawlers.base import Follow, Page, crawler_for, load_all
from crawlers.platforms import Bilibili, Douyin, Kuaishou, TikTok, X, caption_of, iso_from_epoch
from routewatch.records import Post, post_id_for

PAGES = Path(__file__).resolve().parents[1] / "data" / "ytdlp" / "pages"
load_all()


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
