"""The platforms RouteWatch knows, defined once: hosts, post-id pattern, yt-dlp extractor names.

In: a host name, a yt-dlp extractor key or a platform name.  Out: the `Platform` (or its name). Crawlers,
imports, the fetcher and the surfaces read these instead of keeping their own lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The built-in demo platform's host (`routewatch demo`); `.invalid` never resolves (RFC 2606).
DEMO_HOST = "demo.routewatch.invalid"


@dataclass(frozen=True)
class Platform:
    name: str
    hosts: tuple[str, ...]  # the first is the canonical one
    post_id: re.Pattern[str] | None = None  # the post id in a canonical post URL's path (YouTube: its own parser)
    ytdlp: tuple[str, ...] = ()  # yt-dlp extractor_key prefixes (lower case)
    page_is_media: bool = False  # yt-dlp downloads the video from the post page when no media URL is known
    title_is_caption: bool = False  # yt-dlp's "title" is a cut of the caption: the description comes first


PLATFORMS: tuple[Platform, ...] = (
    Platform("telegram", ("t.me", "telegram.me", "www.t.me"), re.compile(r"^/(\w+/\d+)/?$"), ("telegram",)),
    Platform("youtube", ("www.youtube.com", "youtube.com", "m.youtube.com", "youtu.be"), None, ("youtube",),
             page_is_media=True),
    Platform("tiktok", ("www.tiktok.com", "tiktok.com", "m.tiktok.com", "vm.tiktok.com"),
             re.compile(r"/@[\w.-]*/(?:video|photo)/(\d+)"), ("tiktok",), page_is_media=True, title_is_caption=True),
    Platform("douyin", ("www.douyin.com", "douyin.com", "v.douyin.com"), re.compile(r"/(?:video|note)/(\d+)"),
             ("douyin",), page_is_media=True, title_is_caption=True),
    Platform("bilibili", ("www.bilibili.com", "bilibili.com", "m.bilibili.com", "space.bilibili.com", "b23.tv"),
             re.compile(r"/video/(BV[0-9A-Za-z]{10}|av\d+)"), ("bilibili",), page_is_media=True),
    Platform("kuaishou", ("www.kuaishou.com", "kuaishou.com", "v.kuaishou.com"), re.compile(r"/short-video/(\w+)"),
             ("kuaishou",), title_is_caption=True),
    Platform("x", ("x.com", "www.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com", "mobile.x.com"),
             re.compile(r"/status/(\d+)"), ("twitter",), title_is_caption=True),
    Platform("demo", (DEMO_HOST,)),
)
BY_NAME: dict[str, Platform] = {p.name: p for p in PLATFORMS}
# platforms whose pages are posts of people (not the demo, not a plain web page)
SOCIAL: tuple[str, ...] = tuple(p.name for p in PLATFORMS if p.name != "demo")


def platform_of_host(host: str) -> str | None:
    host = (host or "").lower()
    return next((p.name for p in PLATFORMS if host in p.hosts), None)


def platform_of_extractor(key: str) -> str | None:
    """yt-dlp's extractor_key → platform name (None: decide from the URL's host)."""
    k = key.lower()
    return next((p.name for p in PLATFORMS if any(k.startswith(x) for x in p.ytdlp)), None)


def page_is_media(platform: str) -> bool:
    p = BY_NAME.get(platform)
    return bool(p and p.page_is_media)


def title_is_caption(platform: str) -> bool:
    p = BY_NAME.get(platform)
    return bool(p and p.title_is_caption)


def post_id_in_path(platform: str, path: str) -> str | None:
    """The post id a canonical post URL's path carries on this platform, or None (a listing, an unknown page,
    or YouTube, whose ids the YouTube crawler parses)."""
    p = BY_NAME.get(platform)
    m = p.post_id.search(path) if p and p.post_id else None
    return m.group(1) if m else None
