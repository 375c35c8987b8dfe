"""What every router of the web app shares: the request's catalog context, the search filters, page
rendering and the API's error format.

In: a request (its query parameters, the app's `AppState`).  Out: a `queries.Ctx` over a read-only
catalog opened for that request and closed after it, a checked `Query`, HTML pages from the Jinja
templates (autoescaped, invisible characters dropped), errors `{"error": {"code", "reason"}}`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi import Query as Param
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from index.base import Query
from routewatch.core.catalog import Catalog, open_catalog
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.privacy import drop_invisible
from routewatch.view import policy
from routewatch.web import queries
from routewatch.web.public import Scrubber
from routewatch.web.render import country_name, fmt_amount, fmt_sec, highlight
from routewatch.web.settings import WebSettings

# Codes the web layer needs beyond the current catalogue; the catalogue (routewatch/core/errors.py) is
# asked to add them under these numbers, and they are used from there as soon as it does.
NOT_FOUND = str(getattr(Code, "E904", "E904"))  # no such post / media / page
RATE_LIMITED = str(getattr(Code, "E905", "E905"))  # too many requests from one client
INTERNAL = str(getattr(Code, "E906", "E906"))  # unexpected error inside the web app

STATUS = {"E930": 400, "E932": 404, "E903": 400, "E502": 400, "E505": 400, "E506": 400, "E507": 400, "E508": 400, "E907": 400, "E908": 400,
          NOT_FOUND: 404, RATE_LIMITED: 429, "E503": 503, "E902": 500, "E925": 416}
_POST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


class SafeJSONResponse(JSONResponse):
    """JSON with <, > and & as \\u escapes: inert even if something renders it as HTML."""

    def render(self, content: Any) -> bytes:
        s = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


class WebError(RouteWatchError):
    """A RouteWatchError with a code the catalogue may not list yet (see NOT_FOUND above)."""

    def __init__(self, code: str, reason: str, headers: dict[str, str] | None = None):
        Exception.__init__(self, f"{code} {reason}")
        self.code = code  # type: ignore[assignment]
        self.reason = reason
        self.headers = headers or {}


def check_range(header: str | None, size: int) -> None:
    """A Range header answered in the API's own error format: one that is not a byte range is E903 (400), one
    outside the file E925 (416, with Content-Range), instead of starlette's plain-text answers."""
    if header is None:
        return
    try:
        FileResponse._parse_range_header(header, size)
    except MalformedRangeHeader as e:
        raise WebError("E903", f"Range header {header[:80]!r} is not a byte range ({e.content})") from None
    except RangeNotSatisfiable:
        raise WebError("E925", f"Range header {header[:80]!r} is outside the file ({size} bytes)",
                       headers={"Content-Range": f"bytes */{size}"}) from None


def code_of(e: RouteWatchError) -> str:
    return str(getattr(e.code, "value", e.code))


def opt(v: str | None) -> str | None:
    v = (v or "").strip()
    return v or None


def num(v: str | None, name: str) -> float | None:
    v = opt(v)
    if v is None:
        return None
    try:
        x = float(v)
    except ValueError as e:
        raise RouteWatchError(Code.E903, f"{name} expects a number, got {v[:40]!r}") from e
    if x != x or x in (float("inf"), float("-inf")):
        raise RouteWatchError(Code.E903, f"{name} expects a finite number")
    return x


def visible(value: Any) -> Any:
    """Jinja `finalize`: every value a page prints loses its invisible characters (bidi overrides,
    zero-width and control characters; privacy.drop_invisible), before autoescape. Catalog text is
    scrubbed already; this covers what the request itself brings back (the query in the title and the
    search box, the filters, a traced claim), so a shared link cannot plant them in the page."""
    if isinstance(value, Markup):  # escaped HTML stays escaped: only invisible characters leave it
        return Markup(drop_invisible(str(value)))  # noqa: S704 - the value was Markup already
    return drop_invisible(value) if isinstance(value, str) else value


MIN_CONFIDENCE_HELP = ("Facts below this confidence (0-1) match no filter and count in no aggregate; "
                       "default extract.aggregate_min_confidence")
RELEVANT_HELP = ("true: only posts judged relevant; false: every post with its facts; empty: the default "
                 "(search and export every post, trends, routes and the digest relevant posts)")


