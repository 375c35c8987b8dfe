"""The fetch stage's door: `Fetcher.fetch(Post) -> Media`, with yt-dlp doing the download.

In: a post with a media URL (or a page yt-dlp understands).  Out: a content-addressed media file
under DATA/media/<sha[:2]>/<sha256><ext>, its Media record (sha256, size, duration, yt-dlp info
JSON) and the platform subtitles as a text unit. File names never come from the remote side; a
download over the size cap is aborted and leaves no partial file. Each download holds one slot of its
domain's budget (shared by every worker with a PostgreSQL catalog; routewatch/core/politeness.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yt_dlp

from crawlers.comments import from_ytdlp as comments_from_ytdlp
from crawlers.origins import origin_key_of_host, to_fetch_url
from crawlers.safety import Deadline, DeadlinePassedError, check_url, guarded_resolution
from crawlers.settings import CrawlSettings, domain_budget
from routewatch.core.backoff import backoff_seconds
from routewatch.core.catalog import now_iso
from routewatch.core.errors import Code, NotConfigured, RouteWatchError
from routewatch.core.platforms import page_is_media
from routewatch.core.politeness import domain_of, held
from routewatch.core.records import Media, Post, Provenance, Segment, TextUnit

_DROP_INFO_KEYS = ("formats", "requested_formats", "http_headers", "thumbnails", "automatic_captions",
                   "_format_sort_fields", "requested_downloads", "cookies")


class _TooLarge(yt_dlp.utils.DownloadCancelled):
    pass


class _TooSlow(yt_dlp.utils.DownloadCancelled):
    pass


class QuietYtDlpLogger:
    """A yt-dlp logger that prints nothing and keeps the errors for the failure row."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        self.errors.append(msg)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def probe_duration(path: Path) -> float | None:
    try:
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
            capture_output=True, timeout=30, check=False,
        )
        d = json.loads(out.stdout or b"{}").get("format", {}).get("duration")
        return float(d) if d not in (None, "N/A") else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


