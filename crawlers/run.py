"""Runs the crawl stage with scrapy: fetches pages politely and hands them to the crawlers.

In: start URLs with their source names, the settings and the catalog.  Out: posts, page
snapshots (gzip, sha256) and crawl failures in the catalog; counters per source.
Every request passes the private-address guard (redirects too). Never writes outside the data dir.
One crawl per process (scrapy's reactor cannot restart).
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError as TxConnRefused
from twisted.internet.error import DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as TxTimeout
from w3lib.url import canonicalize_url

from crawlers import comments
from crawlers.base import REGISTRY, Follow, Page, crawler_for, load_all, without_lone_surrogates
from crawlers.comments import Comment
from crawlers.origins import to_fetch_url
from crawlers.safety import check_url, check_url_form
from routewatch.catalog import Catalog, now_iso
from routewatch.core.stage import failpoint
from routewatch.errors import Code, RouteWatchError
from routewatch.records import Failure, Post


class GuardRefused(IgnoreRequest):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code


class GuardMiddleware:
    """Downloader middleware: the SSRF guard on every request, redirects included."""

    def __init__(self, allow_hosts: list[str]):
        self.allow_hosts = allow_hosts

    @classmethod
    def from_crawler(cls, crawler: Any) -> GuardMiddleware:
        return cls(list(crawler.settings.getlist("ROUTEWATCH_ALLOW_HOSTS")))

    def process_request(self, request: scrapy.Request, spider: scrapy.Spider | None = None) -> None:
        try:
            check_url(request.url, self.allow_hosts)
        except RouteWatchError as e:
            raise GuardRefused(e.code.value, e.reason) from e


class _DenyAll:
    """A robots policy for hosts whose robots.txt could not be read: nothing is allowed."""

    def __init__(self, why: str):
        self.why = why

    def allowed(self, url: str, user_agent: Any) -> bool:
        return False


class StrictRobotsTxtMiddleware(RobotsTxtMiddleware):
    """robots.txt obeyed, and an unreachable robots.txt (5xx, 429, time-out, refused) means "disallow".

    scrapy's own middleware allows everything when robots.txt cannot be fetched; a polite
    research crawler must not read a server error as permission.
    """

    async def _parse_robots(self, response: Any, netloc: str, request: Any) -> None:
        if response.status >= 500 or response.status == 429:
            self._deny(netloc, f"robots.txt answered HTTP {response.status}")
            return
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        self._deny(netloc, f"robots.txt unreachable ({type(exc).__name__})")

    def _deny(self, netloc: str, why: str) -> None:
        self._stats.inc_value("robotstxt/unreachable")
        dfd = self._parsers[netloc]
        rp = _DenyAll(why)
        self._parsers[netloc] = rp  # type: ignore[assignment]
        if isinstance(dfd, Deferred):
            dfd.callback(rp)

    def process_request_2(self, rp: Any, request: Any) -> None:
        if isinstance(rp, _DenyAll):
            raise IgnoreRequest(f"Forbidden by robots.txt: {rp.why}, treated as disallow")
        super().process_request_2(rp, request)


def _retry_after_seconds(value: bytes | None, default: float) -> float:
    if not value:
        return default
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return default
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class RetryAfterMiddleware:
    """429/503 are retried after the server's `Retry-After` (seconds or HTTP date), bounded in count
    and in wait (`max_retry_after`); exhausted retries reach the spider as the error response (E107)."""

    def __init__(self, retries: int, max_wait: float, base: float):
        self.retries, self.max_wait, self.base = retries, max_wait, base

    @classmethod
    def from_crawler(cls, crawler: Any) -> RetryAfterMiddleware:
        st = crawler.settings
        mw = cls(st.getint("ROUTEWATCH_RATE_RETRIES"), st.getfloat("ROUTEWATCH_MAX_RETRY_AFTER"),
                 st.getfloat("ROUTEWATCH_BACKOFF_BASE"))
        mw.crawler = crawler
        return mw

    async def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if response.status not in (429, 503) or request.meta.get("dont_retry"):
            return response
        n = request.meta.get("rw_rate_retries", 0)
        if n >= self.retries:
            return response
        # Honour Retry-After; without one, back off exponentially from `base`.
        wait = _retry_after_seconds(response.headers.get(b"Retry-After"), self.base * (2 ** n))
        wait = min(wait, self.max_wait)
        spider_obj = spider or getattr(getattr(self, "crawler", None), "spider", None)
        if spider_obj is not None and hasattr(spider_obj, "note_rate_limited"):
            spider_obj.note_rate_limited(request, response.status, wait)
        await asyncio.sleep(wait)
        new = request.replace(dont_filter=True)
        new.meta["rw_rate_retries"] = n + 1
        return new


@dataclass
class CrawlStats:
    pages: int = 0
    discovered: int = 0
    new: int = 0
    failed: int = 0
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)


class RouteSpider(scrapy.Spider):
    name = "routewatch"

    def __init__(self, starts: list[tuple[str, str]], catalog: Catalog, rw: Any, stats: CrawlStats,
                 on_progress: Any = None, **kw: Any):
        super().__init__(**kw)
        self.starts = starts
        self.catalog = catalog
        self.rw = rw
        self.stats_out = stats
        self.on_progress = on_progress
        self.pages_per_source: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> RouteSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_dropped, signal=signals.request_dropped)
        return spider

    async def start(self):  # scrapy ≥ 2.13
        for req in self.start_requests():
            yield req

    def start_requests(self):
        for source in {s for _, s in self.starts}:
            self._count(source, "crawl/discovered", 0)  # a source that finds nothing still reports 0
        for url, source in self.starts:
            try:
                req = self._request(url, source, None, via="")
            except Exception as e:  # noqa: BLE001 - one bad start URL is one failure row; the next ones still go
                self._fail(source, str(url)[:2000], Code.E108.value, f"start URL refused: {type(e).__name__}: {e}"[:500])
                continue
            if req is not None:
                yield req

    # -----------------------------------------------------------------------------------------------
    def _count(self, source: str, name: str, n: int = 1) -> None:
        self.catalog.count(name, n, source=source)
        d = self.stats_out.per_source.setdefault(source, {})
        d[name] = d.get(name, 0) + n

    def note_rate_limited(self, request: Any, status: int, wait: float) -> None:
        self._count(request.meta.get("source", ""), f"crawl/rate_limited/{status}")

    def _fail(self, source: str, item: str, code: str, reason: str) -> None:
        self.stats_out.failed += 1
        self.catalog.record_failure(Failure("crawl", item, code, reason, now_iso()), source=source)
        d = self.stats_out.per_source.setdefault(source, {})
        d[f"crawl/failed/{code}"] = d.get(f"crawl/failed/{code}", 0) + 1

    def _request(self, url: str, source: str, crawler_name: str | None, via: str) -> scrapy.Request | None:
        # Each URL is checked on its own, before anything parses it: a malformed (E108) or over-long
        # (E109) URL is one failure row, and the crawl goes on with the next one.
        item = url if len(url) <= 2000 else url[:2000] + "…"
        try:
            check_url_form(url, self.rw.crawl.max_url_chars)
            crawler = REGISTRY[crawler_name]() if crawler_name else crawler_for(url)
        except RouteWatchError as e:
            self._fail(source, item, e.code.value, e.reason)
            return None
        n = self.pages_per_source.get(source, 0)
        if n >= self.rw.crawl.max_pages_per_source:
            self._count(source, "crawl/skipped/page_limit")
            return None
        self.pages_per_source[source] = n + 1
        try:
            fetch_url = to_fetch_url(url, self.rw.crawl.origins)
            check_url_form(fetch_url, self.rw.crawl.max_url_chars)
            check_url(fetch_url, self.rw.crawl.allow_hosts, resolve=False)  # malformed URLs never reach scrapy
            return scrapy.Request(
                fetch_url, callback=self.parse_page, errback=self.on_error,
                meta={"canonical": url, "source": source, "crawler": crawler.name, "via": via},
            )
        except RouteWatchError as e:
            self._fail(source, item, e.code.value, e.reason)
        except ValueError as e:  # scrapy refuses the URL (bad port, bad scheme …): one failure, not a lost list
            self._fail(source, item, Code.E103.value, f"URL refused: {e}"[:500])
        return None

    def _snapshot(self, response: scrapy.http.Response, canonical: str, source: str) -> str:
        body = response.body
        sha = hashlib.sha256(body).hexdigest()
        rel = Path("snapshots") / sha[:2] / f"{sha}.gz"
        dest = self.rw.data_dir / rel
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".tmp")
            tmp.write_bytes(gzip.compress(body, mtime=0))
            tmp.replace(dest)
        self.catalog.add_snapshot(canonical, response.status, sha, str(rel), source, f"scrapy/{scrapy.__version__}")
        return sha

    def parse_page(self, response: scrapy.http.Response):
        meta = response.meta
        canonical, source, crawler_name = meta["canonical"], meta["source"], meta["crawler"]
        self.stats_out.pages += 1
        self._count(source, "crawl/pages")
        self._snapshot(response, canonical, source)
        if self.catalog.status_of(canonical, "crawl") == "failed":  # fetched now: the old failure is resolved
            with self.catalog.tx():
                self.catalog.clear_failures(canonical, "crawl")
                self.catalog.invalidate(canonical, "crawl")
        page = Page(url=canonical, fetch_url=response.url, status=response.status, body=response.body,
                    source=source, captured_at=now_iso(), discovered_via=meta.get("via") or canonical,
                    headers={k.decode(): v[0].decode("latin-1") for k, v in response.headers.items() if v})
        found: list[Comment] = []
        try:
            for out in REGISTRY[crawler_name]().discover(page):
                if isinstance(out, Post):
                    self._store(out, canonical)
                    own = self._post_page_request(out, source, canonical)
                    if own is not None:
                        yield own
                elif isinstance(out, Comment):
                    found.append(out)
                elif isinstance(out, Follow):
                    if out.comments and not (self.rw.crawl.comment_pages and self.rw.crawl.max_comments):
                        continue  # comment pages are asked for, not fetched by default
                    req = self._request(out.url, source, out.crawler, via=canonical)
                    if req is not None:
                        yield req
            if found:  # under the post they belong to (found on an earlier page), within crawl.max_comments
                new = comments.store(self.catalog, found, self.rw.crawl.max_comments)
                self._count(source, "crawl/comments", new)
        except RouteWatchError as e:
            self._fail(source, canonical, e.code.value, e.reason)
        except Exception as e:  # noqa: BLE001 - a page a crawler cannot read is one failure, never a silent loss
            self._fail(source, canonical, Code.E104.value, f"{type(e).__name__} while reading the page: {e}"[:500])
        if self.on_progress:
            self.on_progress(self.stats_out)

    def _post_page_request(self, post: Post, source: str, via: str) -> scrapy.Request | None:
        """A Telegram message's own page (its embed widget, t.me/<channel>/<id>?embed=1), kept as the post's
        snapshot beside the channel listing, so its evidence shows that message alone. Once per post."""
        if post.platform != "telegram" or not self.rw.crawl.telegram_post_pages or not post.url.startswith("https://t.me/"):
            return None
        url = f"{post.url.split('?')[0]}?embed=1"
        if self.catalog.has_snapshot(post.post_id, url):
            return None
        try:
            fetch_url = to_fetch_url(url, self.rw.crawl.origins)
            check_url_form(fetch_url, self.rw.crawl.max_url_chars)
            check_url(fetch_url, self.rw.crawl.allow_hosts, resolve=False)
            return scrapy.Request(fetch_url, callback=self.parse_post_page, errback=self.on_error,
                                  meta={"canonical": url, "source": source, "post_id": post.post_id, "via": via})
        except (RouteWatchError, ValueError) as e:
            self._fail(source, url, getattr(getattr(e, "code", None), "value", Code.E103.value), str(e)[:500])
        return None

    def parse_post_page(self, response: scrapy.http.Response) -> None:
        meta = response.meta
        self._snapshot(response, meta["canonical"], meta["source"])
        with self.catalog.tx():
            self.catalog.link_snapshot(meta["post_id"], meta["canonical"])
            # fetched now: an earlier failure of this page is resolved (as for listing pages)
            if self.catalog.status_of(meta["canonical"], "crawl") == "failed":
                self.catalog.clear_failures(meta["canonical"], "crawl")
                self.catalog.invalidate(meta["canonical"], "crawl")
        self._count(meta["source"], "crawl/post_pages")

    def _store(self, post: Post, page_url: str) -> None:
        failpoint("crawl", self.stats_out.discovered, "before")
        post = without_lone_surrogates(post)  # embedded JSON may carry half an emoji
        with self.catalog.tx():
            new = self.catalog._upsert_post(post)
            self.catalog.link_snapshot(post.post_id, page_url)
            if self.catalog.status_of(post.post_id, "crawl") != "done":
                self.catalog.set_status(post.post_id, "crawl", "done")
        self.stats_out.discovered += 1
        self._count(post.source, "crawl/discovered")
        if new:
            self.stats_out.new += 1
            self._count(post.source, "crawl/new")
        else:
            self._count(post.source, "crawl/already_known")

    def on_dropped(self, request: scrapy.Request, spider: Any = None) -> None:
        """The scheduler refused a request as already seen; scrapy tells neither callback nor errback.

        A redirect back into its own chain (a page redirecting to itself, A -> B -> A) would vanish
        with no post and no failure, so it is a failure (E101); a redirect to a page fetched for another
        link, or a second link to one page, is counted (its posts are stored once, from that fetch).
        """
        meta = request.meta
        if "canonical" not in meta:  # not one of ours (robots.txt requests are never filtered anyway)
            return
        source, canonical = meta.get("source", ""), meta["canonical"]
        chain = meta.get("redirect_urls") or []
        if not chain:
            self._count(source, "crawl/skipped/duplicate")
        elif canonicalize_url(request.url) in {canonicalize_url(u) for u in chain}:
            self._fail(source, canonical, Code.E101.value,
                       f"redirect loop: {chain[-1]} redirects to {request.url}, already requested ({canonical})"[:500])
        else:
            self._count(source, "crawl/skipped/redirect_to_known_page")

    def on_error(self, failure: Any) -> None:
        req = failure.request
        canonical = req.meta.get("canonical", req.url)
        source = req.meta.get("source", "")
        exc = failure.value
        if isinstance(exc, GuardRefused):
            code, reason = exc.code, str(exc)
            self._count(source, "crawl/refused_address")
        elif isinstance(exc, IgnoreRequest) and "robots" in str(exc).lower():
            code, reason = Code.E102.value, f"{exc} ({canonical})"
            self._count(source, "crawl/robots_forbidden")
            if "treated as disallow" in str(exc):
                self._count(source, "crawl/robots_unreachable")
        elif isinstance(exc, HttpError):
            status = exc.response.status
            code = Code.E107.value if status in (429, 503) else Code.E101.value
            reason = f"HTTP {status} for {canonical}"
        elif isinstance(exc, DNSLookupError | TxTimeout | TCPTimedOutError | TxConnRefused):
            code, reason = Code.E105.value, f"{type(exc).__name__} for {canonical}: {exc}"
        else:
            code, reason = Code.E101.value, f"{type(exc).__name__} for {canonical}: {exc}"
        self._fail(source, canonical, code, reason)


def scrapy_settings(rw: Any) -> dict[str, Any]:
    c = rw.crawl
    return {
        "BOT_NAME": "routewatch",
        "USER_AGENT": c.user_agent,
        "ROBOTSTXT_OBEY": c.obey_robots,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrency_per_domain,
        "DOWNLOAD_DELAY": c.download_delay,
        "AUTOTHROTTLE_ENABLED": c.autothrottle,
        "AUTOTHROTTLE_START_DELAY": 0.2,
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(c.concurrency_per_domain),
        "RETRY_TIMES": c.retry_times,
        # 429/503 are handled by RetryAfterMiddleware (Retry-After honoured); other errors by scrapy's retry.
        "RETRY_HTTP_CODES": [500, 502, 504, 522, 524, 408],
        "ROUTEWATCH_RATE_RETRIES": c.retry_times,
        "ROUTEWATCH_MAX_RETRY_AFTER": c.max_retry_after_seconds,
        "ROUTEWATCH_BACKOFF_BASE": c.backoff_base_seconds,
        "DOWNLOAD_TIMEOUT": c.timeout_seconds,
        "DOWNLOAD_MAXSIZE": 20 * 1024 * 1024,
        # scrapy's own length limit drops a request with a log line only; RouteSpider._request refuses
        # URLs over crawl.max_url_chars itself, with a failure row (E109), so scrapy's check is off.
        "URLLENGTH_LIMIT": 0,
        "DOWNLOAD_WARNSIZE": 0,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "ROUTEWATCH_ALLOW_HOSTS": list(c.allow_hosts),
        "DOWNLOADER_MIDDLEWARES": {
            "crawlers.run.GuardMiddleware": 50,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "crawlers.run.StrictRobotsTxtMiddleware": 100,
            "crawlers.run.RetryAfterMiddleware": 560,
        },
        "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None},
    }


def run_crawl(catalog: Catalog, rw: Any, starts: list[tuple[str, str]], on_progress: Any = None) -> CrawlStats:
    """Crawl from the start URLs until no page is left; returns the stats (also in the catalog's counters)."""
    load_all()
    stats = CrawlStats()
    if not starts:
        return stats
    process = CrawlerProcess(settings={**scrapy_settings(rw), "LOG_INSTALL_ROOT_HANDLER": False})
    process.crawl(RouteSpider, starts=starts, catalog=catalog, rw=rw, stats=stats, on_progress=on_progress)
    process.start()
    return stats