def relevant_flag(v: str | None) -> bool | None:
    return {"true": True, "false": False}.get(opt(v) or "")


class Filters:
    """The search filters of SPEC §4, from query parameters (empty form fields mean "not set"). The same
    values as the CLI's options, checked by the same function (routewatch.search_input.build_query)."""

    def __init__(
        self,
        q: Annotated[str, Param(max_length=500, description='Query: words AND-ed, OR, -word / NOT word, '
                                '"exact phrase", (parentheses); e.g. darien -tapachula')] = "",
        country: Annotated[str | None, Param(max_length=60, description="ISO code or name in zh/en/es: PA, Panamá, 巴拿马")] = None,
        route: Annotated[str | None, Param(max_length=200, description="Ordered route subsequence, e.g. EC>CO (codes or names)")] = None,
        platform: Annotated[str | None, Param(max_length=40)] = None,
        lang: Annotated[str | None, Param(max_length=10, description="zh, en or es")] = None,
        since: Annotated[str | None, Param(max_length=10, description="YYYY-MM-DD")] = None,
        until: Annotated[str | None, Param(max_length=10, description="YYYY-MM-DD (inclusive)")] = None,
        has_bribe: Annotated[bool, Param(description="Only posts that mention a bribe")] = False,
        min_cost: Annotated[str | None, Param(max_length=20, description="Quoted cost at least AMOUNT (needs currency)")] = None,
        max_cost: Annotated[str | None, Param(max_length=20, description="Quoted cost at most AMOUNT (needs currency)")] = None,
        currency: Annotated[str | None, Param(max_length=3, description="ISO currency of the cost filter, e.g. USD")] = None,
        limit: Annotated[int | None, Param(ge=1, le=1000, description="Hits per page")] = None,
        offset: Annotated[int, Param(ge=0, le=10_000, description="Hits to skip (paging)")] = 0,
        sort: Annotated[str, Param(pattern="^(relevance|date)$", description="relevance or date (newest first)")] = "relevance",
        min_confidence: Annotated[str | None, Param(max_length=20, description=MIN_CONFIDENCE_HELP)] = None,
        relevant: Annotated[str | None, Param(pattern="^(|true|false)$", description=RELEVANT_HELP)] = None,
        state: Annotated[str | None, Param(max_length=20, description="Only posts `routewatch recheck` last saw "
                                           "in this state: available, deleted, private, geo_blocked, "
                                           "account_gone, or unchecked")] = None,
    ):
        self.q = q
        self.raw = {"q": q, "country": opt(country), "route": opt(route), "platform": opt(platform),
                    "lang": opt(lang), "since": opt(since), "until": opt(until), "has_bribe": has_bribe,
                    "min_cost": opt(min_cost), "max_cost": opt(max_cost), "currency": opt(currency),
                    "limit": limit, "offset": offset, "sort": sort, "min_confidence": opt(min_confidence),
                    "relevant": opt(relevant), "state": opt(state)}

    def query(self, web: WebSettings) -> Query:
        from routewatch.search_input import build_query

        r = self.raw
        names = {k: k for k in ("min_cost", "max_cost", "currency", "since", "until", "min_confidence", "state")}
        return build_query(self.q, country=r["country"], route=r["route"], platform=r["platform"], lang=r["lang"],
                           since=r["since"], until=r["until"], has_bribe=r["has_bribe"],
                           min_cost=num(r["min_cost"], "min_cost"), max_cost=num(r["max_cost"], "max_cost"),
                           currency=r["currency"], limit=min(r["limit"] or web.page_size, web.max_page_size),
                           offset=r["offset"], sort=r["sort"], names=names,
                           min_confidence=num(r["min_confidence"], "min_confidence"),
                           relevant=relevant_flag(r["relevant"]), state=r["state"])

    def active(self) -> bool:
        return any(v for k, v in self.raw.items() if k not in ("limit", "offset", "sort"))


