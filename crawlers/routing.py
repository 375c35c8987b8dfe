"""Which page crawler reads a URL: loads every crawler module (so the registry is complete) and routes.

In: a canonical URL or a crawler's versioned name.  Out: the crawler class(es) that handle it — specific
crawlers first, the generic web page crawler only when none claims the URL; E106 when nothing does.
Imports every crawler module; no crawler imports this one (crawlers/base.py is their contract).
"""

from __future__ import annotations

from crawlers import feed, platforms, seeds, telegram, web, youtube  # noqa: F401 - each registers its crawlers
from crawlers.base import Crawler, crawler_kinds
from routewatch.core.errors import Code, RouteWatchError


def all_crawlers() -> dict[str, type[Crawler]]:
    """Every page crawler by versioned name, in registration order."""
    return crawler_kinds.get_all()


def crawler_named(name: str) -> Crawler:
    return crawler_kinds.get(name)()


def matching(url: str) -> list[type[Crawler]]:
    found = all_crawlers().values()
    specific = [c for c in found if not c.generic and c.handles(url)]
    if specific:
        return specific
    return [c for c in found if c.generic and c.handles(url)]


def crawler_for(url: str) -> Crawler:
    found = matching(url)
    if not found:
        raise RouteWatchError(Code.E106, f"no crawler handles {url!r} (supported: http(s) pages, feeds, t.me/s/…)")
    return found[0]()


def prefers_ytdlp(url: str) -> bool:
    """Whether yt-dlp is the main discovery path of the crawler that claims this URL (YouTube, TikTok, …)."""
    return any(c.prefers_ytdlp for c in matching(url))
