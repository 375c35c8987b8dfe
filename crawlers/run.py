"""The `pages.v1` source kind: scrapy fetches pages, feeds and lists politely and hands them to the crawlers.

In: start URLs with their source names, the crawl section.  Out: through the `PostStore` (crawlers/store.py):
posts, page snapshots (gzip, sha256), comments and crawl failures in the catalog; counters per source.
Every request passes the private-address guard (redirects too). 429/503 wait by the one back-off rule
(routewatch/core/backoff.py); with a PostgreSQL catalog each request holds a slot of the per-domain budget every
worker shares (routewatch/core/politeness.py). Never writes outside the data dir. One crawl per process (scrapy's reactor
cannot restart).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
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

from crawlers.base import Comment, Follow, Page
from crawlers.origins import to_fetch_url
from crawlers.routing import crawler_for, crawler_named, prefers_ytdlp
from crawlers.safety import check_url, check_url_form
from crawlers.settings import CrawlSettings
from crawlers.source import Source, Start, register_source
from crawlers.store import PostStore
from routewatch.core.backoff import backoff_seconds
from routewatch.core.catalog import now_iso
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.politeness import budget_for, domain_of
from routewatch.core.records import Post


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
        # Honour Retry-After; without one, back off exponentially from `base` (the one rule, core/backoff.py)
        wait = backoff_seconds(response.headers.get(b"Retry-After"), n, self.base, self.max_wait)
        spider_obj = spider or getattr(getattr(self, "crawler", None), "spider", None)
        if spider_obj is not None and hasattr(spider_obj, "note_rate_limited"):
            spider_obj.note_rate_limited(request, response.status, wait)
        await asyncio.sleep(wait)
        new = request.replace(dont_filter=True)
        new.meta["rw_rate_retries"] = n + 1
        return new


class SharedBudgetMiddleware:
    """Downloader middleware, the last before the wire: each request waits for a slot of its domain in the
    budget every worker shares (routewatch/core/politeness.py), polling with `asyncio.sleep` so the reactor
    runs on; the answer frees the slot, and a 429/503 pauses the domain for every worker by the back-off rule.
    Only on when `crawl.shared_budget_url` is set (a PostgreSQL catalog)."""

    def __init__(self, budget: Any, max_wait: float, base: float):
        self.budget, self.max_wait, self.base = budget, max_wait, base

    @classmethod
    def from_crawler(cls, crawler: Any) -> SharedBudgetMiddleware:
        st = crawler.settings
        budget = budget_for(st.get("ROUTEWATCH_SHARED_BUDGET_URL") or "", st.getint("CONCURRENT_REQUESTS_PER_DOMAIN"), st.getfloat("ROUTEWATCH_SHARED_DELAY"),
                            st.getfloat("ROUTEWATCH_SLOT_LEASE"))
        return cls(budget, st.getfloat("ROUTEWATCH_MAX_RETRY_AFTER"), st.getfloat("ROUTEWATCH_BACKOFF_BASE"))

    async def process_request(self, request: Any, spider: Any = None) -> None:
        request.meta["rw_budget_token"] = await self.budget.acquire_async(domain_of(request.url))

    async def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        token = request.meta.pop("rw_budget_token", "")
        if response.status in (429, 503):
            wait = backoff_seconds(response.headers.get(b"Retry-After"), request.meta.get("rw_rate_retries", 0),
                                   self.base, self.max_wait)
            await asyncio.to_thread(self.budget.pause, domain_of(request.url), wait)
        await asyncio.to_thread(self.budget.release, token)
        return response

    async def process_exception(self, request: Any, exception: Exception, spider: Any = None) -> None:
        await asyncio.to_thread(self.budget.release, request.meta.pop("rw_budget_token", ""))


class RouteSpider(scrapy.Spider):
    name = "routewatch"

    def __init__(self, starts: list[tuple[str, str]], crawl: CrawlSettings, store: PostStore, **kw: Any):
        super().__init__(**kw)
        self.starts = starts
        self.crawl = crawl
        self.store = store
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
        self.store.count(source, name, n)

    def note_rate_limited(self, request: Any, status: int, wait: float) -> None:
        self._count(request.meta.get("source", ""), f"crawl/rate_limited/{status}")

    def _fail(self, source: str, item: str, code: str, reason: str) -> None:
        self.store.fail(source, item, code, reason)

    def _request(self, url: str, source: str, crawler_name: str | None, via: str) -> scrapy.Request | None:
        # Each URL is checked on its own, before anything parses it: a malformed (E108) or over-long
        # (E109) URL is one failure row, and the crawl goes on with the next one.
        item = url if len(url) <= 2000 else url[:2000] + "…"
        try:
            check_url_form(url, self.crawl.max_url_chars)
            crawler = crawler_named(crawler_name) if crawler_name else crawler_for(url)
        except RouteWatchError as e:
            self._fail(source, item, e.code.value, e.reason)
            return None
        n = self.pages_per_source.get(source, 0)
        if n >= self.crawl.max_pages_per_source:
            self._count(source, "crawl/skipped/page_limit")
            return None
        self.pages_per_source[source] = n + 1
        try:
            fetch_url = to_fetch_url(url, self.crawl.origins)
            check_url_form(fetch_url, self.crawl.max_url_chars)
            check_url(fetch_url, self.crawl.allow_hosts, resolve=False)  # malformed URLs never reach scrapy
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
        return self.store.page(canonical, response.status, response.body, source, f"scrapy/{scrapy.__version__}")

    def parse_page(self, response: scrapy.http.Response):
        meta = response.meta
        canonical, source, crawler_name = meta["canonical"], meta["source"], meta["crawler"]
        self.store.fetched(source)
        self._snapshot(response, canonical, source)  # an earlier failure of the page is resolved with it
        page = Page(url=canonical, fetch_url=response.url, status=response.status, body=response.body,
                    source=source, captured_at=now_iso(), discovered_via=meta.get("via") or canonical,
                    headers={k.decode(): v[0].decode("latin-1") for k, v in response.headers.items() if v})
        found: list[Comment] = []
        try:
            for out in crawler_named(crawler_name).discover(page):
                if isinstance(out, Post):
                    self.store.post(out, page_url=canonical)
                    own = self._post_page_request(out, source, canonical)
                    if own is not None:
                        yield own
                elif isinstance(out, Comment):
                    found.append(out)
                elif isinstance(out, Follow):
                    if out.comments and not (self.crawl.comment_pages and self.crawl.max_comments):
                        continue  # comment pages are asked for, not fetched by default
                    req = self._request(out.url, source, out.crawler, via=canonical)
                    if req is not None:
                        yield req
            if found:  # under the post they belong to (found on an earlier page), within crawl.max_comments
                self.store.comments(source, found, self.crawl.max_comments)
        except RouteWatchError as e:
            self._fail(source, canonical, e.code.value, e.reason)
        except Exception as e:  # noqa: BLE001 - a page a crawler cannot read is one failure, never a silent loss
            self._fail(source, canonical, Code.E104.value, f"{type(e).__name__} while reading the page: {e}"[:500])
        self.store.progress()

    def _post_page_request(self, post: Post, source: str, via: str) -> scrapy.Request | None:
        """A Telegram message's own page (its embed widget, t.me/<channel>/<id>?embed=1), kept as the post's
        snapshot beside the channel listing, so its evidence shows that message alone. Once per post."""
        if post.platform != "telegram" or not self.crawl.telegram_post_pages or not post.url.startswith("https://t.me/"):
            return None
        url = f"{post.url.split('?')[0]}?embed=1"
        if self.store.has_page(post.post_id, url):
            return None
        try:
            fetch_url = to_fetch_url(url, self.crawl.origins)
            check_url_form(fetch_url, self.crawl.max_url_chars)
            check_url(fetch_url, self.crawl.allow_hosts, resolve=False)
            return scrapy.Request(fetch_url, callback=self.parse_post_page, errback=self.on_error,
                                  meta={"canonical": url, "source": source, "post_id": post.post_id, "via": via})
        except (RouteWatchError, ValueError) as e:
            self._fail(source, url, getattr(getattr(e, "code", None), "value", Code.E103.value), str(e)[:500])
        return None

    def parse_post_page(self, response: scrapy.http.Response) -> None:
        meta = response.meta
        self._snapshot(response, meta["canonical"], meta["source"])  # an earlier failure of it is resolved
        self.store.link(meta["post_id"], meta["canonical"])
        self._count(meta["source"], "crawl/post_pages")

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


def scrapy_settings(c: CrawlSettings) -> dict[str, Any]:
    shared = bool(c.shared_budget_url)
    return {
        "BOT_NAME": "routewatch",
        "USER_AGENT": c.user_agent,
        "ROBOTSTXT_OBEY": c.obey_robots,
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrency_per_domain,
        # With the shared budget the delay is kept between the requests of every worker (SharedBudgetMiddleware);
        # scrapy's own delay and autothrottle would hold a granted request back and break that spacing.
        "DOWNLOAD_DELAY": 0.0 if shared else c.download_delay,
        "AUTOTHROTTLE_ENABLED": c.autothrottle and not shared,
        "ROUTEWATCH_SHARED_BUDGET_URL": c.shared_budget_url,
        "ROUTEWATCH_SHARED_DELAY": c.download_delay,
        "ROUTEWATCH_SLOT_LEASE": c.slot_lease_seconds,
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
            # after every other one, so the slot covers the download only; only with a shared budget
            **({"crawlers.run.SharedBudgetMiddleware": 950} if shared else {}),
        },
        "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None},
    }


@register_source
class PagesSource(Source):
    """URLs of pages, feeds, seed lists and Telegram channels, fetched by scrapy and read by the crawlers."""

    kind = "pages.v1"

    def takes(self, start: Start) -> bool:
        return bool(start.target) and not prefers_ytdlp(start.target)

    def collect(self, starts: Sequence[Start], store: PostStore) -> None:
        """Crawl from the start URLs until no page is left (once per process: scrapy's reactor cannot restart)."""
        pairs = [(s.target, s.source) for s in starts]
        if not pairs:
            return
        process = CrawlerProcess(settings={**scrapy_settings(self.settings), "LOG_INSTALL_ROOT_HANDLER": False})
        process.crawl(RouteSpider, starts=pairs, crawl=self.settings, store=store)
        process.start()
