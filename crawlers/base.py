"""The crawl stage's door: a `Crawler` turns one fetched page into posts and links to follow.

In: a `Page` (canonical URL, fetched bytes).  Out: `Post` records, `Follow` links and `Comment`s (of a post
found before, e.g. a Telegram message's discussion-group replies).
Crawlers never do I/O themselves: scrapy fetches (politeness, robots, retries, the SSRF guard),
crawlers only parse. Each declares the URLs it handles (`URL_PATTERNS`) and a table of test URLs
(`TESTS`), checked repo-wide so every URL routes to exactly one crawler (CONVENTIONS §8).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from w3lib.encoding import html_to_unicode

from routewatch.errors import Code, RouteWatchError
from routewatch.records import Post

if TYPE_CHECKING:  # crawlers.comments builds on the platform helpers, which build on this module
    from crawlers.comments import Comment


@dataclass(frozen=True, slots=True)
class Page:
    url: str  # canonical
    fetch_url: str
    status: int
    body: bytes
    source: str
    captured_at: str
    headers: dict[str, str] = field(default_factory=dict)
    discovered_via: str = ""

    def header(self, name: str) -> str | None:
        """A response header by name, whatever its case (scrapy title-cases them, servers do not)."""
        want = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == want), None)

    def text(self) -> str:
        # The page's own charset, by scrapy's rule (w3lib): BOM, then the Content-Type charset, then
        # <meta charset>, else UTF-8; undecodable bytes become U+FFFD rather than failing the page.
        return html_to_unicode(self.header("Content-Type"), self.body)[1]


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(post: Post) -> Post:
    """The post with every unpaired UTF-16 surrogate in its text fields made U+FFFD.

    JSON (imports, embedded page data, APIs) may escape half an emoji (`\\ud83c` alone, a caption cut
    mid-character); json.loads keeps it as a lone surrogate, which no UTF-8 store can encode. A pair
    that is still split in two code points is joined back into its character.
    """
    fixed = {f.name: _pair_or_replace(v) for f in fields(post)
             if isinstance(v := getattr(post, f.name), str) and _SURROGATE.search(v)}
    return replace(post, **fixed) if fixed else post


def _pair_or_replace(text: str) -> str:
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


@dataclass(frozen=True, slots=True)
class Follow:
    url: str  # canonical URL of the next page
    crawler: str | None = None  # force a crawler (else routed by URL)
    # a page of comments under a post: followed only when `crawl.comment_pages` is on (one more request per post)
    comments: bool = False


class Crawler(ABC):
    name: ClassVar[str]
    platform: ClassVar[str]
    URL_PATTERNS: ClassVar[tuple[str, ...]] = ()
    TESTS: ClassVar[tuple[str, ...]] = ()
    generic: ClassVar[bool] = False  # fallback: used only when no specific crawler claims a URL

    @classmethod
    def handles(cls, url: str) -> bool:
        return any(re.match(p, url) for p in cls.URL_PATTERNS)

    @abstractmethod
    def discover(self, page: Page) -> Iterator[Post | Follow | Comment]:
        """Posts found on the page, pages to visit next, and comments under a post already found."""


REGISTRY: dict[str, type[Crawler]] = {}


def register(cls: type[Crawler]) -> type[Crawler]:
    if cls.name in REGISTRY:
        raise ValueError(f"duplicate crawler name {cls.name}")
    REGISTRY[cls.name] = cls
    return cls


def matching(url: str) -> list[type[Crawler]]:
    specific = [c for c in REGISTRY.values() if not c.generic and c.handles(url)]
    if specific:
        return specific
    return [c for c in REGISTRY.values() if c.generic and c.handles(url)]


def crawler_for(url: str) -> Crawler:
    found = matching(url)
    if not found:
        raise RouteWatchError(Code.E106, f"no crawler handles {url!r} (supported: http(s) pages, feeds, t.me/s/…)")
    return found[0]()


def load_all() -> None:
    """Import every crawler module so the registry is complete."""
    from crawlers import feed, platforms, seeds, telegram, web, youtube  # noqa: F401


def norm_date(s: str) -> str:
    """ISO-8601 with offset → UTC 'Z' form; '' stays ''."""
    if not s:
        return ""
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is in year 10000 in UTC
        return ""
