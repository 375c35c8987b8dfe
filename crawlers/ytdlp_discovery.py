"""Discovery through yt-dlp: keyword searches (`ytsearch5:走线`), single post URLs and listings.

In: a search key or a canonical URL (YouTube, TikTok, Douyin, Bilibili, X …, or any page yt-dlp's
generic extractor reads), the crawl section (origins, allow list).  Out: Posts mapped from yt-dlp's info
dicts (metadata only, `extract_flat="in_playlist"`, nothing downloaded), with the info JSON minus
formats and headers in `extra_json`; as the `ytdlp.v1` source kind, stored through the `PostStore`.
Never downloads media and never requests a private address (SSRF guard on the first URL and on every
resolution yt-dlp makes).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yt_dlp

from crawlers.fetch import QuietYtDlpLogger, cookies_copy, login_error, needs_login
from crawlers.origins import to_canonical_url, to_fetch_url
from crawlers.platforms import douyin_url, tiktok_url
from crawlers.routing import prefers_ytdlp
from crawlers.safety import Deadline, check_url, guarded_resolution
from crawlers.settings import CrawlSettings, domain_budget
from crawlers.source import Source, Start, register_source
from crawlers.store import CrawlReport, PostStore
from crawlers.values import as_int, caption_of, iso_from_epoch, norm_date
from crawlers.youtube import YouTube
from routewatch.core.catalog import Catalog, now_iso
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.platforms import (
    BY_NAME,
    platform_of_extractor,
    platform_of_host,
    post_id_in_path,
    title_is_caption,
)
from routewatch.core.politeness import domain_of
from routewatch.core.records import Post, post_id_for

# `ytsearch5:QUERY`, `ytsearchdate10:QUERY`, `bilisearchall:QUERY` …: yt-dlp's search keys
SEARCH = re.compile(r"^(?P<key>[a-z]+search(?:date)?)(?P<n>\d+|all)?:(?P<query>.+)$", re.S)
# info keys never kept: download plumbing (formats, headers, cookies) and per-format noise
_DROP = ("formats", "requested_formats", "requested_downloads", "http_headers", "cookies", "_format_sort_fields",
         "thumbnails", "automatic_captions", "subtitles", "requested_subtitles", "heatmap", "entries", "_version",
         "__x_forwarded_for_ip", "url", "manifest_url", "fragments", "downloader_options")
_MAX_EXTRA = 100_000
# platforms whose yt-dlp title is a cut of the description (TikTok "title" = first words of the caption)
# listing extractors: their entries are pages to open, not posts
_LISTING = re.compile(r"(?:Tab|Playlist|User|Tag|Search|SearchURL|Collection|SpaceVideo|SeriesList|CollectionList|"
                      r"FavoritesList|Channel|Sound|Effect)$")


def _id_from_url(platform: str, url: str) -> str | None:
    """The post id a canonical post URL carries, or None (a listing or an unknown page)."""
    if platform == "youtube":
        return YouTube.video_id(url)
    return post_id_in_path(platform, urlsplit(url).path)


def ytdlp_handles(url_or_search: str) -> bool:
    """True for search keys and for URLs whose crawler prefers yt-dlp (YouTube, TikTok, Douyin, …)."""
    if SEARCH.match(url_or_search):
        return True
    return prefers_ytdlp(url_or_search)


def _canonical(url: str, origins: dict[str, str]) -> str:
    return to_canonical_url(url, "", origins) if url else ""


def _subtitle_url(subs: Any) -> tuple[str, str]:
    """(language, URL) of the first WebVTT track of the platform's own subtitles, or ('', '')."""
    if not isinstance(subs, dict):
        return "", ""
    for lang, tracks in subs.items():
        if lang in ("live_chat", "danmaku") or not isinstance(tracks, list):
            continue
        for t in tracks:
            if isinstance(t, dict) and t.get("ext") == "vtt" and t.get("url"):
                return str(lang), str(t["url"])
    return "", ""


