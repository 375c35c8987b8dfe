"""RSS 2.0 and Atom feeds.

In: a feed document.  Out: a Follow to each entry's page (the page crawler makes the post);
entries whose link is a media file become posts directly. Malformed XML is a failure (E104).
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from crawlers.base import Crawler, Follow, Page, register
from routewatch.core.errors import Code, RouteWatchError

ATOM = "{http://www.w3.org/2005/Atom}"


@register
class Feed(Crawler):
    name = "feed.v1"
    platform = "web"
    # YouTube's feeds belong to youtube_feed.v1 (crawlers/youtube.py), which reads their yt:/media: fields
    URL_PATTERNS = (r"^https?://(?!(?:www\.|m\.)?youtube\.com/)[^/]+/.*(?:\.xml|\.rss|\.atom|/feed/?|/rss/?)(?:\?.*)?$",)
    TESTS = (
        "https://demo.routewatch.invalid/feed.xml",
        "https://example.org/blog/rss",
    )

    def discover(self, page: Page) -> Iterator[Follow]:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
        try:
            root = etree.fromstring(page.body, parser=parser)  # noqa: S320 - entities and network disabled
        except etree.XMLSyntaxError as e:
            raise RouteWatchError(Code.E104, f"feed is not well-formed XML: {e}") from e
        if root.tag == f"{ATOM}feed":
            for entry in root.iter(f"{ATOM}entry"):
                link = None
                for ln in entry.iter(f"{ATOM}link"):
                    if ln.get("rel", "alternate") == "alternate" and ln.get("href"):
                        link = ln.get("href")
                        break
                if link:
                    yield Follow(link)
        else:
            for item in root.iter("item"):
                link = (item.findtext("link") or "").strip()
                if link:
                    yield Follow(link)
