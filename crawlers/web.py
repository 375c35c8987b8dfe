"""Generic web pages: any page with `og:video`, an HTML5 `<video>`, or a watch page of the demo platform.

In: an HTML page.  Out: one Post (caption from og:description / the page's caption block, date from
article:published_time, media URL from og:video or <video>/<source>, subtitles from <track>).
Pages with no video still become a post when they have a caption (text-only evidence).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from crawlers.base import Crawler, Follow, Page, register
from crawlers.values import norm_date as _norm_date
from routewatch.core.platforms import platform_of_host
from routewatch.core.records import Post, post_id_for


def _site(host: str) -> str:
    """The last two labels of a host name (news.example.org → example.org); an IP address whole."""
    labels = host.lower().rstrip(".").split(".")
    return host.lower() if host.replace(".", "").isdigit() or ":" in host else ".".join(labels[-2:])


def trusted_canonical(page_url: str, claimed: str) -> str:
    """The URL a page says it is (`<link rel=canonical>`, `og:url`), trusted only on the platform of
    the host it was fetched from: a page on one site that names t.me as its canonical address is
    still a page of that site, never a Telegram post. For generic web pages the claim must stay on
    the same site (same last two host labels); anything else, or a relative or non-http claim,
    falls back to the URL fetched."""
    if not claimed:
        return page_url
    try:
        url = urljoin(page_url, claimed.strip())
        have, want = urlsplit(page_url), urlsplit(url)
    except ValueError:
        return page_url
    if want.scheme.lower() not in ("http", "https") or not want.hostname or not have.hostname:
        return page_url
    mine, theirs = platform_of_host(have.hostname), platform_of_host(want.hostname)
    if mine != theirs:
        return page_url
    if mine is None and _site(have.hostname) != _site(want.hostname):
        return page_url
    return url


@register
class WebPage(Crawler):
    name = "web.v1"
    platform = "web"
    generic = True
    URL_PATTERNS = (r"^https?://",)
    TESTS = ("https://demo.routewatch.invalid/watch/p01", "https://news.example.org/2026/11/ruta.html")

    def discover(self, page: Page) -> Iterator[Post | Follow]:
        sel = Selector(text=page.text())
        meta = {m.attrib.get("property") or m.attrib.get("name") or m.attrib.get("http-equiv"): m.attrib.get("content", "")
                for m in sel.css("meta")}
        video = (meta.get("og:video") or meta.get("og:video:url") or meta.get("og:video:secure_url")
                 or sel.css("video::attr(src)").get() or sel.css("video source::attr(src)").get() or "")
        track = sel.css("video track[kind=subtitles]::attr(src), video track[kind=captions]::attr(src)").get() or ""
        caption_block = " ".join(t.strip() for t in sel.css(".caption ::text").getall() if t.strip())
        caption = caption_block or meta.get("og:description") or meta.get("description") or ""
        title = meta.get("og:title") or (sel.css("title::text").get() or "").strip()
        if not (video or caption):
            return
        canonical = trusted_canonical(page.url, sel.css("link[rel=canonical]::attr(href)").get()
                                      or meta.get("og:url") or "")
        host = urlsplit(canonical).hostname or ""
        platform = platform_of_host(host) or "web"
        path_id = urlsplit(canonical).path.rstrip("/").split("/")[-1] if platform == "demo" else canonical
        yield Post(
            post_id=post_id_for(platform, path_id),
            platform=platform,
            platform_id=path_id,
            url=canonical,
            source=page.source,
            caption=caption,
            author_handle=(meta.get("author") or "").strip(),
            posted_at=_norm_date(meta.get("article:published_time") or ""),
            captured_at=page.captured_at,
            lang=(meta.get("content-language") or "").strip(),
            media_url=urljoin(canonical, video) if video else "",
            page_url=canonical,
            subtitles_url=urljoin(canonical, track) if track else "",
            discovered_via=page.discovered_via or page.url,
            extra_json=json.dumps({"title": title}, ensure_ascii=False),
        )