class AppState:
    """Per-app state: settings, the page templates and the cached Scrubber (rebuilt when posts are added)."""

    def __init__(self, settings: Any, web: WebSettings):
        self.settings, self.web = settings, web
        self.data_dir = Path(settings.data_dir)
        self.env = Environment(loader=PackageLoader("routewatch.web", "templates"), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True, finalize=visible)
        self.env.globals.update(fmt_sec=fmt_sec, country_name=country_name, fmt_amount=fmt_amount,
                                highlight=highlight, privacy_reveal=bool(settings.privacy.reveal))
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._at = 0.0
        self._scrubber: Scrubber | None = None

    def scrubber(self, cat: Catalog) -> Scrubber:
        stamp = cat.posts_stamp()
        with self._lock:
            if self._scrubber is None or self._stamp != stamp or time.monotonic() - self._at > 60:
                # view.policy reads the account names through the connection itself (routewatch/view.py)
                self._scrubber = policy(self.settings, cat, max_chars=self.web.max_text_chars)
                self._stamp, self._at = stamp, time.monotonic()
            return self._scrubber


def get_ctx(request: Request) -> Iterator[queries.Ctx]:
    st: AppState = request.app.state.rw
    if not st.settings.catalog_exists():
        raise RouteWatchError(Code.E503, f"no catalog in {st.data_dir}: run `routewatch demo` or `routewatch run` first")
    cat = open_catalog(st.data_dir, write=False, url=st.settings.catalog.url)
    try:
        ctx = queries.Ctx(settings=st.settings, web=st.web, catalog=cat, scrub=st.scrubber(cat))
    except BaseException:
        cat.close()
        raise
    try:
        yield ctx
    finally:
        ctx.close()


CtxDep = Annotated[queries.Ctx, Depends(get_ctx)]
FiltersDep = Annotated[Filters, Depends(Filters)]


# ---- pages and errors ---------------------------------------------------------------------------------
def page(name: str, request: Request, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """Template `name` rendered for this request (the app's templates, `AppState.env`)."""
    env: Environment = request.app.state.rw.env
    html = env.get_template(name).render(request_path=request.url.path, **ctx)
    return HTMLResponse(html, status_code=status_code)


def is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/media/", "/openapi.json"))


def error_response(request: Request, code: str, reason: str, status: int,
                   headers: dict[str, str] | None = None) -> Response:
    """The error as the API's JSON for API paths, as the error page for pages."""
    if is_api(request):
        return SafeJSONResponse({"error": {"code": code, "reason": reason}}, status_code=status, headers=headers)
    resp = page("error.html", request, status_code=status, code=code, reason=reason, status=status)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


# ---- helpers of more than one router ---------------------------------------------------------------------
def check_id(post_id: str) -> None:
    if not _POST_ID.fullmatch(post_id):
        raise RouteWatchError(Code.E903, "post ids are letters, digits and - _ . :")


def resolve_ref(ctx: queries.Ctx, ref: str) -> str:
    """A post id, an unambiguous id prefix or the post's URL → the post id (404 E904 none, E907 ambiguous)."""
    from routewatch.postref import PostNotFound, resolve_post

    try:
        # postref still reads through the connection itself (issue 13 moves its SQL into the catalog)
        return resolve_post(ctx.catalog, ref[:2048])
    except PostNotFound as e:
        raise WebError(NOT_FOUND, e.reason) from e


def post_or_404(ctx: queries.Ctx, post_id: str) -> dict[str, Any]:
    check_id(post_id)
    d = queries.post_detail(ctx, post_id)
    if d is None:
        raise WebError(NOT_FOUND, f"no post {post_id!r} in the catalog")
    return d


def links(h: dict[str, Any], q: str = "") -> dict[str, str]:
    from urllib.parse import urlencode

    params: dict[str, str] = {}
    if q.strip():
        params["q"] = q
    if h.get("start_sec") is not None:
        params["t"] = f"{h['start_sec']:.2f}"
        params["unit"] = h["unit_id"]
    elif h.get("unit_id"):
        params["unit"] = h["unit_id"]
    qs = ("?" + urlencode(params)) if params else ""
    return {"page": f"/posts/{h['post_id']}{qs}", "api": f"/api/posts/{h['post_id']}",
            "media": f"/media/{h['post_id']}" + (f"#t={h['start_sec']:.2f}" if h.get("start_sec") is not None else "")}


def digest_of(ctx: queries.Ctx, week: str, min_confidence: str | None = None,
              relevant: str | None = None) -> dict[str, Any]:
    """The served digest of `week` from the request's raw parameters (checked here, E903)."""
    return queries.digest(ctx, week, num(min_confidence, "min_confidence"), relevant_flag(relevant))
