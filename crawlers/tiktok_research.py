"""TikTok Research API: keyword / hashtag / region / date queries for approved research projects.

In: a ResearchQuery (dates split into windows of at most 30 days) — as a source kind, a `[[sources]]` entry
with `kind = "tiktok_research"` —, the client key and secret from the crawl section
(`crawl.tiktok_research_client_key` / `_client_secret`) or the environment, the API origin (canonical
https://open.tiktokapis.com, or `crawl.origins["tiktok_research"]`).  Out: Posts (platform "tiktok",
the API's video fields in `extra_json`) stored page by page through the `PostStore`, and a ResearchReport
(where the query stands). A 429 — rate limit after `crawl.tiktok_research_retries` waits by the one back-off
rule (routewatch/core/backoff.py), or the daily quota at once — stops the run with E107 and keeps every
page already stored. Never sends the secret anywhere but the token endpoint; never follows redirects.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from yt_dlp.utils import traverse_obj

from crawlers.origins import to_fetch_url
from crawlers.platforms import tiktok_url
from crawlers.safety import Deadline, check_url
from crawlers.settings import CrawlSettings, SourceConfig, domain_budget
from crawlers.source import Source, Start, register_source
from crawlers.store import PostStore
from crawlers.values import as_int, iso_from_epoch, json_safe
from routewatch.core.backoff import RateLimited, backoff_seconds, retrying
from routewatch.core.catalog import Catalog, now_iso
from routewatch.core.errors import Code, NotConfigured, RouteWatchError
from routewatch.core.politeness import domain_of, held
from routewatch.core.records import Post, TextUnit, post_id_for
from routewatch.core.stage import failpoint

API = "https://open.tiktokapis.com"
TOKEN_PATH = "/v2/oauth/token/"  # noqa: S105 - an endpoint path, not a secret
QUERY_PATH = "/v2/research/video/query/"
FIELDS = ("id,video_description,create_time,region_code,share_count,view_count,like_count,comment_count,music_id,"
          "hashtag_names,username,effect_ids,playlist_id,voice_to_text,video_duration")
MAX_WINDOW = timedelta(days=30)  # the API refuses end_date more than 30 days after start_date


@dataclass(frozen=True)
class ResearchQuery:
    """What to ask for: any keyword or hashtag (OR), within the regions / accounts (AND), minus exclusions (NOT)."""

    start_date: date
    end_date: date
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    is_random: bool = False

    def __post_init__(self) -> None:
        if self.end_date < self.start_date:
            raise RouteWatchError(Code.E903, f"end date {self.end_date} is before start date {self.start_date}")
        if not (self.keywords or self.hashtags or self.regions or self.usernames):
            raise RouteWatchError(Code.E903, "a research query needs a keyword, hashtag, region or username")

    def conditions(self) -> dict[str, list[dict[str, Any]]]:
        def cond(name: str, values: tuple[str, ...]) -> dict[str, Any]:
            return {"operation": "IN" if len(values) > 1 else "EQ", "field_name": name, "field_values": list(values)}

        q: dict[str, list[dict[str, Any]]] = {}
        anyof = [cond("keyword", (k,)) for k in self.keywords]
        if self.hashtags:
            anyof.append(cond("hashtag_name", tuple(h.lstrip("#") for h in self.hashtags)))
        allof = [cond(n, v) for n, v in (("region_code", self.regions), ("username", self.usernames)) if v]
        if allof:
            q["and"] = allof
        if anyof:
            q["or"] = anyof
        if self.exclude_keywords:
            q["not"] = [cond("keyword", (k,)) for k in self.exclude_keywords]
        return q

    def windows(self) -> list[tuple[date, date]]:
        out: list[tuple[date, date]] = []
        start = self.start_date
        while start <= self.end_date:
            end = min(start + MAX_WINDOW, self.end_date)
            out.append((start, end))
            start = end + timedelta(days=1)
        return out

    def describe(self) -> str:
        parts = [*self.keywords, *(f"#{h.lstrip('#')}" for h in self.hashtags)]
        if self.regions:
            parts.append("region=" + ",".join(self.regions))
        if self.usernames:
            parts.append("user=" + ",".join(self.usernames))
        return f"tiktok_research:{' '.join(parts)} {self.start_date:%Y%m%d}-{self.end_date:%Y%m%d}"


@dataclass
class ResearchReport:
    query: str
    pages: int = 0
    videos: int = 0
    imported: int = 0
    duplicates: int = 0
    windows_done: int = 0
    stopped: str = ""  # error code when the run stopped early (E107 quota / rate limit, E101 …)
    reason: str = ""
    search_id: str = ""  # with `cursor`, where a stopped search can be resumed
    cursor: int = 0
    failed_by_code: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ResearchStopped(RouteWatchError):  # noqa: N818 - reads as a state, like NotConfigured
    """The API said stop (quota, rate limit, refused credentials): what was stored stays."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        return None  # an API that redirects is not the API: the 3xx surfaces as an HTTPError


