"""YouTube: the public Atom feeds of channels and playlists, and watch / shorts / listing pages.

In: `https://www.youtube.com/feeds/videos.xml?channel_id=…|playlist_id=…` (Atom with yt: and media:
namespaces), or a watch page (its `ytInitialPlayerResponse`), or a channel / playlist / search page.
Out: one Post per video (platform "youtube", platform_id = video id, url = the watch URL or, for a Short,
/shorts/<id>; author = the UC… channel id, its name in extra; caption = title + description), or Follows
to the watch pages a listing shows. Malformed feeds are E104.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree
from parsel import Selector
from yt_dlp.utils import traverse_obj

from crawlers.base import Crawler, Follow, Page, register
from crawlers.values import as_int, caption_of, embedded_json, meta_tags
from crawlers.values import norm_date as _norm_date
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.records import Post, post_id_for

ATOM = "{http://www.w3.org/2005/Atom}"
YT = "{http://www.youtube.com/xml/schemas/2015}"
MEDIA = "{http://search.yahoo.com/mrss/}"


def watch_url(video_id: str, *, short: bool = False) -> str:
    """The URL YouTube shows for a video: /shorts/<id> for a Short, else the watch URL."""
    return f"https://www.youtube.com/shorts/{video_id}" if short else f"https://www.youtube.com/watch?v={video_id}"


def _text(el: Any, path: str) -> str:
    found = el.find(path)
    return (found.text or "").strip() if found is not None and found.text else ""


@register
class YouTubeFeed(Crawler):
    name = "youtube_feed.v1"
    platform = "youtube"
    URL_PATTERNS = (r"^https?://(?:www\.)?youtube\.com/feeds/videos\.xml\?(?:channel_id|playlist_id|user)=[\w-]+$",)
    TESTS = (
        "https://www.youtube.com/feeds/videos.xml?channel_id=UC1234567890abcdefghijkl",
        "https://www.youtube.com/feeds/videos.xml?playlist_id=PLx9Qm2RutaNorteDarien01",
    )

    def discover(self, page: Page) -> Iterator[Post]:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
        try:
            root = etree.fromstring(page.body, parser=parser)  # noqa: S320 - entities and network disabled
        except etree.XMLSyntaxError as e:
            raise RouteWatchError(Code.E104, f"YouTube feed is not well-formed XML: {e}") from e
        if root.tag != f"{ATOM}feed":
            raise RouteWatchError(Code.E104, f"not an Atom feed (root element {root.tag!r})")
        feed_channel = _text(root, f"{YT}channelId")
        playlist = _text(root, f"{YT}playlistId")
        for entry in root.iter(f"{ATOM}entry"):
            vid = _text(entry, f"{YT}videoId")
            if not vid:
                continue
            group = entry.find(f"{MEDIA}group")
            description = _text(group, f"{MEDIA}description") if group is not None else ""
            title = _text(entry, f"{ATOM}title") or (_text(group, f"{MEDIA}title") if group is not None else "")
            link = next((ln.get("href", "") for ln in entry.iter(f"{ATOM}link") if ln.get("rel", "alternate") == "alternate"), "")
            stats = group.find(f"{MEDIA}community/{MEDIA}statistics") if group is not None else None
            thumb = group.find(f"{MEDIA}thumbnail") if group is not None else None
            url = watch_url(vid, short="/shorts/" in link)
            channel_id = _text(entry, f"{YT}channelId") or feed_channel
            name = _text(entry, f"{ATOM}author/{ATOM}name")
            yield Post(
                post_id=post_id_for("youtube", vid), platform="youtube", platform_id=vid, url=url, source=page.source,
                # the account is the channel id (names change and repeat); its display name stays in extra
                caption=caption_of(title, description), author_handle=channel_id or name,
                posted_at=_norm_date(_text(entry, f"{ATOM}published")), captured_at=page.captured_at, page_url=url,
                discovered_via=page.url,
                views=as_int(stats.get("views")) if stats is not None else None,
                extra_json=json.dumps({
                    "from": "atom_feed", "channel_id": channel_id, "channel_name": name,
                    "playlist_id": playlist, "updated": _norm_date(_text(entry, f"{ATOM}updated")),
                    "title": title, "is_short": "/shorts/" in link,
                    "thumbnail": thumb.get("url", "") if thumb is not None else "",
                }, ensure_ascii=False),
            )


@register
class YouTube(Crawler):
    name = "youtube.v1"
    platform = "youtube"
    prefers_ytdlp = True  # yt-dlp is the main path; this parses what a fetched page embeds
    URL_PATTERNS = (
        r"^https?://(?:www\.|m\.)?youtube\.com/watch\?(?:[^#]*&)?v=[\w-]{11}(?:[&#].*)?$",
        r"^https?://(?:www\.|m\.)?youtube\.com/shorts/[\w-]{11}/?(?:[?#].*)?$",
        r"^https?://youtu\.be/[\w-]{11}/?(?:[?#].*)?$",
        r"^https?://(?:www\.|m\.)?youtube\.com/(?:@[\w.-]+|channel/UC[\w-]{22}|c/[\w.-]+|user/[\w.-]+)"
        r"(?:/(?:videos|shorts|streams|featured))?/?(?:\?.*)?$",
        r"^https?://(?:www\.|m\.)?youtube\.com/playlist\?(?:[^#]*&)?list=[\w-]+",
        r"^https?://(?:www\.|m\.)?youtube\.com/results\?(?:[^#]*&)?search_query=[^&#]+",
        r"^https?://(?:www\.|m\.)?youtube\.com/hashtag/[^/?#]+/?(?:\?.*)?$",
    )
    TESTS = (
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/watch?feature=share&v=Rn8uT2aJcQe",
        "https://m.youtube.com/watch?v=Rn8uT2aJcQe&t=42s",
        "https://www.youtube.com/shorts/Zx7Vd0LpQ3k",
        "https://youtu.be/Rn8uT2aJcQe?si=abc",
        "https://www.youtube.com/@rutanorte",
        "https://www.youtube.com/@rutanorte/shorts",
        "https://www.youtube.com/channel/UC1234567890abcdefghijkl/videos",
        "https://www.youtube.com/playlist?list=PLx9Qm2RutaNorteDarien01",
        "https://www.youtube.com/results?search_query=%E8%B5%B0%E7%BA%BF",
        "https://www.youtube.com/hashtag/zouxian",
    )
    _VIDEO_ID = re.compile(r'"videoId"\s*:\s*"([\w-]{11})"')
    # a Short in a listing: its link (/shorts/<id>) or its reel endpoint, so it is followed as YouTube shows it
    _SHORT_ID = re.compile(r'/shorts/([\w-]{11})\b|"reelWatchEndpoint"\s*:\s*\{\s*"videoId"\s*:\s*"([\w-]{11})"')

    @staticmethod
    def video_id(url: str) -> str | None:
        parts = urlsplit(url)
        if parts.hostname == "youtu.be":
            return parts.path.strip("/").split("/")[0] or None
        if parts.path.startswith("/shorts/"):
            return parts.path.split("/")[2] or None
        if parts.path == "/watch":
            return (parse_qs(parts.query).get("v") or [None])[0]
        return None

    def discover(self, page: Page) -> Iterator[Post | Follow]:
        html = page.text()
        vid = self.video_id(page.url)
        if vid:
            post = self._watch_post(page, html, vid)
            if post:
                yield post
            return
        shorts = {a or b for a, b in self._SHORT_ID.findall(html)}
        seen: set[str] = set()
        for v in self._VIDEO_ID.findall(html):
            if v not in seen:
                seen.add(v)
                yield Follow(watch_url(v, short=v in shorts), crawler=self.name)

    def _watch_post(self, page: Page, html: str, vid: str) -> Post | None:
        player = embedded_json(html, "ytInitialPlayerResponse =") or embedded_json(html, "ytInitialPlayerResponse=")
        details = traverse_obj(player, ("videoDetails", {dict}))
        url = watch_url(vid, short=urlsplit(page.url).path.startswith("/shorts/"))
        if isinstance(details, dict) and details.get("videoId") == vid:
            micro = traverse_obj(player, ("microformat", "playerMicroformatRenderer", {dict})) or {}
            owner = str(micro.get("ownerProfileUrl") or "")
            tracks = traverse_obj(player, ("captions", "playerCaptionsTracklistRenderer", "captionTracks", {list})) or []
            manual = [t for t in tracks if isinstance(t, dict) and t.get("kind") != "asr" and t.get("baseUrl")]
            subs = (manual[0]["baseUrl"] + "&fmt=vtt") if manual else ""
            return Post(
                post_id=post_id_for("youtube", vid), platform="youtube", platform_id=vid, url=url, source=page.source,
                # the channel id, as the feeds and yt-dlp give it, so one channel is one author
                caption=caption_of(details.get("title"), details.get("shortDescription")),
                author_handle=str(details.get("channelId") or details.get("author") or ""),
                posted_at=_norm_date(str(micro.get("publishDate") or micro.get("uploadDate") or "")),
                captured_at=page.captured_at, lang=str(manual[0].get("languageCode") or "") if manual else "",
                page_url=url, subtitles_url=subs, discovered_via=page.discovered_via or page.url,
                views=as_int(details.get("viewCount")),
                extra_json=json.dumps({
                    "from": "watch_page", "channel_id": details.get("channelId"), "channel_name": details.get("author"),
                    "channel_handle": owner.rstrip("/").rsplit("/", 1)[-1] if "/@" in owner else "",
                    "duration": as_int(details.get("lengthSeconds")), "keywords": details.get("keywords") or [],
                    "caption_tracks": [t.get("languageCode") for t in tracks if isinstance(t, dict)],
                    "category": micro.get("category"),
                }, ensure_ascii=False),
            )
        meta = meta_tags(Selector(text=html))
        title = meta.get("og:title") or meta.get("title") or ""
        desc = meta.get("og:description") or meta.get("description") or ""
        if not (title or desc):
            return None
        return Post(
            post_id=post_id_for("youtube", vid), platform="youtube", platform_id=vid, url=url, source=page.source,
            caption=caption_of(title, desc), posted_at=_norm_date(meta.get("datePublished") or meta.get("uploadDate") or ""),
            author_handle=meta.get("channelId") or "",  # <meta itemprop="channelId" content="UC…">, as elsewhere
            captured_at=page.captured_at, page_url=url, discovered_via=page.discovered_via or page.url,
            views=as_int(meta.get("interactionCount")), extra_json=json.dumps({"from": "meta_tags"}),
        )
