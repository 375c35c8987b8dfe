"""YouTube: channel and playlist Atom feeds become posts; watch pages and listings are read as embedded."""

import json
from pathlib import Path

import pytest

from crawlers.base import Follow, Page
from crawlers.routing import crawler_for, matching
from crawlers.youtube import YouTube, YouTubeFeed
from routewatch.core.errors import RouteWatchError
from routewatch.core.records import Post, post_id_for
from tests.crawlers.records import collect, origin_env, records
from tests.httpserver import TestServer, respond

DATA = Path(__file__).resolve().parents[1] / "data" / "youtube"
CHANNEL_FEED = "https://www.youtube.com/feeds/videos.xml?channel_id=UCr7Nq2TbW5xK8pLm3vD9aQe"
PLAYLIST_FEED = "https://www.youtube.com/feeds/videos.xml?playlist_id=PLx9Qm2RutaNorteDarien01"


def page(url: str, name: str | None = None, body: bytes | None = None) -> Page:
    return Page(url=url, fetch_url=url, status=200, body=body if body is not None else (DATA / name).read_bytes(),
                source="yt:rutanorte", captured_at="2026-10-06T00:00:00Z")


@pytest.mark.parametrize("url", [CHANNEL_FEED, PLAYLIST_FEED])
def test_youtube_feeds_route_only_to_youtube_feed(url):
    assert [c.name for c in matching(url)] == ["youtube_feed.v1"]


def test_other_feeds_still_route_to_feed_v1():
    assert crawler_for("https://example.org/news/feed.xml").name == "feed.v1"


def test_channel_feed_entries_become_posts():
    posts = list(YouTubeFeed().discover(page(CHANNEL_FEED, "channel_UCr7Nq2TbW5xK8pLm3vD9aQe.xml")))
    assert [p.platform_id for p in posts] == ["Rn8uT2aJcQe", "Zx7Vd0LpQ3k", "Kp3mW9sYt1E"]
    river = posts[0]
    assert river.post_id == post_id_for("youtube", "Rn8uT2aJcQe")
    assert river.platform == "youtube"
    assert river.url == river.page_url == "https://www.youtube.com/watch?v=Rn8uT2aJcQe"
    assert river.caption == "走线第三天：达连丛林里的河\n早上六点出发，中午到河边。向导说水位比上周低。\n这一段每人另外收 20 美元。"
    assert river.author_handle == "UCr7Nq2TbW5xK8pLm3vD9aQe"  # the channel id; its name in extra
    assert river.posted_at == "2026-10-03T14:00:07Z"
    assert river.views == 18422
    assert river.discovered_via == CHANNEL_FEED
    assert river.media_url == ""  # the fetch stage reads the watch page through yt-dlp
    assert json.loads(river.extra_json) == {
        "from": "atom_feed", "channel_id": "UCr7Nq2TbW5xK8pLm3vD9aQe", "channel_name": "北上路线 Ruta Norte",
        "playlist_id": "",
        "updated": "2026-10-05T02:11:40Z", "title": "走线第三天：达连丛林里的河", "is_short": False,
        "thumbnail": "https://i2.ytimg.com/vi/Rn8uT2aJcQe/hqdefault.jpg",
    }


def test_short_without_description_and_offset_dates():
    posts = {p.platform_id: p for p in YouTubeFeed().discover(page(CHANNEL_FEED, "channel_UCr7Nq2TbW5xK8pLm3vD9aQe.xml"))}
    short = posts["Zx7Vd0LpQ3k"]
    assert short.caption == "Bus Quito → Tulcán, 15 USD #shorts"
    assert short.url == short.page_url == "https://www.youtube.com/shorts/Zx7Vd0LpQ3k"  # as YouTube shows it
    assert json.loads(short.extra_json)["is_short"] is True
    cost = posts["Kp3mW9sYt1E"]
    assert cost.posted_at == "2026-09-28T17:00:00Z"  # -05:00 → UTC
    assert cost.views == 0