def _extra(info: dict[str, Any], discovered_via: str) -> str:
    keep = {k: v for k, v in info.items() if k not in _DROP}
    keep["subtitles_available"] = sorted(k for k in (info.get("subtitles") or {}) if k != "live_chat")
    keep["auto_captions_available"] = sorted(info.get("automatic_captions") or {})
    keep["ytdlp"] = {"version": yt_dlp.version.__version__, "query": discovered_via}
    text = json.dumps(keep, ensure_ascii=False, default=str)
    if len(text) > _MAX_EXTRA:  # a huge description or chapter list: keep the fields that identify the post
        small = {k: keep.get(k) for k in ("id", "title", "extractor_key", "webpage_url", "uploader", "channel",
                                          "timestamp", "upload_date", "duration", "view_count", "ytdlp")}
        small["truncated"] = True
        text = json.dumps(small, ensure_ascii=False, default=str)
    return text


def info_to_post(info: dict[str, Any], *, source: str, discovered_via: str, origins: dict[str, str] | None = None,
                 captured_at: str | None = None) -> Post | None:
    """One yt-dlp info dict (full or flat) → Post; None when it carries no id."""
    origins = origins or {}
    vid = str(info.get("id") or "").strip()
    if not vid:
        return None
    key = str(info.get("extractor_key") or info.get("ie_key") or "")
    page = _canonical(str(info.get("webpage_url") or info.get("original_url") or info.get("url") or ""), origins)
    platform = platform_of_extractor(key)
    generic = platform is None
    url_id: str | None = None
    if generic:  # yt-dlp read the page itself (e.g. bytes from a local origin): the canonical URL decides
        host_platform = platform_of_host(urlsplit(page).hostname or "")
        platform = host_platform if host_platform in BY_NAME else "web"
        if platform not in ("web", "demo"):
            url_id = _id_from_url(platform, page)
            if url_id is None:
                platform = "web"
    uploader = str(info.get("uploader") or info.get("channel") or info.get("uploader_id") or "")
    media = ""
    if generic:  # the page is the post, the file yt-dlp found on it (or the page itself) its media
        url = f"https://www.youtube.com/watch?v={url_id}" if platform == "youtube" else page
        direct = _canonical(str(info.get("url") or ""), origins)
        media = direct if direct else (page if info.get("direct") else "")
        if platform == "demo":
            vid = urlsplit(page).path.rstrip("/").split("/")[-1]
        else:
            vid = url_id or page
    elif platform == "youtube":
        seen_as = " ".join(str(info.get(k) or "") for k in ("original_url", "webpage_url", "url"))
        short = "/shorts/" in seen_as
        url = f"https://www.youtube.com/shorts/{vid}" if short else f"https://www.youtube.com/watch?v={vid}"
        uploader = str(info.get("channel_id") or uploader)  # the account is the UC… id; names change and repeat
    elif platform == "tiktok":
        url = tiktok_url(str(info.get("uploader") or ""), vid)
    elif platform == "douyin":
        url = douyin_url(vid)
    elif platform == "bilibili":
        url = f"https://www.bilibili.com/video/{vid}"
    elif platform == "x":
        tweet = str(info.get("display_id") or vid).split("_")[0]
        handle = str(info.get("uploader_id") or "")
        url = f"https://x.com/{handle}/status/{tweet}" if handle else (page or f"https://x.com/i/status/{tweet}")
        vid = tweet
        uploader = handle or uploader
        media = url if info.get("duration") or info.get("formats") else ""
    else:  # kuaishou, telegram: fetched later through the post URL
        url = page.split("?")[0] if page else ""
        media = url
        if platform == "telegram":  # same id as telegram.v1: "<channel>/<message>"
            vid = urlsplit(url).path.strip("/")
    if not url:
        return None
    title = str(info.get("title") or "")
    if key == "HTML5MediaEmbed":  # yt-dlp numbers the videos of a page: "Title (1)"
        title = re.sub(r"\s\(\d+\)$", "", title)
    description = str(info.get("description") or "")
    caption = (description or title) if title_is_caption(platform) else caption_of(title, description)
    lang, subs = _subtitle_url(info.get("subtitles"))
    posted = iso_from_epoch(info.get("timestamp") or info.get("release_timestamp"))
    if not posted and re.fullmatch(r"\d{8}", str(info.get("upload_date") or "")):
        posted = norm_date(str(info["upload_date"]))  # YYYYMMDD, read by yt-dlp's unified_timestamp
    return Post(
        post_id=post_id_for(platform, vid), platform=platform, platform_id=vid, url=url, source=source,
        caption=caption, author_handle=uploader, posted_at=posted, captured_at=captured_at or now_iso(),
        lang=str(info.get("language") or lang or ""), media_url=media, page_url=url, subtitles_url=subs,
        discovered_via=discovered_via, views=as_int(info.get("view_count")), extra_json=_extra(info, discovered_via),
    )


