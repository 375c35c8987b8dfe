"""Posts that disappear: revisit known posts and record whether each is still there.

In: the catalog's posts (those not rechecked for `older_than`), the crawl settings (origins, guard,
time budget).  Out: per post its state — available, deleted, private, geo_blocked or account_gone — with
the date seen, the HTTP status and the platform's own words: the latest as the post's `recheck` stage
(status done, the state as its code, the date as its time), every one in `extra.availability`. A post that cannot be reached is a failure row (the states
seen before stay in extra.availability). Never touches the evidence already kept (media, snapshots, units) and never follows a redirect
to a private address.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from crawlers.fetch import _GuardedRedirect
from crawlers.origins import to_fetch_url
from crawlers.safety import Deadline, check_url
from crawlers.settings import CrawlSettings, domain_budget
from routewatch.core.catalog import Catalog, now_iso
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.politeness import held
from routewatch.core.records import Failure, Post

STATES = ("available", "deleted", "private", "geo_blocked", "account_gone")
HISTORY = 20  # states kept per post in extra.availability (the newest)
_MAX_BODY = 4 * 1024 * 1024

# What each platform writes on the page of a post that is gone, as (state, pattern), first match wins.
# YouTube says it in the player response (playabilityStatus), Telegram in the embed widget's error,
# TikTok in the page data's status code and message; any platform in the HTTP status.
_YOUTUBE = (
    ("account_gone", r"account associated with this video has been terminated|channel (?:was|has been) (?:removed|terminated)"),
    ("geo_blocked", r"not made this video available in your country|not available in your country|blocked .* in your country"),
    ("private", r"this video is private|private video|sign in to confirm your age|members-only"),
    ("deleted", r"removed by the uploader|video unavailable|has been removed|no longer available|video does not exist"),
)
_TELEGRAM = (
    ("private", r"channel is private|this channel can't be displayed|is private"),
    ("account_gone", r"channel (?:doesn't|does not) exist|username not found"),
    ("deleted", r"post not found|message (?:was )?deleted|message doesn't exist"),
)
_TIKTOK = (
    ("private", r'"statusCode"\s*:\s*10222|this (?:video|account) is private'),
    ("geo_blocked", r'"statusCode"\s*:\s*10216|not available in your (?:country|region)'),
    ("account_gone", r"couldn't find this account|account (?:was )?banned"),
    ("deleted", r'"statusCode"\s*:\s*10204|video currently unavailable|item doesn.t exist|video has been removed'),
)
_MARKERS: dict[str, tuple[tuple[str, str], ...]] = {"youtube": _YOUTUBE, "telegram": _TELEGRAM, "tiktok": _TIKTOK,
                                                       "douyin": _TIKTOK}
_BY_STATUS = {404: "deleted", 410: "deleted", 401: "private", 403: "private", 451: "geo_blocked"}


@dataclass
class RecheckReport:
    checked: int = 0
    states: dict[str, int] = field(default_factory=dict)
    failed_by_code: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_age(text: str) -> timedelta:
    """"7d", "12h", "30m", "0" → a duration; E903 for anything else."""
    m = re.fullmatch(r"\s*(\d{1,6})\s*([dhm]?)\s*", text or "")
    if not m:
        raise RouteWatchError(Code.E903, f"--older-than must look like 7d, 12h or 30m, not {text!r}")
    n, unit = int(m.group(1)), m.group(2) or "d"
    return timedelta(days=n) if unit == "d" else timedelta(hours=n) if unit == "h" else timedelta(minutes=n)


def recheck_url(post: Post) -> str:
    """The page that tells a post's state: Telegram's embed widget of the message, else the post's URL."""
    if post.platform == "telegram":
        return f"{post.url.split('?')[0]}?embed=1"
    return post.page_url or post.url


def classify(platform: str, status: int, body: str) -> tuple[str, str]:
    """(state, the platform's words) for a fetched page."""
    words = _words(platform, body)
    if status in _BY_STATUS:
        return _BY_STATUS[status], words or f"HTTP {status}"
    if status >= 400:
        raise RouteWatchError(Code.E101, f"HTTP {status}: the post's state cannot be told")
    playability = ""
    if platform == "youtube":
        m = re.search(r'"playabilityStatus"\s*:\s*\{\s*"status"\s*:\s*"([A-Z_]+)"', body)
        playability = m.group(1) if m else ""
        if playability == "OK":
            return "available", ""
    for state, pattern in _MARKERS.get(platform, ()):
        if re.search(pattern, f"{words}\n{body[:200_000]}", re.I):
            return state, words
    fallback = {"ERROR": "deleted", "LOGIN_REQUIRED": "private"}.get(playability)
    return (fallback, words) if fallback else ("available", "")