class YtDlpFetcher:
    """Downloads media through yt-dlp (direct files and every site yt-dlp supports)."""

    name = "ytdlp.v1"

    def __init__(self, crawl: CrawlSettings, data_dir: Path):
        if shutil.which("ffprobe") is None:
            raise NotConfigured("ffprobe (ffmpeg) is not installed: run `make setup` or `apt-get install ffmpeg`")
        self.crawl = crawl
        self.data_dir = Path(data_dir)
        self.media_dir: Path = self.data_dir / "media"
        self.budget = domain_budget(crawl)

    def fetch(self, post: Post) -> tuple[Media, list[TextUnit]]:
        url = post.media_url or (post.page_url if page_is_media(post.platform) else "")
        if not url:
            raise RouteWatchError(Code.E207, "post has no media")
        fetch_url = to_fetch_url(url, self.crawl.origins)
        check_url(fetch_url, self.crawl.allow_hosts)
        cap = self.crawl.max_media_bytes
        self._platform = post.platform if post.platform != "web" else (origin_key_of_host(urlsplit(url).hostname or "")
                                                                      or "web")
        try:
            return self._fetch_into_store(post, url, fetch_url, cap)
        except OSError as e:  # the media dir is full, read-only or gone: the post stays, the item fails
            raise RouteWatchError(Code.E209, f"cannot write media under {self.media_dir}: {e}") from e

    def _fetch_into_store(self, post: Post, url: str, fetch_url: str, cap: int) -> tuple[Media, list[TextUnit]]:
        self.media_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.media_dir, prefix=".dl-") as tmp:
            info = self._download(fetch_url, Path(tmp), cap)
            files = [p for p in Path(tmp).iterdir() if p.is_file() and not p.name.endswith((".part", ".ytdl"))]
            if not files:
                raise RouteWatchError(Code.E203, f"yt-dlp produced no file for {url}")
            f = max(files, key=lambda p: p.stat().st_size)
            size = f.stat().st_size
            if size == 0:
                raise RouteWatchError(Code.E206, "downloaded media is empty (0 bytes)")
            if size > cap:
                raise RouteWatchError(Code.E202, f"media larger than max_media_bytes ({size} > {cap})")
            sha = sha256_file(f)
            ext = (f.suffix or ".bin").lower()
            if not ext[1:].isalnum() or len(ext) > 6:
                ext = ".bin"
            rel = Path("media") / sha[:2] / f"{sha}{ext}"
            dest = self.data_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if not dest.exists():
                part = dest.with_suffix(dest.suffix + ".tmp")
                try:
                    shutil.move(str(f), part)
                    part.replace(dest)
                except OSError as e:
                    part.unlink(missing_ok=True)  # never leave a partial file behind
                    raise RouteWatchError(Code.E209, f"cannot write media file: {e}") from e
        duration = info.get("duration") or probe_duration(dest)
        clean = {k: v for k, v in info.items() if k not in _DROP_INFO_KEYS}
        media = Media(
            post_id=post.post_id, path=str(rel), sha256=sha, size=size,
            duration=float(duration) if duration else None,
            mime={".mp4": "video/mp4", ".ogg": "audio/ogg", ".webm": "video/webm", ".m4a": "audio/mp4",
                  ".mp3": "audio/mpeg"}.get(ext, "application/octet-stream"),
            info_json=json.dumps(clean, ensure_ascii=False, default=str)[:200_000],
            provenance=Provenance(tool="yt-dlp", version=yt_dlp.version.__version__,
                                  params=(("url", url),), at=now_iso()),
        )
        units: list[TextUnit] = []
        if post.subtitles_url:
            units.append(self._subtitles(post))
        limit = self.crawl.max_comments
        units += [c.unit() for c in comments_from_ytdlp(post.post_id, info, limit)]  # thread data: in info_json
        return media, units

    def _download(self, url: str, tmp: Path, cap: int) -> dict[str, Any]:
        budget = Deadline(self.crawl.max_download_seconds)

        def hook(d: dict[str, Any]) -> None:
            if (d.get("downloaded_bytes") or 0) > cap:
                raise _TooLarge(f"over {cap} bytes")
            if budget.expired or budget.elapsed() > budget.seconds:
                raise _TooSlow(f"over {budget.seconds:g} s")

        logger = QuietYtDlpLogger()
        allow = list(self.crawl.allow_hosts)
        opts = {
            "outtmpl": str(tmp / "media.%(ext)s"),
            "quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True,
            "max_filesize": cap, "socket_timeout": self.crawl.timeout_seconds, "retries": 2,
            "http_headers": {"User-Agent": self.crawl.user_agent},
            "progress_hooks": [hook], "logger": logger, "cachedir": False, "overwrites": True,
            "format": f"best[filesize<?{cap}]/best",
        }
        cookies = cookies_copy(self.crawl, getattr(self, "_platform", ""), tmp)
        if cookies:
            opts["cookiefile"] = str(cookies)
        limit = self.crawl.max_comments
        if limit and getattr(self, "_platform", "") in ("youtube", "tiktok"):
            opts["getcomments"] = True  # the comments under the video become `comment` units
            opts["extractor_args"] = {"youtube": {"max_comments": [str(limit)]}}
        guard: dict[str, str] = {}
        too_slow = RouteWatchError(Code.E210, f"download not done within crawl.max_download_seconds "
                                              f"({budget.seconds:g} s); aborted, no partial file kept")
        try:
            with held(self.budget, url), guarded_resolution(allow) as guard, budget, yt_dlp.YoutubeDL(opts) as ydl:
                info = ydl.extract_info(url, download=True)
                if budget.expired:  # cut mid-way: whatever yt-dlp kept is partial
                    raise too_slow
                return ydl.sanitize_info(info) or {}
        except _TooLarge as e:
            raise RouteWatchError(Code.E202, f"media larger than max_media_bytes ({cap}); download aborted") from e
        except (yt_dlp.utils.YoutubeDLError, OSError) as e:
            if budget.expired or isinstance(e, _TooSlow | DeadlinePassedError):
                raise too_slow from e
            msg = str(e)
            if "HTTP Error 429" in msg or "HTTP Error 503" in msg:  # every worker leaves the domain alone a while
                self.budget.pause(domain_of(url), backoff_seconds(None, 0, self.crawl.backoff_base_seconds,
                                                                  self.crawl.max_retry_after_seconds))
            if guard.get("refused"):
                raise RouteWatchError(Code.E103, f"refused by the private-address guard: {guard['refused']}") from e
            if "File is larger than max-filesize" in msg or "larger than" in msg:
                raise RouteWatchError(Code.E202, f"media larger than max_media_bytes ({cap})") from e
            if "No space left" in msg or "Read-only file system" in msg or "Permission denied" in msg \
                    or "Operation not permitted" in msg:
                raise RouteWatchError(Code.E209, f"cannot write media: {msg[:300]}") from e
            if needs_login(msg) and getattr(self, "_platform", "") not in ("", "web", "demo"):
                raise login_error(getattr(self, "_platform", ""), bool(cookies), msg) from e
            raise RouteWatchError(Code.E203, f"download failed: {msg[:300]}") from e

    def _subtitles(self, post: Post) -> TextUnit:
        url = to_fetch_url(post.subtitles_url, self.crawl.origins)
        check_url(url, self.crawl.allow_hosts)
        with held(self.budget, url):
            body = guarded_get(url, self.crawl, max_bytes=2 * 1024 * 1024)
        segs = parse_vtt(body.decode("utf-8", errors="replace"))
        return TextUnit(unit_id=f"{post.post_id}:subtitle", post_id=post.post_id, kind="subtitle",
                        text=TextUnit.join_segments(segs), lang=post.lang, segments=tuple(segs))


