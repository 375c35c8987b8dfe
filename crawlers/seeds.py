"""Seed-URL lists: a text file of URLs, one a line (`#` comments).

In: the list.  Out: a Follow per URL, each routed to the crawler that claims it.
"""

from __future__ import annotations

from collections.abc import Iterator

from crawlers.base import Crawler, Follow, Page, register


@register
class SeedList(Crawler):
    name = "seeds.v1"
    platform = "web"
    URL_PATTERNS = (r"^https?://[^/]+/(?:.*/)?[\w.-]*seeds?[\w.-]*\.txt(?:\?.*)?$",)
    TESTS = ("https://demo.routewatch.invalid/seeds.txt", "https://example.org/lists/zouxian-seeds.txt")

    def discover(self, page: Page) -> Iterator[Follow]:
        for line in page.text().splitlines():
            line = line.strip()
            if line and not line.startswith("#") and line.lower().startswith(("http://", "https://")):
                yield Follow(line)
