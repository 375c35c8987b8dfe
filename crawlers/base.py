"""The page crawlers' contract: what a crawler reads and yields, and their registry.

In: a `Page` (canonical URL, fetched bytes).  Out: `Post` records, `Follow` links and `Comment`s (of a post
found before, e.g. a Telegram message's discussion-group replies).
Crawlers never do I/O themselves: scrapy fetches (politeness, robots, retries, the SSRF guard), crawlers only
parse. Each declares the URLs it handles (`URL_PATTERNS`) and test URLs (`TESTS`), checked repo-wide so every
URL routes to exactly one crawler (CONVENTIONS §8). Crawlers are found by versioned name in a `catalogue`
registry; this module imports no crawler (crawlers/routing.py loads them). Source kinds: crawlers/source.py.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, TypeVar

from w3lib.encoding import html_to_unicode

from routewatch.core import registry
from routewatch.core.records import Post, TextUnit
from routewatch.core.registry import register_once


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


MAX_COMMENT_CHARS = 20_000  # characters of one comment kept (a comment is no essay; a bigger one is cut)


@dataclass(frozen=True)
class Comment:
    """A comment under a post: one `comment` TextUnit plus what the thread needs (SPEC §4b)."""

    post_id: str
    comment_id: str
    text: str
    parent: str = ""  # the comment it answers ("" for a top-level comment)
    author: str = ""
    posted_at: str = ""
    likes: int | None = None
    lang: str = ""
    name: str = ""  # the name shown beside the comment when `author` is the account's handle

    def unit(self) -> TextUnit:
        return TextUnit(unit_id=f"{self.post_id}:comment:{self.comment_id}", post_id=self.post_id, kind="comment",
                        text=self.text[:MAX_COMMENT_CHARS], lang=self.lang)

    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"parent": self.parent, "author": self.author, "posted_at": self.posted_at,
                                "likes": self.likes}
        if self.name and self.name != self.author:
            meta["author_name"] = self.name  # an account field: every output pseudonymises it
        return meta


class Crawler(ABC):
    name: ClassVar[str]
    platform: ClassVar[str]
    URL_PATTERNS: ClassVar[tuple[str, ...]] = ()
    TESTS: ClassVar[tuple[str, ...]] = ()
    generic: ClassVar[bool] = False  # fallback: used only when no specific crawler claims a URL
    prefers_ytdlp: ClassVar[bool] = False  # yt-dlp is the main discovery path for its URLs

    @classmethod
    def handles(cls, url: str) -> bool:
        return any(re.match(p, url) for p in cls.URL_PATTERNS)

    @abstractmethod
    def discover(self, page: Page) -> Iterator[Post | Follow | Comment]:
        """Posts found on the page, pages to visit next, and comments under a post already found."""


# ---- registries (versioned names, CONVENTIONS §3) --------------------------------------------------------
crawler_kinds = registry.crawlers

C = TypeVar("C", bound=type[Crawler])


def register(cls: C) -> C:
    """Class decorator: a page crawler under its `name`."""
    return register_once(crawler_kinds, cls.name, cls)