_LOGIN = re.compile(r"HTTP Error 40[13]\b|log ?in|sign ?in|cookies?\b.*(?:required|needed|--cookies)|"
                    r"private video|members[- ]only|登录", re.I)


def needs_login(message: str) -> bool:
    """Whether yt-dlp's error says the platform wants a logged-in user (401/403, "log in", "use --cookies")."""
    return bool(_LOGIN.search(message or ""))


def login_error(platform: str, had_cookies: bool, message: str) -> RouteWatchError:
    where = f"crawl.cookies_file.{platform or '<platform>'}"
    if had_cookies:
        return RouteWatchError(Code.E211, f"{platform or 'the platform'} refused even with the cookies of {where} "
                                          f"(expired login?): {message[:200]}")
    return RouteWatchError(Code.E211, f"{platform or 'the platform'} shows this only to logged-in users: set {where} "
                                      f"to a cookies.txt of a logged-in browser ({message[:200]})")


def cookies_copy(crawl: CrawlSettings, platform: str, into: Path) -> Path | None:
    """A copy of the platform's configured cookies file in `into` (yt-dlp writes its cookie jar back on
    close; the user's file stays as it was), or None when none is configured. E902 for a missing file."""
    configured = crawl.cookies_file.get(platform)
    if not configured:
        return None
    src = Path(configured).expanduser()
    if not src.is_file():
        raise NotConfigured(f"crawl.cookies_file.{platform} = {configured!r} is not a readable file")
    dest = Path(into) / ".cookies" / "cookies.txt"  # in a folder: never mistaken for the downloaded file
    dest.parent.mkdir(exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


class _GuardedRedirect(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow_hosts: list[str]):
        self.allow_hosts = allow_hosts

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        check_url(newurl, self.allow_hosts)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def guarded_get(url: str, crawl: CrawlSettings, max_bytes: int) -> bytes:
    """A small GET through the guard (redirects re-checked), capped in size and time."""
    check_url(url, crawl.allow_hosts)
    opener = urllib.request.build_opener(_GuardedRedirect(list(crawl.allow_hosts)))
    req = urllib.request.Request(url, headers={"User-Agent": crawl.user_agent})  # noqa: S310 - scheme checked
    budget = Deadline(crawl.max_download_seconds)
    chunks: list[bytes] = []
    got = 0
    try:
        with budget, contextlib.closing(opener.open(req, timeout=crawl.timeout_seconds)) as resp:
            # read what arrives, a piece at a time, so the budget is looked at between pieces too
            while got <= max_bytes:
                piece = resp.read1(min(65536, max_bytes + 1 - got))
                budget.check()
                if not piece:
                    break
                chunks.append(piece)
                got += len(piece)
    except urllib.error.HTTPError as e:
        raise RouteWatchError(Code.E101, f"HTTP {e.code} for {url}") from e
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as e:
        if budget.expired:
            raise RouteWatchError(Code.E210, f"download of {url} not done within crawl.max_download_seconds "
                                             f"({budget.seconds:g} s)") from e
        raise RouteWatchError(Code.E105, f"cannot reach {url}: {e}") from e
    if budget.expired:
        raise RouteWatchError(Code.E210, f"download of {url} not done within crawl.max_download_seconds "
                                         f"({budget.seconds:g} s)")
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise RouteWatchError(Code.E202, f"response over {max_bytes} bytes: {url}")
    return data


def _ts(s: str) -> float:
    parts = s.strip().replace(",", ".").split(":")
    parts = ["0"] * (3 - len(parts)) + parts
    return int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])


def parse_vtt(text: str) -> list[Segment]:
    """WebVTT (or SRT) cues → segments. Tolerant: malformed cues are skipped."""
    segs: list[Segment] = []
    block: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n") + [""]:
        if line.strip():
            block.append(line)
            continue
        timing = next((i for i, b in enumerate(block) if "-->" in b), None)
        if timing is not None:
            start_s, _, rest = block[timing].partition("-->")
            end_s = rest.strip().split(" ")[0]
            body = " ".join(b.strip() for b in block[timing + 1:] if b.strip())
            with contextlib.suppress(ValueError):
                if body:
                    start, end = _ts(start_s), _ts(end_s)
                    # nan / inf / negative / reversed cue times are not times: skip the cue
                    if math.isfinite(start) and math.isfinite(end) and 0 <= start <= end:
                        segs.append(Segment(start=start, end=end, text=body))
        block = []
    return segs