def _words(platform: str, body: str) -> str:
    """The sentence the platform shows about the post's state, if any."""
    for pattern in (r'"playabilityStatus"\s*:\s*\{[^{}]*?"reason"\s*:\s*"((?:[^"\\]|\\.){1,300})"',
                    r'class="tgme_widget_message_error"[^>]*>\s*([^<]{1,300})',
                    r'"statusMsg"\s*:\s*"((?:[^"\\]|\\.){1,300})"',
                    r"<title>\s*([^<]{1,300})</title>"):
        m = re.search(pattern, body)
        if m:
            text = m.group(1)
            with contextlib.suppress(ValueError):
                text = json.loads(f'"{text}"') if "\\" in text else text
            return " ".join(text.split())[:300]
    return ""


def _get(url: str, crawl: CrawlSettings) -> tuple[int, str]:
    """GET through the private-address guard (redirects re-checked) within the download budget; the
    status and body also for 4xx answers (they are the answer here)."""
    check_url(url, crawl.allow_hosts)
    opener = urllib.request.build_opener(_GuardedRedirect(list(crawl.allow_hosts)))
    req = urllib.request.Request(url, headers={"User-Agent": crawl.user_agent})  # noqa: S310 - scheme checked
    budget = Deadline(crawl.max_download_seconds)
    try:
        with held(domain_budget(crawl), url), budget:  # one slot of the domain's budget (shared across workers)
            try:
                with contextlib.closing(opener.open(req, timeout=crawl.timeout_seconds)) as resp:
                    status, raw = resp.status, resp.read(_MAX_BODY)
            except urllib.error.HTTPError as e:
                status, raw = e.code, e.read(_MAX_BODY)
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as e:
        if budget.expired:
            raise RouteWatchError(Code.E210, f"{url} did not answer within crawl.max_download_seconds") from e
        raise RouteWatchError(Code.E105, f"cannot reach {url}: {e}") from e
    if budget.expired:
        raise RouteWatchError(Code.E210, f"{url} did not answer within crawl.max_download_seconds")
    return status, raw.decode("utf-8", errors="replace")


def due(catalog: Catalog, older_than: timedelta) -> list[str]:
    """Post ids never rechecked, or last rechecked before now − older_than (oldest first)."""
    cutoff = (datetime.now(UTC) - older_than).strftime("%Y-%m-%dT%H:%M:%SZ")
    return catalog.due_for("recheck", cutoff)


def record(catalog: Catalog, post: Post, state: str, status: int, words: str, seen_at: str) -> None:
    """The state as the post's `recheck` stage code (date = seen_at) and one more entry of extra.availability."""
    try:
        extra = json.loads(post.extra_json or "{}")
    except ValueError:
        extra = {}
    if not isinstance(extra, dict):
        extra = {"extra": extra}
    history = [h for h in extra.get("availability") or [] if isinstance(h, dict)]
    before = history[-1].get("state") if history else None
    history.append({"state": state, "seen_at": seen_at, "http_status": status, "words": words})
    extra["availability"] = history[-HISTORY:]
    with catalog.tx():
        catalog.set_post_extra(post.post_id, extra)
        # the stage is done; its outcome (the state) goes where a stage's code goes (done clears its failures)
        catalog.set_status(post.post_id, "recheck", "done", state, at=seen_at)
        if state != before:  # the index holds the state (search --state): the post is indexed again
            catalog.invalidate(post.post_id, "index")


def recheck(catalog: Catalog, crawl: CrawlSettings, older_than: timedelta = timedelta(days=7),
            limit: int | None = None, progress: Callable[[str, int, int], None] | None = None) -> RecheckReport:
    """Revisit the posts due (see `due`), one at a time, politely (crawl.download_delay between them)."""
    rep = RecheckReport()
    t0 = time.monotonic()
    todo = due(catalog, older_than)[: limit if limit is not None else None]
    for i, pid in enumerate(todo):
        post = catalog.get_post(pid)
        if post is None:
            continue
        url = recheck_url(post)
        try:
            if urlsplit(url).scheme not in ("http", "https"):
                raise RouteWatchError(Code.E106, f"no page to recheck for {post.platform} post {pid}")
            status, body = _get(to_fetch_url(url, crawl.origins), crawl)
            state, words = classify(post.platform, status, body)
            record(catalog, post, state, status, words, now_iso())
            rep.states[state] = rep.states.get(state, 0) + 1
            catalog.count(f"recheck/{state}", source=post.source)
        except RouteWatchError as e:
            rep.failed_by_code[e.code.value] = rep.failed_by_code.get(e.code.value, 0) + 1
            catalog.record_failure(Failure("recheck", pid, e.code.value, e.reason, now_iso()))
        rep.checked += 1
        if progress:
            progress("recheck", i + 1, len(todo))
        if crawl.download_delay and i + 1 < len(todo):
            time.sleep(crawl.download_delay)
    rep.seconds = time.monotonic() - t0
    return rep
