"""Short-video platforms yt-dlp knows (TikTok, Douyin, Bilibili, Kuaishou, X): URL routing and page parsing.

In: a post or listing page of one platform.  Out: a Post from the metadata the page embeds
(TikTok `__UNIVERSAL_DATA_FOR_REHYDRATION__`, Douyin `RENDER_DATA`, Bilibili `__INITIAL_STATE__`,
Kuaishou `__APOLLO_STATE__`, else Open Graph tags), or Follows to the posts a listing links to.
The main discovery path for these platforms is yt-dlp (crawlers/ytdlp_discovery.py); the item
mappers here are shared with the Zeeschuimer import. Never fetches anything itself.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from parsel import Selector

from crawlers.base import Crawler, Follow, Page, register
from crawlers.base import norm_date as _norm_date
from routewatch.records import Post, post_id_for

# ---- small shared helpers ---------------------------------------------------------------------------


def epoch_seconds(value: Any) -> float | None:
    """Unix time in seconds from seconds, milliseconds, microseconds or nanoseconds (int, float or a
    string of digits in any script), the unit told by its size: below 10^11 is seconds (up to year
    5138), below 10^14 milliseconds, below 10^17 microseconds, else nanoseconds. None if unusable."""
    if isinstance(value, str):
        value = ascii_digits(value)
    try:
        n = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(n) or n <= 0:
        return None
    for limit, scale in ((1e11, 1.0), (1e14, 1e3), (1e17, 1e6), (1e20, 1e9)):
        if n < limit:
            return n / scale
    return None


def iso_from_epoch(value: Any, *, millis: bool = False) -> str:
    """Unix time → ISO-8601 UTC; '' if unusable. The unit is detected (`epoch_seconds`): `millis`, what
    the source documents, is only a hint, since exports mix seconds and milliseconds."""
    n = epoch_seconds(value)
    if n is None:
        return ""
    try:
        return datetime.fromtimestamp(n, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return ""


def ascii_digits(text: str) -> str:
    """An id as ASCII: full-width, Arabic-Indic, Devanagari … digits become 0-9 (NFKC first), and
    white space and invisible characters (zero-width, bidi marks) are dropped. "７５００" → "7500"."""
    text = unicodedata.normalize("NFKC", str(text))
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text
                   if not (c.isspace() or unicodedata.category(c) in ("Cf", "Cc")))


def iso_time(value: Any) -> str:
    """A time as ISO-8601 UTC: Unix time in any unit (`iso_from_epoch`), or an ISO-8601 / "YYYY-MM-DD HH:MM:SS"
    string (no zone = UTC); '' if unusable."""
    if isinstance(value, str) and not ascii_digits(value).replace(".", "", 1).isdigit():
        text = value.strip().replace(" ", "T", 1).replace("Z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return ""
        dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
        try:
            return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except (OverflowError, ValueError):
            return ""
    return iso_from_epoch(value)


def caption_of(title: str | None, description: str | None) -> str:
    """Title and description as one caption, without repeating a title the description already starts with."""
    t = (title or "").strip()
    d = (description or "").strip()
    if not d:
        return t
    if not t or d.startswith(t.rstrip(".…").strip()):
        return d
    return f"{t}\n{d}"


def as_int(value: Any) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return n if -(2**63) <= n < 2**63 else None  # beyond a SQLite integer: not a real count


def embedded_json(html: str, marker: str) -> Any:
    """The JSON value that follows `marker` in a page (e.g. `window.__INITIAL_STATE__=`), or None."""
    i = html.find(marker)
    if i < 0:
        return None
    j = html.find("{", i + len(marker))
    if j < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(html, j)
    except ValueError:
        return None
    return value


def script_json(sel: Selector, script_id: str, *, url_encoded: bool = False) -> Any:
    text = sel.css(f"script#{script_id}::text").get()
    if not text:
        return None
    try:
        return json.loads(unquote(text) if url_encoded else text)
    except ValueError:
        return None


def meta_tags(sel: Selector) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in sel.css("meta"):
        key = m.attrib.get("property") or m.attrib.get("name") or m.attrib.get("itemprop")
        if key and key not in out:
            out[key] = m.attrib.get("content", "")
    return out


def _links(sel: Selector, base: str, pattern: str) -> Iterator[str]:
    seen: set[str] = set()
    rx = re.compile(pattern)
    for href in sel.css("a::attr(href)").getall():
        url = urljoin(base, href.strip())
        m = rx.match(url)
        if m and m.group(0) not in seen:
            seen.add(m.group(0))
            yield m.group(0)


_SAFE_INT = 2**53 - 1  # the largest integer a JSON reader holding numbers as doubles keeps exactly


def json_safe(obj: Any) -> Any:
    """`obj` with every integer beyond ±(2^53 − 1) written as a string (platform ids above 2^53 stay exact
    for any JSON reader), at any depth."""
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        return str(obj) if abs(obj) > _SAFE_INT else obj
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def _dumps(d: dict[str, Any]) -> str:
    return json.dumps(json_safe(d), ensure_ascii=False, default=str)


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
    video = item.get("video") if isinstance(item.get("video"), dict) else {}
    media = str(video.get("playAddr") or video.get("downloadAddr") or "")
    if not media:
        for b in video.get("bitrateInfo") or []:
            urls = ((b or {}).get("PlayAddr") or {}).get("UrlList") or []
            if urls:
                media = str(urls[0])
                break
    stats = item.get("stats") if isinstance(item.get("stats"), dict) else {}
    stats2 = item.get("statsV2") if isinstance(item.get("statsV2"), dict) else {}
    views = as_int(stats.get("playCount"))
    if views is None:
        views = as_int(stats2.get("playCount"))
    hashtags = [t.get("hashtagName") for t in item.get("textExtra") or [] if isinstance(t, dict) and t.get("hashtagName")]
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
    video = aweme.get("video") if isinstance(aweme.get("video"), dict) else {}
    stats = aweme.get("statistics") or aweme.get("stats") or {}
    views = as_int(stats.get("play_count", stats.get("playCount")))
    duration_ms = as_int(video.get("duration") or aweme.get("duration"))
    hashtags = [t.get("hashtag_name") or t.get("hashtagName") for t in aweme.get("text_extra") or aweme.get("textExtra") or []
                if isinstance(t, dict) and (t.get("hashtag_name") or t.get("hashtagName"))]
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
        posted_at=_norm_date(meta.get("article:published_time") or meta.get("uploadDate") or meta.get("datePublished") or ""),
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
        item = _find_key(((data or {}).get("__DEFAULT_SCOPE__") or {}).get("webapp.video-detail"), "itemStruct")
        if isinstance(item, dict):
            post = tiktok_item_post(item, source=page.source, captured_at=page.captured_at,
                                    discovered_via=page.discovered_via or page.url, extra={"from": "rehydration_data"})
            if post:
                yield post
                return
        sigi = script_json(sel, "SIGI_STATE") or {}
        items = (sigi.get("ItemModule") or {}) if isinstance(sigi, dict) else {}
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
            vd = (state or {}).get("videoData") if isinstance(state, dict) else None
            if isinstance(vd, dict) and vd.get("bvid"):
                bvid = str(vd["bvid"])
                url = f"https://www.bilibili.com/video/{bvid}"
                owner = vd.get("owner") or {}
                yield Post(
                    post_id=post_id_for("bilibili", bvid), platform="bilibili", platform_id=bvid, url=url,
                    source=page.source, caption=caption_of(vd.get("title"), vd.get("desc")),
                    author_handle=str(owner.get("name") or ""), posted_at=iso_from_epoch(vd.get("pubdate")),
                    captured_at=page.captured_at, page_url=url, discovered_via=page.discovered_via or page.url,
                    views=as_int((vd.get("stat") or {}).get("view")),
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
            client = (state or {}).get("defaultClient") if isinstance(state, dict) else None
            photo = (client or {}).get(f"VisionVideoDetailPhoto:{m.group(1)}") if isinstance(client, dict) else None
            if isinstance(photo, dict):
                author = next((v for k, v in client.items() if k.startswith("VisionVideoDetailAuthor:")), {})
                pid = m.group(1)
                yield Post(
                    post_id=post_id_for("kuaishou", pid), platform="kuaishou", platform_id=pid, url=page.url.split("?")[0],
                    source=page.source, caption=str(photo.get("caption") or ""),
                    author_handle=str((author or {}).get("name") or ""),
                    posted_at=iso_from_epoch(photo.get("timestamp"), millis=True), captured_at=page.captured_at,
                    media_url=str(photo.get("photoUrl") or ""), page_url=page.url.split("?")[0],
                    discovered_via=page.discovered_via or page.url, views=as_int(photo.get("viewCount")),
                    extra_json=_dumps({"from": "apollo_state", "duration": (as_int(photo.get("duration")) or 0) / 1000.0,
                                       "author_id": (author or {}).get("id")}),
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