def test_playlist_feed_keeps_playlist_and_each_videos_channel():
    posts = list(YouTubeFeed().discover(page(PLAYLIST_FEED, "playlist_PLx9Qm2RutaNorteDarien01.xml")))
    assert [(p.platform_id, p.author_handle) for p in posts] == [
        ("Rn8uT2aJcQe", "UCr7Nq2TbW5xK8pLm3vD9aQe"), ("Wq4eR7tYu2I", "UCa1Lt5Gp8Hk3Jm6Nb9Vc2Xz")]
    assert json.loads(posts[1].extra_json)["channel_name"] == "Caminantes"
    extra = json.loads(posts[1].extra_json)
    assert extra["playlist_id"] == "PLx9Qm2RutaNorteDarien01"
    assert extra["channel_id"] == "UCa1Lt5Gp8Hk3Jm6Nb9Vc2Xz"
    # the description repeats the title: said once
    assert posts[1].caption == "Darién día 4 – llegada a Bajo Chiquito. Registro con SENAFRONT y comida caliente."


def test_same_video_in_two_feeds_is_one_post():
    a = next(iter(YouTubeFeed().discover(page(CHANNEL_FEED, "channel_UCr7Nq2TbW5xK8pLm3vD9aQe.xml"))))
    b = next(iter(YouTubeFeed().discover(page(PLAYLIST_FEED, "playlist_PLx9Qm2RutaNorteDarien01.xml"))))
    assert a.post_id == b.post_id


