"""yt-dlp discovery: recorded info dicts → posts, and yt-dlp's own extraction against a local server."""

import json
import os
from pathlib import Path

import pytest

from crawlers.base import Page
from crawlers.web import WebPage
from crawlers.ytdlp_discovery import (
    collect_with_ytdlp,
    discover_with_ytdlp,
    info_to_post,
    posts_from_info,
    ytdlp_handles,
)
from routewatch.core.catalog import Catalog
from routewatch.core.errors import RouteWatchError
from routewatch.core.records import post_id_for
from routewatch.settings import load_settings
from tests.httpserver import TestServer, respond

DATA = Path(__file__).resolve().parents[1] / "data" / "ytdlp"
MEDIA = Path(__file__).resolve().parents[2] / "routewatch" / "demo" / "corpus" / "media"
DEMO = "https://demo.routewatch.invalid"


def info(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def one(name: str):
    return info_to_post(info(name), source="ytdlp:test", discovered_via="ytsearch5:走线", captured_at="2026-10-06T00:00:00Z")


def test_youtube_video_info():
    p = one("youtube_Rn8uT2aJcQe.info.json")
    assert p.post_id == post_id_for("youtube", "Rn8uT2aJcQe")
    assert (p.platform, p.platform_id) == ("youtube", "Rn8uT2aJcQe")
    assert p.url == p.page_url == "https://www.youtube.com/watch?v=Rn8uT2aJcQe"
    assert p.caption == "走线第三天：达连丛林里的河\n早上六点出发，中午到河边。向导说水位比上周低。\n这一段每人另外收 20 美元。"
    assert p.author_handle == "UCr7Nq2TbW5xK8pLm3vD9aQe"  # the channel id, as the feed and the watch page give it
    assert p.posted_at == "2026-10-03T14:00:07Z"
    assert p.views == 18507
    assert p.lang == "zh"
    assert p.media_url == ""  # the fetch stage downloads through the watch URL
    assert p.subtitles_url == "https://www.youtube.com/api/timedtext?v=Rn8uT2aJcQe&lang=es&fmt=vtt"
    assert p.discovered_via == "ytsearch5:走线"
    assert p.source == "ytdlp:test"


def test_extra_json_keeps_the_info_without_download_plumbing():
    extra = json.loads(one("youtube_Rn8uT2aJcQe.info.json").extra_json)
    for gone in ("formats", "http_headers", "automatic_captions", "subtitles", "thumbnails", "_format_sort_fields",
                 "heatmap"):
        assert gone not in extra
    assert extra["subtitles_available"] == ["es"]
    assert extra["auto_captions_available"] == ["zh-Hans"]
    assert extra["duration"] == 412
    assert extra["tags"] == ["走线", "达连", "Darién"]
    assert extra["extractor_key"] == "Youtube"
    assert extra["ytdlp"]["query"] == "ytsearch5:走线"
    assert "googlevideo.com" not in json.dumps(extra)


def test_same_video_from_feed_search_or_page_is_one_post():
    from crawlers.youtube import YouTubeFeed

    feed = (Path(__file__).resolve().parents[1] / "data" / "youtube" / "channel_UCr7Nq2TbW5xK8pLm3vD9aQe.xml").read_bytes()
    url = "https://www.youtube.com/feeds/videos.xml?channel_id=UCr7Nq2TbW5xK8pLm3vD9aQe"
    from_feed = next(iter(YouTubeFeed().discover(Page(url, url, 200, feed, "yt", "2026-10-06T00:00:00Z"))))
    assert one("youtube_Rn8uT2aJcQe.info.json").post_id == from_feed.post_id


def test_flat_search_results_skip_listings_and_count_them():
    counts: dict[str, int] = {}
    posts = list(posts_from_info(info("ytsearch4_zouxian.info.json"), source="ytdlp:search",
                                 discovered_via="ytsearch4:走线", counts=counts))
    assert [p.platform_id for p in posts] == ["Rn8uT2aJcQe", "Ty6uI9oPa3S", "Dk2fG5hJl8Z"]
    assert counts == {"ytdlp/skipped/listing": 1}
    short = posts[1]
    assert short.url == "https://www.youtube.com/shorts/Ty6uI9oPa3S"  # a Short stays a Short
    assert short.caption == "走线的人在塔帕丘拉排队 #shorts"
    assert short.author_handle == ""
    assert short.posted_at == ""
    assert short.views == 733
    assert posts[2].caption == ("Zouxian: the route explained (English subtitles)\n"
                                "Why Chinese migrants fly to Ecuador first, and what changed in July 2024.")
    assert posts[2].author_handle == "UCq3Wm8Er1Ty4Ui7Op0As2Df"  # channel "Border Notes"


def test_tiktok_info_uses_the_handle_in_the_canonical_url():
    p = one("tiktok_7431029384756102905.info.json")
    assert (p.platform, p.platform_id) == ("tiktok", "7431029384756102905")
    assert p.url == "https://www.tiktok.com/@xiao_lu_walks/video/7431029384756102905"
    assert p.author_handle == "xiao_lu_walks"
    assert p.caption == "内科克利的船票，每人 40 美元，救生衣要自己买 #走线 #达连"  # the title is a cut of it: said once
    assert p.posted_at == "2026-09-07T21:00:00Z"
    assert p.views == 5565
    assert p.subtitles_url.endswith("mime_type=video_vtt")
    assert p.lang == "cmn-Hans-CN"


def test_tiktok_info_and_zeeschuimer_capture_are_the_same_post():
    from crawlers.platforms import tiktok_item_post

    line = (Path(__file__).resolve().parents[1] / "data" / "zeeschuimer" / "tiktok_douyin.ndjson").read_text(
        encoding="utf-8").splitlines()[5]
    captured = tiktok_item_post(json.loads(line)["data"], source="zs", captured_at="", discovered_via="")
    assert captured.post_id == one("tiktok_7431029384756102905.info.json").post_id


def test_douyin_info():
    p = one("douyin_7429876543210987603.info.json")
    assert (p.platform, p.platform_id, p.url) == ("douyin", "7429876543210987603",
                                                  "https://www.douyin.com/video/7429876543210987603")
    assert p.author_handle == "beishang88"
    assert p.posted_at == "2026-09-08T03:00:00Z"
    assert p.views is None
    assert p.caption == "内科克利等船，海边的帐篷营地 #达连"


def test_bilibili_info_keeps_title_and_description_and_ignores_danmaku():
    p = one("bilibili_BV1Xq4y1m7Zc.info.json")
    assert (p.platform, p.platform_id, p.url) == ("bilibili", "BV1Xq4y1m7Zc", "https://www.bilibili.com/video/BV1Xq4y1m7Zc")
    assert p.caption == "【走线】厄瓜多尔到墨西哥全程记录 第1集\n这是我们一家三口从基多出发的记录。\n路线：基多-图尔坎-麦德林-内科克利。"
    assert p.author_handle == "路上的老陈"
    assert p.subtitles_url == ""  # the only URL track is danmaku (comments), not subtitles
    assert json.loads(p.extra_json)["subtitles_available"] == ["danmaku", "zh-CN"]


def test_twitter_info_becomes_an_x_post_on_the_tweet_id():
    p = one("twitter_1843098765432101234.info.json")
    assert (p.platform, p.platform_id) == ("x", "1843098765432101234")
    assert p.url == "https://x.com/rutanorte_mx/status/1843098765432101234"
    assert p.author_handle == "rutanorte_mx"
    assert p.caption == "Así está el río hoy en el Darién. No crucen de noche. https://t.co/AbCdEf1234"
    assert p.media_url == p.url  # a video tweet: fetched through the post URL
    assert p.posted_at == "2026-10-05T21:09:27Z"


def test_info_without_id_is_counted_not_posted():
    counts: dict[str, int] = {}
    assert list(posts_from_info({"title": "x", "extractor_key": "Youtube"}, source="s", discovered_via="q",
                                counts=counts)) == []
    assert counts == {"ytdlp/skipped/no_id": 1}


@pytest.mark.parametrize(("target", "expected"), [
    ("ytsearch5:走线", True),
    ("ytsearchdate10:darien gap", True),
    ("https://www.youtube.com/watch?v=Rn8uT2aJcQe", True),
    ("https://www.tiktok.com/@xiao_lu_walks/video/7431029384756102905", True),
    ("https://www.douyin.com/video/7429876543210987603", True),
    ("https://x.com/rutanorte_mx/status/1843098765432101234", True),
    ("https://t.me/s/ruta_norte", False),
    ("https://www.youtube.com/feeds/videos.xml?channel_id=UCr7Nq2TbW5xK8pLm3vD9aQe", False),
    ("https://news.example.org/2026/10/ruta.html", False),
])
def test_which_targets_go_to_ytdlp(target, expected):
    assert ytdlp_handles(target) is expected


# ---- yt-dlp itself, against a local server (its generic extractor) ----------------------------------

WATCH = (b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Bus a Tulc\xc3\xa1n</title>"
         b"<link rel='canonical' href='https://demo.routewatch.invalid/watch/p01'>"
         b"<meta property='og:description' content='Cruzamos a Colombia por Rumichaca, 15 USD el bus.'>"
         b"</head><body><video controls src='/media/p01_shanghai_to_colombia.mp4'></video>"
         b"<div class='caption'>Cruzamos a Colombia por Rumichaca, 15 USD el bus.</div></body></html>")


def _routes():
    mp4 = (MEDIA / "p01_shanghai_to_colombia.mp4").read_bytes()
    return {
        "/watch/p01": lambda h: respond(h, 200, WATCH),
        "/watch/text-only": lambda h: respond(h, 200, b"<html><head><title>Sin video</title></head><body>hola</body></html>"),
        "/media/p01_shanghai_to_colombia.mp4": lambda h: respond(h, 200, mp4, "video/mp4"),
    }


def _settings(tmp_path, srv, allow=True):
    return load_settings(tmp_path, crawl={"origins": {"demo": srv.base},
                                          "allow_hosts": [srv.hostport] if allow else []})


def test_generic_page_gives_the_same_post_as_the_page_crawler(tmp_path):
    with TestServer(_routes()) as srv:
        posts = list(discover_with_ytdlp(f"{DEMO}/watch/p01", "ytdlp:demo", _settings(tmp_path, srv).crawl))
        assert srv.log[0] == "/watch/p01"
    [p] = posts
    assert (p.platform, p.platform_id) == ("demo", "p01")
    assert p.url == f"{DEMO}/watch/p01"  # canonical, though the bytes came from 127.0.0.1
    assert p.media_url == f"{DEMO}/media/p01_shanghai_to_colombia.mp4"
    assert p.caption == "Bus a Tulcán\nCruzamos a Colombia por Rumichaca, 15 USD el bus."
    assert json.loads(p.extra_json)["extractor_key"] == "HTML5MediaEmbed"
    crawled = next(iter(WebPage().discover(Page(f"{DEMO}/watch/p01", "", 200, WATCH, "web", "2026-10-06T00:00:00Z"))))
    assert p.post_id == crawled.post_id


def test_direct_media_file_is_its_own_post(tmp_path):
    url = f"{DEMO}/media/p01_shanghai_to_colombia.mp4"
    with TestServer(_routes()) as srv:
        [p] = list(discover_with_ytdlp(url, "ytdlp:demo", _settings(tmp_path, srv).crawl))
    assert (p.platform, p.platform_id, p.url, p.media_url) == ("demo", "p01_shanghai_to_colombia.mp4", url, url)
    assert json.loads(p.extra_json)["direct"] is True


def test_local_server_without_allow_list_is_refused_before_any_request(tmp_path):
    with TestServer(_routes()) as srv:
        with pytest.raises(RouteWatchError) as ei:
            list(discover_with_ytdlp(f"{DEMO}/watch/p01", "ytdlp:demo", _settings(tmp_path, srv, allow=False).crawl))
        assert srv.log == []
    assert ei.value.code.value == "E103"


def test_only_http_urls_and_search_keys(tmp_path):
    with pytest.raises(RouteWatchError) as ei:
        list(discover_with_ytdlp("file:///etc/passwd", "s", load_settings(tmp_path).crawl))
    assert ei.value.code.value == "E103"


def test_missing_page_is_E101_and_page_without_video_is_E106(tmp_path):
    with TestServer(_routes()) as srv:
        s = _settings(tmp_path, srv)
        with pytest.raises(RouteWatchError) as missing:
            list(discover_with_ytdlp(f"{DEMO}/watch/nope", "s", s.crawl))
        with pytest.raises(RouteWatchError) as novideo:
            list(discover_with_ytdlp(f"{DEMO}/watch/text-only", "s", s.crawl))
    assert missing.value.code.value == "E101"
    assert novideo.value.code.value == "E106"


TIKTOK_POST = "https://www.tiktok.com/@camino.al.norte/video/7431029384756102904"
TIKTOK_PAGE = (b"<html><head><title>Necocl\xc3\xad, la lancha</title></head><body>"
               b"<video src='/video/tos/useast2a/o9d5e8f0/clip.mp4'></video></body></html>")


def test_platform_page_read_by_the_generic_extractor_keeps_the_platform_id(tmp_path):
    mp4 = (MEDIA / "p01_shanghai_to_colombia.mp4").read_bytes()
    routes = {"/@camino.al.norte/video/7431029384756102904": lambda h: respond(h, 200, TIKTOK_PAGE),
              "/video/tos/useast2a/o9d5e8f0/clip.mp4": lambda h: respond(h, 200, mp4, "video/mp4")}
    with TestServer(routes) as srv:
        s = load_settings(tmp_path, crawl={"origins": {"tiktok": srv.base}, "allow_hosts": [srv.hostport]})
        [p] = list(discover_with_ytdlp(TIKTOK_POST, "ytdlp:tiktok", s.crawl))
    assert (p.platform, p.platform_id, p.url) == ("tiktok", "7431029384756102904", TIKTOK_POST)
    assert p.post_id == post_id_for("tiktok", "7431029384756102904")
    assert p.media_url == "https://www.tiktok.com/video/tos/useast2a/o9d5e8f0/clip.mp4"


def test_collect_stores_counts_and_records_failures(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    try:
        with TestServer(_routes()) as srv:
            s = _settings(tmp_path, srv)
            first = collect_with_ytdlp(f"{DEMO}/watch/p01", cat, s.crawl, "ytdlp:demo", tmp_path)
            again = collect_with_ytdlp(f"{DEMO}/watch/p01", cat, s.crawl, "ytdlp:demo", tmp_path)
            missing = collect_with_ytdlp(f"{DEMO}/watch/nope", cat, s.crawl, "ytdlp:demo", tmp_path)
        assert (first.discovered, first.new, first.already_known) == (1, 1, 0)
        assert (again.new, again.already_known) == (0, 1)
        assert (missing.discovered, missing.failed, missing.per_source["ytdlp:demo"]["crawl/failed/E101"]) == (0, 1, 1)
        assert [(f.stage, f.item_id, f.code) for f in cat.failures()] == [("crawl", f"{DEMO}/watch/nope", "E101")]
        assert cat.pending("fetch", after="crawl") == [post_id_for("demo", "p01")]
        counters = cat.run_counters()
        assert (counters["crawl/discovered"], counters["crawl/new"], counters["crawl/already_known"]) == (2, 1, 1)
    finally:
        cat.close()


def test_channel_tabs_are_opened_one_level_and_repeats_dropped(monkeypatch, tmp_path):
    import crawlers.ytdlp_discovery as d

    tabs = {"_type": "playlist", "extractor_key": "YoutubeTab", "id": "UCr7Nq2TbW5xK8pLm3vD9aQe", "entries": [
        {"_type": "url", "ie_key": "YoutubeTab", "id": "videos", "url": "https://www.youtube.com/@rutanorte/videos"},
        {"_type": "url", "ie_key": "YoutubeTab", "id": "shorts", "url": "https://www.youtube.com/@rutanorte/shorts"}]}
    calls: list[str] = []

    def fake_extract(target, crawl, allow, limit):
        calls.append(target)
        return tabs if len(calls) == 1 else info("ytsearch4_zouxian.info.json")

    monkeypatch.setattr(d, "_extract", fake_extract)
    origin = "http://127.0.0.1:9"  # allow-listed, so the guard needs no DNS; nothing connects (fake extractor)
    s = load_settings(tmp_path, crawl={"origins": {"youtube": origin}, "allow_hosts": ["127.0.0.1:9"]})
    counts: dict[str, int] = {}
    posts = list(d.discover_with_ytdlp("https://www.youtube.com/@rutanorte", "yt:rutanorte", s.crawl, counts=counts))
    assert calls == [f"{origin}/@rutanorte", f"{origin}/@rutanorte/videos", f"{origin}/@rutanorte/shorts"]
    assert [p.platform_id for p in posts] == ["Rn8uT2aJcQe", "Ty6uI9oPa3S", "Dk2fG5hJl8Z"]  # both tabs: once each
    assert counts == {"ytdlp/opened/listing": 2, "ytdlp/skipped/listing": 2}
    assert {p.discovered_via for p in posts} == {"https://www.youtube.com/@rutanorte"}


@pytest.mark.network
@pytest.mark.skipif(os.environ.get("ROUTEWATCH_NETWORK_TESTS") != "1",
                    reason="needs the internet: ROUTEWATCH_NETWORK_TESTS=1 pytest -m network -o addopts=\"\"")
def test_real_youtube_search(tmp_path):
    posts = list(discover_with_ytdlp("ytsearch3:走线 达连", "ytdlp:search", load_settings(tmp_path).crawl))
    assert 1 <= len(posts) <= 3
    assert all(p.platform == "youtube" and p.url.startswith("https://www.youtube.com/watch?v=") for p in posts)


def test_every_field_of_every_recorded_info_dict():
    """What each recorded yt-dlp info dict (video pages and a flat search) becomes, field by field (issue 19). These
    need yt-dlp's own platform extractors, so they are recorded dicts, not pages a local server could stand in for."""
    def row(p):
        extra = json.loads(p.extra_json)
        return (p.platform, p.url, p.posted_at, p.caption, p.author_handle, p.views, p.media_url, p.forwarded_from,
                bool(extra.get("edited")), extra.get("reply_to", ""))

    river = "走线第三天：达连丛林里的河\n早上六点出发，中午到河边。向导说水位比上周低。\n这一段每人另外收 20 美元。"
    watch = "https://www.youtube.com/watch?v="
    got = {f.name: [(p.platform_id, row(p)) for p in posts_from_info(info(f.name), source="s", discovered_via="q")]
           for f in sorted(DATA.glob("*.info.json"))}
    assert got == {
        "bilibili_BV1Xq4y1m7Zc.info.json": [("BV1Xq4y1m7Zc", (
            "bilibili", "https://www.bilibili.com/video/BV1Xq4y1m7Zc", "2026-09-21T14:13:20Z",
            "【走线】厄瓜多尔到墨西哥全程记录 第1集\n这是我们一家三口从基多出发的记录。\n路线：基多-图尔坎-麦德林-内科克利。",
            "路上的老陈", 88012, "", "", False, ""))],
        "douyin_7429876543210987603.info.json": [("7429876543210987603", (
            "douyin", "https://www.douyin.com/video/7429876543210987603", "2026-09-08T03:00:00Z",
            "内科克利等船，海边的帐篷营地 #达连", "beishang88", None, "", "", False, ""))],
        "tiktok_7431029384756102905.info.json": [("7431029384756102905", (
            "tiktok", "https://www.tiktok.com/@xiao_lu_walks/video/7431029384756102905", "2026-09-07T21:00:00Z",
            "内科克利的船票，每人 40 美元，救生衣要自己买 #走线 #达连", "xiao_lu_walks", 5565, "", "", False, ""))],
        "twitter_1843098765432101234.info.json": [("1843098765432101234", (
            "x", "https://x.com/rutanorte_mx/status/1843098765432101234", "2026-10-05T21:09:27Z",
            "Así está el río hoy en el Darién. No crucen de noche. https://t.co/AbCdEf1234", "rutanorte_mx", 15400,
            "https://x.com/rutanorte_mx/status/1843098765432101234", "", False, ""))],
        "youtube_Rn8uT2aJcQe.info.json": [("Rn8uT2aJcQe", (
            "youtube", watch + "Rn8uT2aJcQe", "2026-10-03T14:00:07Z", river, "UCr7Nq2TbW5xK8pLm3vD9aQe", 18507, "", "",
            False, ""))],
        "youtube_Rn8uT2aJcQe_comments.info.json": [("Rn8uT2aJcQe", (
            "youtube", watch + "Rn8uT2aJcQe", "2026-10-03T14:00:07Z", river, "UCr7Nq2TbW5xK8pLm3vD9aQe", 18507, "", "",
            False, ""))],
        # a flat search: no dates, the description cut to its first lines; a Short stays a Short
        "ytsearch4_zouxian.info.json": [
            ("Rn8uT2aJcQe", ("youtube", watch + "Rn8uT2aJcQe", "", river.rsplit("\n", 1)[0], "UCr7Nq2TbW5xK8pLm3vD9aQe",
                             18507, "", "", False, "")),
            ("Ty6uI9oPa3S", ("youtube", "https://www.youtube.com/shorts/Ty6uI9oPa3S", "", "走线的人在塔帕丘拉排队 #shorts",
                             "", 733, "", "", False, "")),
            ("Dk2fG5hJl8Z", ("youtube", watch + "Dk2fG5hJl8Z", "", "Zouxian: the route explained (English subtitles)\n"
                             "Why Chinese migrants fly to Ecuador first, and what changed in July 2024.",
                             "UCq3Wm8Er1Ty4Ui7Op0As2Df", 120334, "", "", False, ""))],
    }


def test_a_search_result_s_cut_description_is_completed_by_the_full_capture(tmp_path):
    """Found first by a flat search (the description's first lines), then by the watch page: the post keeps the
    whole text and is read again; a different caption from a later capture never replaces the first."""
    from crawlers.store import store_post

    flat = list(posts_from_info(info("ytsearch4_zouxian.info.json"), source="s", discovered_via="ytsearch4:走线"))[0]
    full = one("youtube_Rn8uT2aJcQe.info.json")
    cat = Catalog(tmp_path / "catalog.sqlite")
    try:
        store_post(cat, flat)
        cat.set_status(flat.post_id, "extract", "done")
        store_post(cat, full)
        assert cat.get_post(flat.post_id).caption == full.caption
        assert cat.status_of(flat.post_id, "extract") is None  # extracted again from the whole text
        from dataclasses import replace

        store_post(cat, replace(full, caption="另一个标题"))
        assert cat.get_post(flat.post_id).caption == full.caption
    finally:
        cat.close()
