"""Canonical URL → fetch URL mapping (SPEC §4 "Testing against recorded pages").

In: a canonical URL and `crawl.origins` ({platform: "http://host:port"}).  Out: the URL to fetch.
Canonical URLs are what the catalog stores; only the bytes come from the configured origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# The built-in demo platform's host (`routewatch demo`); `.invalid` never resolves (RFC 2606).
DEMO_HOST = "demo.routewatch.invalid"

PLATFORM_HOSTS: dict[str, tuple[str, ...]] = {
    "telegram": ("t.me", "telegram.me", "www.t.me"),
    "youtube": ("www.youtube.com", "youtube.com", "m.youtube.com", "youtu.be"),
    "tiktok": ("www.tiktok.com", "tiktok.com", "m.tiktok.com", "vm.tiktok.com"),
    "douyin": ("www.douyin.com", "douyin.com", "v.douyin.com"),
    "tiktok_research": ("open.tiktokapis.com",),
    # TikTok's video CDN (playAddr/downloadAddr in captured items); separate so tests can map it alone
    "tiktok_cdn": ("v16-webapp-prime.tiktok.com", "v19-webapp-prime.tiktok.com", "v16-webapp-prime.us.tiktok.com"),
    # Telegram's file CDN (the <video src> of a channel preview); separate so tests can map it alone
    "telegram_cdn": tuple(f"cdn{n}.cdn-telegram.org" for n in range(1, 6)),
    # Kuaishou's video CDN (photoUrl in the page's Apollo state)
    "kuaishou_cdn": tuple(f"v{n}.kwaicdn.com" for n in range(1, 5)),
    "bilibili": ("www.bilibili.com", "bilibili.com", "m.bilibili.com", "space.bilibili.com", "b23.tv"),
    "kuaishou": ("www.kuaishou.com", "kuaishou.com", "v.kuaishou.com"),
    "x": ("x.com", "www.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com", "mobile.x.com"),
    "demo": (DEMO_HOST,),
}


def platform_of_host(host: str) -> str | None:
    host = host.lower()
    for platform, hosts in PLATFORM_HOSTS.items():
        if host in hosts:
            return platform
    return None


def to_fetch_url(url: str, origins: dict[str, str]) -> str:
    parts = urlsplit(url)
    platform = platform_of_host(parts.hostname or "")
    origin = origins.get(platform or "") if platform else None
    if not origin:
        return url
    o = urlsplit(origin)
    base_path = o.path.rstrip("/")
    return urlunsplit((o.scheme, o.netloc, base_path + parts.path, parts.query, ""))


def to_canonical_url(fetch_url: str, canonical_base: str, origins: dict[str, str]) -> str:
    """Inverse mapping for links found on a page served from an origin."""
    for platform, origin in origins.items():
        if fetch_url.startswith(origin.rstrip("/") + "/"):
            hosts = PLATFORM_HOSTS.get(platform)
            if hosts:
                rest = fetch_url[len(origin.rstrip("/")):]
                return f"https://{hosts[0]}{rest}"
    return fetch_url