def test_malformed_feed_is_E104():
    with pytest.raises(RouteWatchError) as ei:
        list(YouTubeFeed().discover(page(CHANNEL_FEED, body=b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>")))
    assert ei.value.code.value == "E104"


def test_feed_with_external_entity_is_not_expanded():
    evil = (b"<?xml version='1.0'?><!DOCTYPE f [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
            b"<feed xmlns='http://www.w3.org/2005/Atom' xmlns:yt='http://www.youtube.com/xml/schemas/2015'>"
            b"<entry><yt:videoId>Rn8uT2aJcQe</yt:videoId><title>&x;</title></entry></feed>")
    posts = list(YouTubeFeed().discover(page(CHANNEL_FEED, body=evil)))
    assert "root:" not in posts[0].caption


@pytest.mark.parametrize(("url", "vid"), [
    ("https://www.youtube.com/watch?v=Rn8uT2aJcQe", "Rn8uT2aJcQe"),
    ("https://m.youtube.com/watch?feature=share&v=Rn8uT2aJcQe&t=42s", "Rn8uT2aJcQe"),
    ("https://www.youtube.com/shorts/Zx7Vd0LpQ3k", "Zx7Vd0LpQ3k"),
    ("https://youtu.be/Rn8uT2aJcQe?si=abc", "Rn8uT2aJcQe"),
    ("https://www.youtube.com/@rutanorte", None),
])
def test_video_id_of_watch_short_and_share_urls(url, vid):
    assert crawler_for(url).name == "youtube.v1"
    assert YouTube.video_id(url) == vid


def test_watch_page_player_response_becomes_a_post():
    url = "https://www.youtube.com/watch?v=Rn8uT2aJcQe"
    [p] = list(YouTube().discover(page(url, "watch_Rn8uT2aJcQe.html")))
    assert isinstance(p, Post)
    assert p.post_id == post_id_for("youtube", "Rn8uT2aJcQe")
    assert p.caption == "走线第三天：达连丛林里的河\n早上六点出发，中午到河边。向导说水位比上周低。\n这一段每人另外收 20 美元。"
    assert p.author_handle == "UCr7Nq2TbW5xK8pLm3vD9aQe"  # as in the feed: one channel, one author
    assert json.loads(p.extra_json)["channel_name"] == "北上路线 Ruta Norte"
    assert p.posted_at == "2026-10-03T14:00:07Z"
    assert p.views == 18507
    # the uploaded (not auto-generated) track is the platform subtitle
    assert p.subtitles_url.endswith("&signature=D4E5F6&key=yt8&lang=es&fmt=vtt")
    assert p.lang == "es"
    extra = json.loads(p.extra_json)
    assert extra["duration"] == 412
    assert extra["caption_tracks"] == ["zh-Hans", "es"]
    assert extra["channel_handle"] == "@rutanorte"


def test_channel_listing_follows_each_video_once():
    url = "https://www.youtube.com/channel/UCr7Nq2TbW5xK8pLm3vD9aQe/videos"
    out = list(YouTube().discover(page(url, "channel_videos.html")))
    assert out == [Follow("https://www.youtube.com/watch?v=Rn8uT2aJcQe", crawler="youtube.v1"),
                   Follow("https://www.youtube.com/watch?v=Kp3mW9sYt1E", crawler="youtube.v1"),
                   Follow("https://www.youtube.com/watch?v=Hs5tG8uJk0L", crawler="youtube.v1"),
                   Follow("https://www.youtube.com/shorts/Zx7Vd0LpQ3k", crawler="youtube.v1")]  # a Short stays a Short


# ---- the real crawl through a local origin: every field of every post (issue 19) ---------------------------------

ROBOTS = {"/robots.txt": lambda h: respond(h, 200, b"User-agent: *\nAllow: /\n", "text/plain")}
RIVER = "走线第三天：达连丛林里的河\n早上六点出发，中午到河边。向导说水位比上周低。\n这一段每人另外收 20 美元。"
COST = "Cuánto cuesta la ruta completa (octubre 2026)\nVuelo, buses, lancha y guía: sumamos todo. Total aproximado 6.500 USD por persona."
CHANNEL = "UCr7Nq2TbW5xK8pLm3vD9aQe"
YT = {"platform": "youtube", "author": CHANNEL, "signer": "", "forwarded_from": "", "edited": False, "reply_to": "",
      "media": "not fetched"}  # YouTube's media needs yt-dlp's YouTube extractor: the real site, not a local origin


def _serve(name: str):
    return lambda h: respond(h, 200, (DATA / name).read_bytes())


def test_channel_then_playlist_feed_crawled_keep_every_field(tmp_path):
    routes = {**ROBOTS,
              "/feeds/videos.xml?channel_id=UCr7Nq2TbW5xK8pLm3vD9aQe":
                  lambda h: respond(h, 200, (DATA / "channel_UCr7Nq2TbW5xK8pLm3vD9aQe.xml").read_bytes(), "application/atom+xml"),
              "/feeds/videos.xml?playlist_id=PLx9Qm2RutaNorteDarien01":
                  lambda h: respond(h, 200, (DATA / "playlist_PLx9Qm2RutaNorteDarien01.xml").read_bytes(), "application/atom+xml")}
    data = tmp_path / "data"
    with TestServer(routes) as srv:
        env = origin_env(srv, "youtube")
        collect(data, env, "crawl", "--url", CHANNEL_FEED, fetch=False)
        collect(data, env, "crawl", "--url", PLAYLIST_FEED, fetch=False)
    assert records(data) == {
        # seen in both feeds: the later capture's count
        "Rn8uT2aJcQe": {**YT, "url": "https://www.youtube.com/watch?v=Rn8uT2aJcQe", "posted_at": "2026-10-03T14:00:07Z",
                        "text": RIVER, "views": 18455},
        "Zx7Vd0LpQ3k": {**YT, "url": "https://www.youtube.com/shorts/Zx7Vd0LpQ3k", "posted_at": "2026-10-01T22:30:00Z",
                        "text": "Bus Quito → Tulcán, 15 USD #shorts", "views": 5120},
        "Kp3mW9sYt1E": {**YT, "url": "https://www.youtube.com/watch?v=Kp3mW9sYt1E", "posted_at": "2026-09-28T17:00:00Z",
                        "text": COST, "views": 0},
        "Wq4eR7tYu2I": {**YT, "url": "https://www.youtube.com/watch?v=Wq4eR7tYu2I", "posted_at": "2026-10-04T18:45:00Z",
                        "text": "Darién día 4 – llegada a Bajo Chiquito. Registro con SENAFRONT y comida caliente.",
                        "views": 2203, "author": "UCa1Lt5Gp8Hk3Jm6Nb9Vc2Xz"},
    }


def test_channel_page_from_a_url_list_to_watch_and_shorts_pages_keep_every_field(tmp_path):
    """A URL list names the channel's videos page; its watch pages and its Short are crawled (scrapy + youtube.v1)."""
    seeds = b"# channels to follow\nhttps://www.youtube.com/channel/UCr7Nq2TbW5xK8pLm3vD9aQe/videos\n"
    routes = {**ROBOTS, "/lists/youtube-seeds.txt": lambda h: respond(h, 200, seeds, "text/plain"),
              "/channel/UCr7Nq2TbW5xK8pLm3vD9aQe/videos": lambda h: respond(h, 200, (DATA / "channel_videos.html").read_bytes()),
              **{f"/watch?v={v}": _serve(f"watch_{v}.html") for v in ("Rn8uT2aJcQe", "Kp3mW9sYt1E", "Hs5tG8uJk0L")},
              "/shorts/Zx7Vd0LpQ3k": _serve("shorts_Zx7Vd0LpQ3k.html")}
    data = tmp_path / "data"
    with TestServer(routes) as srv:
        collect(data, origin_env(srv, "youtube"), "crawl", "--url", f"{srv.base}/lists/youtube-seeds.txt", fetch=False)
        assert "/shorts/Zx7Vd0LpQ3k" in srv.log and "/watch?v=Zx7Vd0LpQ3k" not in srv.log
    assert records(data) == {
        "Rn8uT2aJcQe": {**YT, "url": "https://www.youtube.com/watch?v=Rn8uT2aJcQe", "posted_at": "2026-10-03T14:00:07Z",
                        "text": RIVER, "views": 18507},
        "Kp3mW9sYt1E": {**YT, "url": "https://www.youtube.com/watch?v=Kp3mW9sYt1E", "posted_at": "2026-09-28T17:00:00Z",
                        "text": COST, "views": 1},
        "Hs5tG8uJk0L": {**YT, "url": "https://www.youtube.com/watch?v=Hs5tG8uJk0L", "posted_at": "2026-09-21T01:45:00Z",
                        "text": "图尔坎边境排队实录\n排了三个小时。\n护照要复印两份。", "views": 2403},
        "Zx7Vd0LpQ3k": {**YT, "url": "https://www.youtube.com/shorts/Zx7Vd0LpQ3k", "posted_at": "2026-10-01T22:30:00Z",
                        "text": "Bus Quito → Tulcán, 15 USD #shorts", "views": 5121},
    }


def test_watch_page_without_player_data_still_names_the_channel():
    """A watch page served without its player response (a consent or bot-check variant) keeps what its meta tags
    say: the title, description, date, count, and the channel id (itemprop channelId) as the author."""
    html = (DATA / "watch_Hs5tG8uJk0L.html").read_text(encoding="utf-8")
    html = html[:html.index("<script")] + ('<div itemscope itemtype="http://schema.org/VideoObject">'
                                           '<meta itemprop="channelId" content="UCr7Nq2TbW5xK8pLm3vD9aQe"></div></body></html>')
    url = "https://www.youtube.com/watch?v=Hs5tG8uJk0L"
    [p] = list(YouTube().discover(page(url, body=html.encode())))
    assert (p.url, p.author_handle, p.posted_at, p.views, p.caption) == (
        url, "UCr7Nq2TbW5xK8pLm3vD9aQe", "2026-09-21T01:45:00Z", 2403, "图尔坎边境排队实录\n排了三个小时。 护照要复印两份。")


def test_a_short_first_seen_as_a_watch_url_takes_its_shorts_url(tmp_path):
    """A search or listing that did not say it is a Short stored watch?v=<id>; the feed shows /shorts/<id>: the post
    takes the address YouTube shows, and a later watch-form sighting does not undo it."""
    from dataclasses import replace

    from crawlers.store import store_post
    from routewatch.core.catalog import Catalog

    [short] = [p for p in YouTubeFeed().discover(page(CHANNEL_FEED, "channel_UCr7Nq2TbW5xK8pLm3vD9aQe.xml"))
               if p.platform_id == "Zx7Vd0LpQ3k"]
    watch = replace(short, url="https://www.youtube.com/watch?v=Zx7Vd0LpQ3k", page_url="https://www.youtube.com/watch?v=Zx7Vd0LpQ3k")
    cat = Catalog(tmp_path / "catalog.sqlite")
    try:
        store_post(cat, watch)
        store_post(cat, short)
        got = cat.get_post(short.post_id)
        assert (got.url, got.page_url) == ("https://www.youtube.com/shorts/Zx7Vd0LpQ3k",) * 2
        store_post(cat, watch)
        assert cat.get_post(short.post_id).url == "https://www.youtube.com/shorts/Zx7Vd0LpQ3k"
    finally:
        cat.close()