def _is_listing(entry: dict[str, Any]) -> bool:
    if entry.get("_type") in ("playlist", "multi_video"):
        return True
    return entry.get("_type") == "url" and bool(_LISTING.search(str(entry.get("ie_key") or "")))


def posts_from_info(info: dict[str, Any], *, source: str, discovered_via: str, origins: dict[str, str] | None = None,
                    counts: dict[str, int] | None = None) -> Iterator[Post]:
    """Posts in an info dict: the video itself, or the entries of a playlist / search (no network)."""
    counts = counts if counts is not None else {}
    captured = now_iso()
    if info.get("_type") in ("playlist", "multi_video"):
        for entry in info.get("entries") or []:
            if not isinstance(entry, dict) or _is_listing(entry):
                counts["ytdlp/skipped/listing"] = counts.get("ytdlp/skipped/listing", 0) + 1
                continue
            post = info_to_post(entry, source=source, discovered_via=discovered_via, origins=origins, captured_at=captured)
            if post is None:
                counts["ytdlp/skipped/no_id"] = counts.get("ytdlp/skipped/no_id", 0) + 1
                continue
            yield post
        return
    post = info_to_post(info, source=source, discovered_via=discovered_via, origins=origins, captured_at=captured)
    if post is None:
        counts["ytdlp/skipped/no_id"] = counts.get("ytdlp/skipped/no_id", 0) + 1
    else:
        yield post


def _code_for(msg: str) -> Code:
    m = msg.lower()
    if "unsupported url" in m:
        return Code.E106
    if "http error 429" in m or "too many requests" in m:
        return Code.E107
    if any(s in m for s in ("timed out", "connection refused", "name or service not known", "temporary failure in name")):
        return Code.E105
    return Code.E101


def discover_with_ytdlp(url_or_search: str, source: str, crawl: CrawlSettings, *, max_entries: int | None = None,
                        counts: dict[str, int] | None = None) -> Iterator[Post]:
    """Posts yt-dlp finds for a search key or URL. Raises RouteWatchError (E103/E105/E106/E107/E101)."""
    origins: dict[str, str] = dict(crawl.origins)
    allow = list(crawl.allow_hosts)
    limit = max_entries or crawl.ytdlp_max_entries
    if SEARCH.match(url_or_search):
        target = url_or_search
    else:
        scheme = urlsplit(url_or_search).scheme.lower()
        if scheme not in ("http", "https"):
            raise RouteWatchError(Code.E103, f"only http(s) URLs and yt-dlp search keys are discovered: {url_or_search!r}")
        target = to_fetch_url(url_or_search, origins)
        check_url(target, allow)
    top = _extract(target, crawl, allow, limit)
    results = [top]
    entries = [e for e in top.get("entries") or [] if isinstance(e, dict)] if top.get("_type") in (
        "playlist", "multi_video") else []
    if entries and all(_is_listing(e) for e in entries):
        # a channel page answers with its tabs (videos, shorts …): open those, one level deep, never further
        results = []
        for e in entries[:5]:
            name = "ytdlp/opened/listing"
            try:
                results.append(_extract(to_fetch_url(str(e.get("url") or ""), origins), crawl, allow, limit))
            except RouteWatchError:
                name = "ytdlp/failed/listing"
            if counts is not None:
                counts[name] = counts.get(name, 0) + 1
    seen: set[str] = set()
    for info in results:
        for post in posts_from_info(info, source=source, discovered_via=url_or_search, origins=origins, counts=counts):
            if post.post_id not in seen:  # a video in two tabs or twice in a search is one post
                seen.add(post.post_id)
                yield post