class TikTokResearchClient:
    """Client-credentials token, paged video queries, and the API's error codes mapped to ours."""

    def __init__(self, crawl: CrawlSettings, *, sleep: Callable[[float], None] = time.sleep):
        self._secret = crawl.tiktok_research_client_secret.get_secret_value()
        self._key = crawl.tiktok_research_client_key
        # SPEC §4b names these variables; the nested ROUTEWATCH_CRAWL__… forms reach the settings themselves
        self._key = self._key or os.environ.get("ROUTEWATCH_TIKTOK_RESEARCH_CLIENT_KEY", "")
        self._secret = self._secret or os.environ.get("ROUTEWATCH_TIKTOK_RESEARCH_CLIENT_SECRET", "")
        if not (self._key and self._secret):
            raise NotConfigured("TikTok Research API credentials not set: set ROUTEWATCH_TIKTOK_RESEARCH_CLIENT_KEY and "
                                "ROUTEWATCH_TIKTOK_RESEARCH_CLIENT_SECRET, or crawl.tiktok_research_client_key / "
                                "_client_secret in routewatch.toml")
        self.crawl = crawl
        self.origins: dict[str, str] = dict(crawl.origins)
        self.allow = list(crawl.allow_hosts)
        self.sleep = sleep
        self._token = ""
        self._token_until = 0.0
        self._opener = urllib.request.build_opener(_NoRedirect())
        # the API's host shares the per-domain budget of every worker (routewatch/core/politeness.py)
        self.budget = domain_budget(crawl)

    # ---- HTTP ---------------------------------------------------------------------------------------
    def _post(self, path: str, body: bytes, headers: dict[str, str], query: str = "") -> tuple[int, dict[str, Any], str]:
        url = to_fetch_url(API + path, self.origins) + (f"?{query}" if query else "")
        check_url(url, self.allow)
        req = urllib.request.Request(url, data=body, method="POST",  # noqa: S310 - scheme checked by check_url
                                     headers={"User-Agent": self.crawl.user_agent, **headers})
        budget = Deadline(self.crawl.max_download_seconds)  # a page that drips bytes ends too (E210)
        try:
            with held(self.budget, url), budget, self._opener.open(req, timeout=self.crawl.timeout_seconds) as resp:
                status, raw, retry_after = resp.status, resp.read(8 * 1024 * 1024), resp.headers.get("Retry-After", "")
        except urllib.error.HTTPError as e:
            status, raw, retry_after = e.code, e.read(1024 * 1024), e.headers.get("Retry-After", "") if e.headers else ""
            if status == 429:  # one worker told "not now": the others wait too
                self.budget.pause(domain_of(url), backoff_seconds(retry_after or None, 0,
                                                                  self.crawl.tiktok_research_backoff_seconds,
                                                                  self.crawl.max_retry_after_seconds))
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            if budget.expired:
                raise ResearchStopped(Code.E210, f"the TikTok Research API did not answer within "
                                                 f"crawl.max_download_seconds ({budget.seconds:g} s)") from e
            raise ResearchStopped(Code.E105, f"cannot reach the TikTok Research API at {url}: {e}") from e
        if budget.expired:
            raise ResearchStopped(Code.E210, f"the TikTok Research API did not answer within "
                                             f"crawl.max_download_seconds ({budget.seconds:g} s)")
        try:
            data = json.loads(raw or b"{}")
        except ValueError as e:
            raise ResearchStopped(Code.E104, f"the API answered HTTP {status} with a body that is not JSON") from e
        return status, data if isinstance(data, dict) else {}, retry_after

    def token(self) -> str:
        if self._token and time.monotonic() < self._token_until:
            return self._token
        form = urlencode({"client_key": self._key, "client_secret": self._secret, "grant_type": "client_credentials"})
        status, data, _ = self._post(TOKEN_PATH, form.encode(), {"Content-Type": "application/x-www-form-urlencoded",
                                                                  "Cache-Control": "no-cache"})
        tok = str(data.get("access_token") or "")
        if status != 200 or not tok:
            err = data.get("error_description") or data.get("error") or f"HTTP {status}"
            raise ResearchStopped(Code.E101, f"TikTok Research API refused the client credentials: {err}")
        # renew a minute early: a token that expires mid-run would cost a failed page
        self._token = tok
        self._token_until = time.monotonic() + max(60, (as_int(data.get("expires_in")) or 7200) - 60)
        return tok

    def query_page(self, query: ResearchQuery, start: date, end: date, *, cursor: int = 0, search_id: str = "",
                   max_count: int = 100) -> dict[str, Any]:
        """One page of videos: the API's `data` object (videos, cursor, has_more, search_id)."""
        if not 1 <= max_count <= 100:
            raise RouteWatchError(Code.E903, f"max_count must be 1..100, not {max_count}")
        if end - start > MAX_WINDOW:
            raise RouteWatchError(Code.E903, f"start and end dates are more than 30 days apart ({start} → {end})")
        body: dict[str, Any] = {"query": query.conditions(), "start_date": f"{start:%Y%m%d}", "end_date": f"{end:%Y%m%d}",
                                "max_count": max_count, "cursor": cursor, "is_random": query.is_random}
        if search_id:
            body["search_id"] = search_id
        payload = json.dumps(body, ensure_ascii=False).encode()
        # rate limits wait by the one back-off rule (Retry-After, else base·2^n), at most `retries` times
        loop = retrying(self.crawl.tiktok_research_retries, self.crawl.tiktok_research_backoff_seconds,
                        self.crawl.max_retry_after_seconds, self.sleep)
        try:
            for attempt in loop:
                with attempt:
                    return self._query_once(payload)
        except RateLimited as e:
            tries = self.crawl.tiktok_research_retries + 1
            raise ResearchStopped(Code.E107, f"rate limited {tries} times in a row ({e.reason})") from e
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _query_once(self, payload: bytes) -> dict[str, Any]:
        """One query request (the token renewed once if the API says it expired); RateLimited on a 429."""
        refreshed = False
        while True:
            headers = {"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"}
            status, data, retry_after = self._post(QUERY_PATH, payload, headers, urlencode({"fields": FIELDS}))
            err = traverse_obj(data, ("error", {dict})) or {}
            code = str(err.get("code") or ("ok" if status == 200 else f"http_{status}"))
            if status == 200 and code == "ok":
                return data.get("data") or {}
            message = str(err.get("message") or "")
            if code == "daily_quota_limit_exceeded":
                raise ResearchStopped(Code.E107, f"daily quota of the Research API used up (resets 00:00 UTC): {message}")
            if status == 429 or code == "rate_limit_exceeded":
                raise RateLimited(f"HTTP 429 {code}", retry_after or None)
            if code in ("access_token_invalid", "invalid_token") and not refreshed:
                self._token, refreshed = "", True
                continue
            raise ResearchStopped(Code.E101, f"TikTok Research API error {code} (HTTP {status}): {message}")

    def pages(self, query: ResearchQuery, report: ResearchReport, *, max_pages: int | None = None,
              max_count: int = 100, state: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Every page of every date window, until has_more is false or max_pages per window.

        `state` (updated before each page is handed out) says where the query stands: the windows done,
        and in the current window the next cursor, the search_id, the pages read and whether more
        follow. Given the state of an interrupted run, the query goes on from there."""
        limit = max_pages or self.crawl.tiktok_research_max_pages
        state = state if state is not None else {}
        done: list[str] = state.setdefault("done", [])
        for start, end in query.windows():
            key = f"{start:%Y%m%d}-{end:%Y%m%d}"
            if key in done:
                continue
            cursor, search_id, read = 0, "", 0
            if state.get("window") == key:  # interrupted in this window: on from its next page
                cursor, search_id = as_int(state.get("cursor")) or 0, str(state.get("search_id") or "")
                read = as_int(state.get("pages")) or 0
                if not state.get("more", True):
                    read = limit
            while read < limit:
                data = self.query_page(query, start, end, cursor=cursor, search_id=search_id, max_count=max_count)
                videos = [v for v in data.get("videos") or [] if isinstance(v, dict)]
                search_id = str(data.get("search_id") or search_id)
                cursor = as_int(data.get("cursor")) or cursor + len(videos)
                read += 1
                # has_more with an empty page happens; without new videos another page would loop
                more = bool(data.get("has_more")) and bool(videos)
                state.update(window=key, cursor=cursor, search_id=search_id, pages=read, more=more)
                report.pages += 1
                report.search_id, report.cursor = search_id, cursor
                yield videos
                if not more:
                    break
            done.append(key)
            state.update(window="", cursor=0, search_id="", pages=0, more=True)
            report.windows_done += 1


def video_post(video: dict[str, Any], *, source: str, discovered_via: str, search_id: str = "",
               captured_at: str | None = None) -> Post | None:
    """One Research API video → Post (no media URL: the fetch stage goes through the post page)."""
    vid = str(video.get("id") or "").strip()
    if not vid.isdigit():
        return None
    user = str(video.get("username") or "")
    url = tiktok_url(user, vid)
    return Post(
        post_id=post_id_for("tiktok", vid), platform="tiktok", platform_id=vid, url=url, source=source,
        caption=str(video.get("video_description") or ""), author_handle=user,
        posted_at=iso_from_epoch(video.get("create_time")), captured_at=captured_at or now_iso(), page_url=url,
        discovered_via=discovered_via, views=as_int(video.get("view_count")),
        extra_json=json.dumps({"from": "tiktok_research", "search_id": search_id, "region_code": video.get("region_code"),
                               "hashtags": video.get("hashtag_names") or [], "duration": video.get("video_duration"),
                               "voice_to_text": video.get("voice_to_text") or "", "raw": json_safe(video)},
                              ensure_ascii=False),
    )


def collect(query: ResearchQuery, catalog: Catalog, crawl: CrawlSettings, source_name: str = "tiktok_research", *,
            max_pages: int | None = None, max_count: int = 100, client: TikTokResearchClient | None = None,
            state_file: Path | None = None, store: PostStore | None = None) -> ResearchReport:
    """Run a query and store its videos page by page (through `store`, else a store of its own on `catalog`);
    an early stop is recorded (failure row) and reported. With `state_file`, where the query stands is saved
    after each stored page, a run that was stopped or killed goes on from there (same query), and the file
    goes once the query is complete."""
    store = store or PostStore(catalog, catalog.path.parent)
    client = client or TikTokResearchClient(crawl)
    via = query.describe()
    report = ResearchReport(query=via)
    state = _load_state(state_file, via)
    try:
        for videos in client.pages(query, report, max_pages=max_pages, max_count=max_count, state=state):
            store.fetched(source_name)
            for v in videos:
                report.videos += 1
                post = video_post(v, source=source_name, discovered_via=via, search_id=report.search_id)
                if post is None:
                    report.failed_by_code[Code.E602.value] = report.failed_by_code.get(Code.E602.value, 0) + 1
                    store.fail(source_name, f"{via}#{report.pages}:{report.videos}", Code.E602.value,
                               "research API video without a numeric id")
                    continue
                if store.post(post):
                    report.imported += 1
                else:
                    report.duplicates += 1
                spoken = str(v.get("voice_to_text") or "").strip()
                if spoken:  # the platform's own transcript: a text of its own, beside any other capture's
                    store.text(TextUnit(unit_id=f"{post.post_id}:voice_to_text", post_id=post.post_id,
                                        kind="subtitle", text=spoken))
            _save_state(state_file, state)
            store.progress()
            failpoint("research", report.pages - 1, "after")
        if state_file is not None:
            state_file.unlink(missing_ok=True)  # complete: a next run asks again from the start
    except ResearchStopped as stop:
        report.stopped, report.reason = stop.code.value, stop.reason
        report.failed_by_code[stop.code.value] = report.failed_by_code.get(stop.code.value, 0) + 1
        store.fail(source_name, via, stop.code.value, stop.reason)
    return report


def _load_state(path: Path | None, via: str) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {"query": via}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"query": via}
    return state if isinstance(state, dict) and state.get("query") == via else {"query": via}


def _save_state(path: Path | None, state: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


# ---- a configured source ([[sources]] kind = "tiktok_research", SPEC §4b) ----------------------------------------
KIND = "tiktok_research.v1"


def query_of_source(cfg: SourceConfig) -> ResearchQuery:
    """The query a `[[sources]]` entry describes (keywords, hashtags, region_codes, usernames, exclude_keywords,
    start_date, end_date as YYYY-MM-DD); NotConfigured (E902) naming the source for anything missing or malformed."""

    def day(field_name: str, raw: str) -> date:
        try:
            return date.fromisoformat(raw)
        except ValueError as e:
            raise NotConfigured(f"source {cfg.name!r}: {field_name} must be a date YYYY-MM-DD, not {raw!r}") from e

    try:
        return ResearchQuery(start_date=day("start_date", cfg.start_date), end_date=day("end_date", cfg.end_date),
                             keywords=tuple(cfg.keywords), hashtags=tuple(cfg.hashtags),
                             regions=tuple(cfg.region_codes), usernames=tuple(cfg.usernames),
                             exclude_keywords=tuple(cfg.exclude_keywords))
    except RouteWatchError as e:
        raise NotConfigured(f"source {cfg.name!r}: {e.reason}") from e


@register_source
class TikTokResearchSource(Source):
    """`[[sources]] kind = "tiktok_research"`: a Research API query, resumable — its progress is kept under
    DATA/.research/ until the query is complete."""

    kind = KIND

    def collect(self, starts: Sequence[Start], store: PostStore) -> None:
        for start in starts:
            if start.config is None:
                raise NotConfigured(f"source {start.source!r}: a TikTok Research source needs its query in [[sources]]")
            query = query_of_source(start.config)  # a malformed entry stops the crawl before any request (E902)
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", start.source)[:60]
            digest = hashlib.sha256(query.describe().encode()).hexdigest()[:12]
            state_file = self.data_dir / ".research" / f"{slug}-{digest}.json"
            collect(query, store.catalog, self.settings, start.source, state_file=state_file, store=store)
