"""TikTok Research API: keyword / hashtag / region / date queries for approved research projects.

In: a ResearchQuery (dates split into windows of at most 30 days), the client key and secret from
settings (`crawl.tiktok_research_client_key` / `_client_secret`), the API origin (canonical
https://open.tiktokapis.com, or `crawl.origins["tiktok_research"]`).  Out: Posts (platform "tiktok",
the API's video fields in `extra_json`) stored page by page, and a ResearchReport. A 429 — rate limit
after the configured retries, or the daily quota at once — stops the run with E107 and keeps every
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
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from crawlers.imports import store_post
from crawlers.origins import to_fetch_url
from crawlers.platforms import as_int, iso_from_epoch, json_safe, tiktok_url
from crawlers.safety import Deadline, check_url
from routewatch.catalog import Catalog, now_iso
from routewatch.core.stage import failpoint
from routewatch.errors import Code, NotConfigured, RouteWatchError
from routewatch.records import Failure, Post, TextUnit, post_id_for

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

    def __init__(self, settings: Any, *, sleep: Any = time.sleep):
        crawl = getattr(settings, "crawl", settings)
        secret = crawl.tiktok_research_client_secret
        self._secret = secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret or "")
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

    # ---- HTTP ---------------------------------------------------------------------------------------
    def _post(self, path: str, body: bytes, headers: dict[str, str], query: str = "") -> tuple[int, dict[str, Any], str]:
        url = to_fetch_url(API + path, self.origins) + (f"?{query}" if query else "")
        check_url(url, self.allow)
        req = urllib.request.Request(url, data=body, method="POST",  # noqa: S310 - scheme checked by check_url
                                     headers={"User-Agent": self.crawl.user_agent, **headers})
        budget = Deadline(self.crawl.max_download_seconds)  # a page that drips bytes ends too (E210)
        try:
            with budget, self._opener.open(req, timeout=self.crawl.timeout_seconds) as resp:
                status, raw, retry_after = resp.status, resp.read(8 * 1024 * 1024), resp.headers.get("Retry-After", "")
        except urllib.error.HTTPError as e:
            status, raw, retry_after = e.code, e.read(1024 * 1024), e.headers.get("Retry-After", "") if e.headers else ""
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
        refreshed = False
        attempt = 0
        while True:
            headers = {"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"}
            status, data, retry_after = self._post(QUERY_PATH, payload, headers, urlencode({"fields": FIELDS}))
            err = data.get("error") if isinstance(data.get("error"), dict) else {}
            code = str(err.get("code") or ("ok" if status == 200 else f"http_{status}"))
            if status == 200 and code == "ok":
                return data.get("data") or {}
            message = str(err.get("message") or "")
            if code == "daily_quota_limit_exceeded":
                raise ResearchStopped(Code.E107, f"daily quota of the Research API used up (resets 00:00 UTC): {message}")
            if status == 429 or code == "rate_limit_exceeded":
                attempt += 1
                if attempt > self.crawl.tiktok_research_retries:
                    raise ResearchStopped(Code.E107, f"rate limited {attempt} times in a row (HTTP 429 {code})")
                wait = self.crawl.tiktok_research_backoff_seconds * attempt
                if retry_after.isdigit():
                    wait = max(wait, min(float(retry_after), 300.0))
                self.sleep(wait)
                continue
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


def collect(query: ResearchQuery, catalog: Catalog, settings: Any, source_name: str = "tiktok_research", *,
            max_pages: int | None = None, max_count: int = 100, client: TikTokResearchClient | None = None,
            state_file: Path | None = None) -> ResearchReport:
    """Run a query and store its videos page by page; an early stop is recorded (failure row) and reported.
    With `state_file`, where the query stands is saved after each stored page, a run that was stopped or
    killed goes on from there (same query), and the file goes once the query is complete."""
    client = client or TikTokResearchClient(settings)
    via = query.describe()
    report = ResearchReport(query=via)
    state = _load_state(state_file, via)
    try:
        for videos in client.pages(query, report, max_pages=max_pages, max_count=max_count, state=state):
            for v in videos:
                report.videos += 1
                post = video_post(v, source=source_name, discovered_via=via, search_id=report.search_id)
                if post is None:
                    report.failed_by_code[Code.E602.value] = report.failed_by_code.get(Code.E602.value, 0) + 1
                    catalog.record_failure(Failure("crawl", f"{via}#{report.pages}:{report.videos}", Code.E602.value,
                                                   "research API video without a numeric id", now_iso()),
                                           source=source_name)
                else:
                    if store_post(catalog, post):
                        report.imported += 1
                    else:
                        report.duplicates += 1
                    spoken = str(v.get("voice_to_text") or "").strip()
                    if spoken:  # the platform's own transcript: a text of its own, beside any other capture's
                        unit = TextUnit(unit_id=f"{post.post_id}:voice_to_text", post_id=post.post_id, kind="subtitle",
                                        text=spoken)
                        with catalog.tx():
                            if unit not in catalog.units(post.post_id):
                                catalog.put_unit(unit)
                                # a post read before (imported, crawled) is read again, with its new text
                                catalog.invalidate(post.post_id, "extract", "index")
            _save_state(state_file, state)
            failpoint("research", report.pages - 1, "after")
        if state_file is not None:
            state_file.unlink(missing_ok=True)  # complete: a next run asks again from the start
    except ResearchStopped as stop:
        report.stopped, report.reason = stop.code.value, stop.reason
        report.failed_by_code[stop.code.value] = report.failed_by_code.get(stop.code.value, 0) + 1
        catalog.record_failure(Failure("crawl", via, stop.code.value, stop.reason, now_iso()), source=source_name)
    catalog.count("crawl/pages", report.pages, source=source_name)
    catalog.count("crawl/discovered", report.videos, source=source_name)
    catalog.count("crawl/new", report.imported, source=source_name)
    catalog.count("crawl/already_known", report.duplicates, source=source_name)
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
KIND = "tiktok_research"


def query_of_source(cfg: Any) -> ResearchQuery:
    """The query a `[[sources]]` entry describes (keywords, hashtags, region_codes, start_date, end_date as
    YYYY-MM-DD); NotConfigured (E902) naming the source for anything missing or malformed."""
    name = getattr(cfg, "name", "?")

    def day(field_name: str) -> date:
        raw = str(getattr(cfg, field_name, "") or "")
        try:
            return date.fromisoformat(raw)
        except ValueError as e:
            raise NotConfigured(f"source {name!r}: {field_name} must be a date YYYY-MM-DD, not {raw!r}") from e

    try:
        return ResearchQuery(start_date=day("start_date"), end_date=day("end_date"),
                             keywords=tuple(getattr(cfg, "keywords", ()) or ()),
                             hashtags=tuple(getattr(cfg, "hashtags", ()) or ()),
                             regions=tuple(getattr(cfg, "region_codes", ()) or ()))
    except RouteWatchError as e:
        raise NotConfigured(f"source {name!r}: {e.reason}") from e


def collect_source(cfg: Any, catalog: Catalog, settings: Any) -> ResearchReport:
    """Collect one configured Research API source, resumable: its progress is kept under
    DATA/.research/ until the query is complete."""
    query = query_of_source(cfg)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", cfg.name)[:60]
    digest = hashlib.sha256(query.describe().encode()).hexdigest()[:12]
    state_file = Path(settings.data_dir) / ".research" / f"{slug}-{digest}.json"
    return collect(query, catalog, settings, cfg.name, state_file=state_file)