def _extract(target: str, crawl: CrawlSettings, allow: list[str], limit: int) -> dict[str, Any]:
    logger = QuietYtDlpLogger()
    opts = {
        "quiet": True, "no_warnings": True, "noprogress": True, "skip_download": True,
        "extract_flat": "in_playlist", "playlistend": limit, "socket_timeout": crawl.timeout_seconds,
        "retries": crawl.retry_times, "http_headers": {"User-Agent": crawl.user_agent}, "logger": logger,
        "cachedir": False, "noplaylist": False,
    }
    platform = platform_of_host(urlsplit(target).hostname or "") or ""
    with tempfile.TemporaryDirectory(prefix="rw-cookies-") as tmp:
        cookies = cookies_copy(crawl, platform, Path(tmp))
        if cookies:
            opts["cookiefile"] = str(cookies)
        try:
            return _extract_with(target, crawl, allow, opts)
        except RouteWatchError as e:
            if e.code is Code.E101 and platform not in ("", "web", "demo") and needs_login(e.reason):
                raise login_error(platform, bool(cookies), e.reason) from e
            raise


def _extract_with(target: str, crawl: CrawlSettings, allow: list[str], opts: dict[str, Any]) -> dict[str, Any]:
    """One yt-dlp read holding one slot of the per-domain budget; a search key ("ytsearch5:…") counts against
    its search ("ytsearch")."""
    polite = domain_budget(crawl)
    token = polite.acquire(domain_of(target) or re.sub(r"(\d+|all)$", "", target.split(":", 1)[0]))
    try:
        return _extract_read(target, crawl, allow, opts)
    finally:
        polite.release(token)


def _extract_read(target: str, crawl: CrawlSettings, allow: list[str], opts: dict[str, Any]) -> dict[str, Any]:
    guard: dict[str, str] = {}
    budget = Deadline(crawl.max_download_seconds)  # a listing that drips bytes ends too (E210)
    too_slow = RouteWatchError(Code.E210, f"yt-dlp did not read {target} within crawl.max_download_seconds "
                                          f"({budget.seconds:g} s)")
    try:
        with guarded_resolution(allow) as guard, budget, yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(target, download=False)
            if budget.expired:
                raise too_slow
            return ydl.sanitize_info(info) or {}
    except (yt_dlp.utils.DownloadError, OSError) as e:
        if budget.expired:
            raise too_slow from e
        if isinstance(e, OSError):
            raise RouteWatchError(Code.E105, f"yt-dlp could not read {target}: {e}"[:400]) from e
        if guard.get("refused"):
            raise RouteWatchError(Code.E103, f"refused by the private-address guard: {guard['refused']}") from e
        msg = str(e)
        raise RouteWatchError(_code_for(msg), f"yt-dlp could not read {target}: {msg[:300]}") from e


@register_source
class YtDlpSource(Source):
    """Search keys (`ytsearch5:走线`) and the URLs whose crawler prefers yt-dlp (YouTube, TikTok, Douyin …)."""

    kind = "ytdlp.v1"

    def takes(self, start: Start) -> bool:
        return bool(start.target) and ytdlp_handles(start.target)

    def collect(self, starts: Sequence[Start], store: PostStore) -> None:
        """Each target read by yt-dlp and its posts stored; a target yt-dlp cannot read is one failure row."""
        for start in starts:
            counts: dict[str, int] = {}
            try:
                for post in discover_with_ytdlp(start.target, start.source, self.settings, counts=counts):
                    store.post(post)
            except RouteWatchError as e:
                store.fail(start.source, start.target, e.code.value, e.reason)
            for name, n in counts.items():
                store.count(start.source, name, n)
            store.progress()


def collect_with_ytdlp(target: str, catalog: Catalog, crawl: CrawlSettings, source: str, data_dir: Path) -> CrawlReport:
    """One target through the `ytdlp.v1` source kind into the catalog; the crawl report of it."""
    store = PostStore(catalog, data_dir)
    YtDlpSource(crawl, data_dir).collect([Start(source=source, target=target)], store)
    return store.report
