"""Canonical URL → fetch URL mapping (SPEC §4 "Testing against recorded pages").

In: a canonical URL and `crawl.origins` ({platform: "http://host:port"}).  Out: the URL to fetch.
Canonical URLs are what the catalog stores; only the bytes come from the configured origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from routewatch.core.platforms import PLATFORMS

# Each platform's hosts, and the hosts of services that are not platforms but may be given an origin of
# their own (an API, a platform's video CDN) so a test can serve them apart.
PLATFORM_HOSTS: dict[str, tuple[str, ...]] = {
    **{p.name: p.hosts for p in PLATFORMS},
    "tiktok_research": ("open.tiktokapis.com",),
    # TikTok's video CDN (playAddr/downloadAddr in captured items); separate so tests can map it alone
    "tiktok_cdn": ("v16-webapp-prime.tiktok.com", "v19-webapp-prime.tiktok.com", "v16-webapp-prime.us.tiktok.com"),
    # Telegram's file CDN (the <video src> of a channel preview); separate so tests can map it alone
    "telegram_cdn": tuple(f"cdn{n}.cdn-telegram.org" for n in range(1, 6)),
    # Kuaishou's video CDN (photoUrl in the page's Apollo state)
    "kuaishou_cdn": tuple(f"v{n}.kwaicdn.com" for n in range(1, 5)),
}


def origin_key_of_host(host: str) -> str | None:
    """Which `crawl.origins` key serves this host: a platform's name, or a service's (an API, a video CDN)."""
    host = host.lower()
    for platform, hosts in PLATFORM_HOSTS.items():
        if host in hosts:
            return platform
    return None


def to_fetch_url(url: str, origins: dict[str, str]) -> str:
    parts = urlsplit(url)
    platform = origin_key_of_host(parts.hostname or "")
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
