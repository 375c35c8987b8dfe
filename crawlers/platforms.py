"""Short-video platforms yt-dlp knows (TikTok, Douyin, Bilibili, Kuaishou, X): URL routing and page parsing.

In: a post or listing page of one platform.  Out: a Post from the metadata the page embeds
(TikTok `__UNIVERSAL_DATA_FOR_REHYDRATION__`, Douyin `RENDER_DATA`, Bilibili `__INITIAL_STATE__`,
Kuaishou `__APOLLO_STATE__`, else Open Graph tags), or Follows to the posts a listing links to.
The main discovery path for these platforms is yt-dlp (crawlers/ytdlp_discovery.py); the item
mappers here are shared with the Zeeschuimer import. Never fetches anything itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector
from yt_dlp.utils import traverse_obj

from crawlers.base import Crawler, Follow, Page, register
from crawlers.values import (
    as_int,
    ascii_digits,
    caption_of,
    embedded_json,
    iso_from_epoch,
    iso_time,
    meta_tags,
    norm_date,
    script_json,
)
from crawlers.values import dumps as _dumps
from routewatch.core.records import Post, post_id_for


def _links(sel: Selector, base: str, pattern: str) -> Iterator[str]:
    seen: set[str] = set()
    rx = re.compile(pattern)
    for href in sel.css("a::attr(href)").getall():
        url = urljoin(base, href.strip())
        m = rx.match(url)
        if m and m.group(0) not in seen:
            seen.add(m.group(0))
            yield m.group(0)


# ---- TikTok ----------------------------------------------------------------------------------------


def tiktok_url(handle: str, video_id: str) -> str:
    return f"https://www.tiktok.com/@{handle}/video/{video_id}"


def tiktok_item_post(item: dict[str, Any], *, source: str, captured_at: str, discovered_via: str,
                     extra: dict[str, Any] | None = None) -> Post | None:
    """A TikTok web item (the `itemStruct` the web app and Zeeschuimer see) → Post; None without an id."""
    vid = ascii_digits(item.get("id") or "")
    if not (vid.isascii() and vid.isdigit()):
        return None
    author = item.get("author")
    if isinstance(author, dict):
        handle = str(author.get("uniqueId") or "")
    else:  # older embedded shape: author is the handle itself
        handle = str(author or "")
    video = traverse_obj(item, ("video", {dict})) or {}
    # the play address, else the first of the first bit rate that lists one
    media = str(video.get("playAddr") or video.get("downloadAddr")
                or traverse_obj(video, ("bitrateInfo", ..., "PlayAddr", "UrlList", 0, {str}), get_all=False) or "")
    stats = traverse_obj(item, ("stats", {dict})) or {}
    stats2 = traverse_obj(item, ("statsV2", {dict})) or {}
    views = traverse_obj(item, (("stats", "statsV2"), "playCount", {as_int}), get_all=False)
    hashtags = traverse_obj(item, ("textExtra", ..., "hashtagName", {lambda v: v or None}))
    url = tiktok_url(handle, vid)
    meta = {
        "duration": video.get("duration"),
        "hashtags": hashtags or [c.get("title") for c in item.get("challenges") or [] if isinstance(c, dict)],
        "stats": stats or stats2,
        "location_created": item.get("locationCreated"),
        "author_nickname": author.get("nickname") if isinstance(author, dict) else item.get("nickname"),
    }
    meta.update(extra or {})
    return Post(
        post_id=post_id_for("tiktok", vid), platform="tiktok", platform_id=vid, url=url, source=source,
        caption=str(item.get("desc") or ""), author_handle=handle, posted_at=iso_time(item.get("createTime")),
        captured_at=captured_at, lang=str(item.get("textLanguage") or "") if item.get("textLanguage") != "un" else "",
        media_url=media, page_url=url, discovered_via=discovered_via, views=views, extra_json=_dumps(meta),
    )


# ---- Douyin ----------------------------------------------------------------------------------------


def douyin_url(video_id: str) -> str:
    return f"https://www.douyin.com/video/{video_id}"


def _douyin_play_url(video: dict[str, Any]) -> str:
    """The play address; the www.douyin.com/aweme/v1/play form outlives the signed CDN links, so prefer it."""
    urls: list[str] = []
    pa = video.get("play_addr")
    if isinstance(pa, dict):
        urls = [str(u) for u in pa.get("url_list") or []]
    elif isinstance(video.get("playAddr"), list):  # RENDER_DATA (camelCase) shape: [{"src": "//..."}]
        urls = [str(p.get("src") or "") for p in video["playAddr"] if isinstance(p, dict)]
    urls = [("https:" + u) if u.startswith("//") else u for u in urls if u]
    for u in urls:
        if "/aweme/v1/play" in u:
            return u
    return urls[0] if urls else ""


def douyin_aweme_post(aweme: dict[str, Any], *, source: str, captured_at: str, discovered_via: str,
                      extra: dict[str, Any] | None = None) -> Post | None:
    """A Douyin aweme (web API snake_case, or the page's camelCase RENDER_DATA) → Post; None without an id."""
    vid = ascii_digits(aweme.get("aweme_id") or aweme.get("awemeId") or aweme.get("id") or "")
    if not (vid.isascii() and vid.isdigit()):
        return None
    author = aweme.get("author") or aweme.get("authorInfo") or {}
    if not isinstance(author, dict):
        author = {}
    handle = str(author.get("unique_id") or author.get("uniqueId") or author.get("short_id")
                 or author.get("shortId") or author.get("nickname") or "")
    video = traverse_obj(aweme, ("video", {dict})) or {}
    stats = aweme.get("statistics") or aweme.get("stats") or {}
    views = as_int(stats.get("play_count", stats.get("playCount")))
    duration_ms = as_int(video.get("duration") or aweme.get("duration"))
    tags = aweme.get("text_extra") or aweme.get("textExtra") or []
    hashtags = traverse_obj(tags, (..., {dict}, {lambda t: t.get("hashtag_name") or t.get("hashtagName") or None}))
    url = douyin_url(vid)
    meta = {
        "duration": duration_ms / 1000.0 if duration_ms else None,
        "hashtags": hashtags,
        "stats": stats,
        "author_nickname": author.get("nickname"),
        "author_sec_uid": author.get("sec_uid") or author.get("secUid"),
        "region": aweme.get("region"),
    }
    meta.update(extra or {})
    return Post(
        post_id=post_id_for("douyin", vid), platform="douyin", platform_id=vid, url=url, source=source,
        caption=str(aweme.get("desc") or ""), author_handle=handle,
        posted_at=iso_time(aweme.get("create_time") or aweme.get("createTime")), captured_at=captured_at,
        media_url=_douyin_play_url(video), page_url=url, discovered_via=discovered_via,
        views=views or None,  # Douyin's web API reports play_count 0 for everything: unknown, not zero
        extra_json=_dumps(meta),
    )


def _find_key(obj: Any, key: str, depth: int = 6) -> Any:
    """First value under `key` anywhere in nested dicts (embedded page state moves between releases)."""
    if depth < 0:
        return None
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            found = _find_key(v, key, depth - 1)
            if found is not None:
                return found
    return None


def _og_post(page: Page, sel: Selector, platform: str, platform_id: str, *, author: str = "",
             media_from_page: bool = False) -> Post | None:
    """Fallback: the Open Graph / twitter card tags every platform serves to link unfurlers."""
    meta = meta_tags(sel)
    title = meta.get("og:title") or (sel.css("title::text").get() or "").strip()
    desc = meta.get("og:description") or meta.get("description") or ""
    if not (title or desc):
        return None
    video = meta.get("og:video") or meta.get("og:video:url") or meta.get("og:video:secure_url") or ""
    media = urljoin(page.url, video) if video else (page.url if media_from_page else "")
    return Post(
        post_id=post_id_for(platform, platform_id), platform=platform, platform_id=platform_id, url=page.url,
        source=page.source, caption=caption_of(title, desc), author_handle=author,
        posted_at=norm_date(meta.get("article:published_time") or meta.get("uploadDate") or meta.get("datePublished") or ""),
        captured_at=page.captured_at, media_url=media, page_url=page.url,
        discovered_via=page.discovered_via or page.url, extra_json=_dumps({"from": "open_graph"}),
    )


class _PlatformCrawler(Crawler):
    """yt-dlp is the main discovery path for these URLs (crawlers.ytdlp_discovery.ytdlp_handles)."""

    prefers_ytdlp = True


@register
class TikTok(_PlatformCrawler):
    name = "tiktok.v1"
    platform = "tiktok"
    URL_PATTERNS = (
        r"^https?://(?:www\.|m\.)?tiktok\.com/@[\w.-]+/(?:video|photo)/\d+/?(?:[?#].*)?$",
        r"^https?://(?:www\.)?tiktok\.com/embed(?:/v2)?/\d+/?(?:[?#].*)?$",
        r"^https?://(?:vm|vt)\.tiktok\.com/\w+/?$",
        r"^https?://(?:www\.)?tiktok\.com/@[\w.-]+/?(?:\?.*)?$",
        r"^https?://(?:www\.)?tiktok\.com/tag/[^/?#]+/?(?:\?.*)?$",
    )
    TESTS = (
        "https://www.tiktok.com/@ruta.norte.2026/video/7431029384756102938",
        "https://www.tiktok.com/@ruta.norte.2026/video/7431029384756102938?lang=es",
        "https://vm.tiktok.com/ZMh3kL9pQ/",
        "https://www.tiktok.com/@ruta.norte.2026",
        "https://www.tiktok.com/tag/zouxian",
        "https://www.tiktok.com/embed/v2/7431029384756102938",
    )
    _POST = re.compile(r"/(?:video|photo|embed(?:/v2)?)/(\d+)")

    def discover(self, page: Page) -> Iterator[Post | Follow]:
        sel = Selector(text=page.text())
        m = self._POST.search(urlsplit(page.url).path)
        data = script_json(sel, "__UNIVERSAL_DATA_FOR_REHYDRATION__")
        item = _find_key(traverse_obj(data, ("__DEFAULT_SCOPE__", "webapp.video-detail")), "itemStruct")
        if isinstance(item, dict):
            post = tiktok_item_post(item, source=page.source, captured_at=page.captured_at,
                                    discovered_via=page.discovered_via or page.url, extra={"from": "rehydration_data"})
            if post:
                yield post
                return
        sigi = script_json(sel, "SIGI_STATE") or {}
        items = traverse_obj(sigi, ("ItemModule", {dict})) or {}
        if items:
            for it in items.values():
                post = tiktok_item_post(it, source=page.source, captured_at=page.captured_at,
                                        discovered_via=page.discovered_via or page.url, extra={"from": "sigi_state"})
                if post:
                    yield post
            return
        if m:
            handle = urlsplit(page.url).path.split("/")[1].lstrip("@")
            post = _og_post(page, sel, "tiktok", m.group(1), author=handle)
            if post:
                yield post
            return
        for url in _links(sel, page.url, r"^https://www\.tiktok\.com/@[\w.-]+/video/\d+"):
            yield Follow(url, crawler=self.name)


@register
class Douyin(_PlatformCrawler):
    name = "douyin.v1"
    platform = "douyin"
    URL_PATTERNS = (
        r"^https?://(?:www\.)?douyin\.com/(?:video|note)/\d+/?(?:[?#].*)?$",
        r"^https?://(?:www\.)?iesdouyin\.com/share/video/\d+/?(?:[?#].*)?$",
        r"^https?://v\.douyin\.com/\w+/?$",
        r"^https?://(?:www\.)?douyin\.com/user/[\w-]+/?(?:\?.*)?$",
        r"^https?://(?:www\.)?douyin\.com/search/[^/?#]+/?(?:\?.*)?$",
    )
    TESTS = (
        "https://www.douyin.com/video/7429876543210987654",
        "https://www.iesdouyin.com/share/video/7429876543210987654/",
        "https://v.douyin.com/iRNBho6u/",
        "https://www.douyin.com/user/MS4wLjABAAAAv7iSuuXDJGDvJkmH_vz1qkDZYo1apxgzaxdBSeIuPiM",
        "https://www.douyin.com/search/%E8%B5%B0%E7%BA%BF?type=video",
    )
    _POST = re.compile(r"/(?:video|note|share/video)/(\d+)")

    def discover(self, page: Page) -> Iterator[Post | Follow]:
        sel = Selector(text=page.text())
        m = self._POST.search(urlsplit(page.url).path)
        if m:
            data = script_json(sel, "RENDER_DATA", url_encoded=True)
            aweme = _find_key(_find_key(data, "aweme"), "detail") if data else None
            if isinstance(aweme, dict):
                post = douyin_aweme_post(aweme, source=page.source, captured_at=page.captured_at,
                                         discovered_via=page.discovered_via or page.url, extra={"from": "render_data"})
                if post:
                    yield post
                    return
            post = _og_post(page, sel, "douyin", m.group(1))
            if post:
                yield post
            return
        for url in _links(sel, page.url, r"^https://www\.douyin\.com/video/\d+"):
            yield Follow(url, crawler=self.name)


@register
class Bilibili(_PlatformCrawler):
    name = "bilibili.v1"
    platform = "bilibili"
    URL_PATTERNS = (
        r"^https?://(?:www\.|m\.)?bilibili\.com/video/(?:BV[0-9A-Za-z]{10}|av\d+)/?(?:[?#].*)?$",
        r"^https?://b23\.tv/\w+/?$",
        r"^https?://space\.bilibili\.com/\d+(?:/video|/upload/video)?/?(?:[?#].*)?$",
        r"^https?://search\.bilibili\.com/(?:all|video)\?.*keyword=.+$",
    )
    TESTS = (
        "https://www.bilibili.com/video/BV1Xq4y1m7Zc",
        "https://www.bilibili.com/video/BV1Xq4y1m7Zc/?p=2",
        "https://b23.tv/a1B2c3D",
        "https://space.bilibili.com/3546612345678901/video",
        "https://search.bilibili.com/all?keyword=%E8%B5%B0%E7%BA%BF",
    )
    _POST = re.compile(r"/video/(BV[0-9A-Za-z]{10}|av\d+)")

    def discover(self, page: Page) -> Iterator[Post | Follow]:
        html = page.text()
        sel = Selector(text=html)
        m = self._POST.search(urlsplit(page.url).path)
        if m:
            state = embedded_json(html, "window.__INITIAL_STATE__=")
            vd = traverse_obj(state, ("videoData", {dict}))
            if isinstance(vd, dict) and vd.get("bvid"):
                bvid = str(vd["bvid"])
                url = f"https://www.bilibili.com/video/{bvid}"
                owner = traverse_obj(vd, ("owner", {dict})) or {}
                yield Post(
                    post_id=post_id_for("bilibili", bvid), platform="bilibili", platform_id=bvid, url=url,
                    source=page.source, caption=caption_of(vd.get("title"), vd.get("desc")),
                    author_handle=str(owner.get("name") or ""), posted_at=iso_from_epoch(vd.get("pubdate")),
                    captured_at=page.captured_at, page_url=url, discovered_via=page.discovered_via or page.url,
                    views=traverse_obj(vd, ("stat", "view", {as_int})),
                    extra_json=_dumps({"from": "initial_state", "aid": vd.get("aid"), "duration": vd.get("duration"),
                                       "owner_mid": owner.get("mid"), "tname": vd.get("tname")}),
                )
                return
            post = _og_post(page, sel, "bilibili", m.group(1))
            if post:
                yield post
            return
        for url in _links(sel, page.url, r"^https://www\.bilibili\.com/video/BV[0-9A-Za-z]{10}"):
            yield Follow(url, crawler=self.name)


@register
class Kuaishou(_PlatformCrawler):
    name = "kuaishou.v1"
    platform = "kuaishou"
    URL_PATTERNS = (
        r"^https?://(?:www\.)?kuaishou\.com/short-video/\w+/?(?:[?#].*)?$",
        r"^https?://v\.kuaishou\.com/\w+/?$",
        r"^https?://(?:www\.)?kuaishou\.com/profile/\w+/?(?:[?#].*)?$",
    )
    TESTS = (
        "https://www.kuaishou.com/short-video/3xk9m2q7w5e4r8t",
        "https://www.kuaishou.com/short-video/3xk9m2q7w5e4r8t?authorId=3xabc123",
        "https://v.kuaishou.com/Jq8mZ2",
        "https://www.kuaishou.com/profile/3xabc123def456",
    )
    _POST = re.compile(r"/short-video/(\w+)")

    def discover(self, page: Page) -> Iterator[Post | Follow]:
        html = page.text()
        sel = Selector(text=html)
        m = self._POST.search(urlsplit(page.url).path)
        if m:
            state = embedded_json(html, "window.__APOLLO_STATE__=")
            client = traverse_obj(state, ("defaultClient", {dict})) or {}
            photo = traverse_obj(client, (f"VisionVideoDetailPhoto:{m.group(1)}", {dict}))
            if isinstance(photo, dict):
                author = next((v for k, v in client.items() if k.startswith("VisionVideoDetailAuthor:")), {})
                pid = m.group(1)
                yield Post(
                    post_id=post_id_for("kuaishou", pid), platform="kuaishou", platform_id=pid, url=page.url.split("?")[0],
                    source=page.source, caption=str(photo.get("caption") or ""),
                    author_handle=str(traverse_obj(author, "name") or ""),
                    posted_at=iso_from_epoch(photo.get("timestamp"), millis=True), captured_at=page.captured_at,
                    media_url=str(photo.get("photoUrl") or ""), page_url=page.url.split("?")[0],
                    discovered_via=page.discovered_via or page.url, views=as_int(photo.get("viewCount")),
                    extra_json=_dumps({"from": "apollo_state", "duration": (as_int(photo.get("duration")) or 0) / 1000.0,
                                       "author_id": traverse_obj(author, "id")}),
                )
                return
            post = _og_post(page, sel, "kuaishou", m.group(1))
            if post:
                yield post
            return
        for url in _links(sel, page.url, r"^https://www\.kuaishou\.com/short-video/\w+"):
            yield Follow(url, crawler=self.name)


@register
class X(_PlatformCrawler):
    name = "x.v1"
    platform = "x"
    URL_PATTERNS = (
        r"^https?://(?:www\.|mobile\.)?(?:x|twitter)\.com/\w{1,15}/status/\d+(?:/(?:video|photo)/\d+)?/?(?:[?#].*)?$",
        r"^https?://(?:www\.)?(?:x|twitter)\.com/hashtag/[^/?#]+/?(?:\?.*)?$",
        r"^https?://(?:www\.)?(?:x|twitter)\.com/(?!(?:home|explore|search|i|settings|hashtag|messages)(?:[/?#]|$))\w{1,15}/?(?:\?.*)?$",
    )
    TESTS = (
        "https://x.com/rutanorte_mx/status/1843098765432101234",
        "https://twitter.com/rutanorte_mx/status/1843098765432101234/video/1",
        "https://x.com/hashtag/Darien",
        "https://x.com/rutanorte_mx",
    )
    _POST = re.compile(r"^/(\w{1,15})/status/(\d+)")

    def discover(self, page: Page) -> Iterator[Post | Follow]:
        sel = Selector(text=page.text())
        m = self._POST.match(urlsplit(page.url).path)
        if m:
            # X serves the post's text to unfurlers only; a video is fetched later through the post URL
            canonical = f"https://x.com/{m.group(1)}/status/{m.group(2)}"
            meta = meta_tags(sel)
            has_video = bool(meta.get("og:video") or meta.get("twitter:player:stream")
                             or (meta.get("og:type") or "").startswith("video"))
            post = _og_post(Page(url=canonical, fetch_url=page.fetch_url, status=page.status, body=page.body,
                                 source=page.source, captured_at=page.captured_at,
                                 discovered_via=page.discovered_via or page.url),
                            sel, "x", m.group(2), author=m.group(1), media_from_page=has_video)
            if post:
                yield post
            return
        for url in _links(sel, page.url, r"^https://(?:x|twitter)\.com/\w{1,15}/status/\d+"):
            yield Follow(url, crawler=self.name)
