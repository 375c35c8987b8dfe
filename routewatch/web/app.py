"""`routewatch serve`: the web UI (server-rendered Jinja2) and the JSON API (FastAPI, /openapi.json).

In: the settings of one data dir; HTTP requests.  Out: pages and JSON built from routewatch.web.queries
(every string through the privacy Scrubber), the local media copy by post id (with HTTP Range), and
errors as JSON `{"error": {"code", "reason"}}` with the stable codes of routewatch.errors.
Never serves a path taken from the request, never writes to the catalog, never loads from a CDN.
"""

from __future__ import annotations

import json
import mimetypes
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi import Query as Param
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader
from markupsafe import Markup
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from index.base import Query, period_of
from routewatch.catalog import Catalog
from routewatch.errors import Code, RouteWatchError
from routewatch.privacy import drop_invisible
from routewatch.search_input import describe_total, public_query_args
from routewatch.view import policy
from routewatch.web import charts, queries, schemas
from routewatch.web.public import Scrubber, deep_clean
from routewatch.web.ratelimit import TokenBucket
from routewatch.web.render import Mark, country_name, fmt_amount, fmt_sec, highlight, mark_text, term_marks
from routewatch.web.schemas import api_responses
from routewatch.web.settings import WebSettings

# Codes the web layer needs beyond the current catalogue; the catalogue (routewatch/errors.py) is
# asked to add them under these numbers, and they are used from there as soon as it does.
NOT_FOUND = str(getattr(Code, "E904", "E904"))  # no such post / media / page
RATE_LIMITED = str(getattr(Code, "E905", "E905"))  # too many requests from one client
INTERNAL = str(getattr(Code, "E906", "E906"))  # unexpected error inside the web app

_STATUS = {"E930": 400, "E932": 404, "E903": 400, "E502": 400, "E505": 400, "E506": 400, "E507": 400, "E508": 400, "E907": 400, "E908": 400,
           NOT_FOUND: 404, RATE_LIMITED: 429, "E503": 503, "E902": 500, "E925": 416}
_POST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
_STATIC = Path(__file__).with_name("static")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


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


def _check_range(header: str | None, size: int) -> None:
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


def _code(e: RouteWatchError) -> str:
    return str(getattr(e.code, "value", e.code))


def web_settings(settings: Any) -> WebSettings:
    w = getattr(settings, "web", None)
    if isinstance(w, WebSettings):
        return w
    if w is not None and hasattr(w, "model_dump"):
        return WebSettings(**{k: v for k, v in w.model_dump().items() if k in WebSettings.model_fields})
    return WebSettings()


def _opt(v: str | None) -> str | None:
    v = (v or "").strip()
    return v or None


def _num(v: str | None, name: str) -> float | None:
    v = _opt(v)
    if v is None:
        return None
    try:
        x = float(v)
    except ValueError as e:
        raise RouteWatchError(Code.E903, f"{name} expects a number, got {v[:40]!r}") from e
    if x != x or x in (float("inf"), float("-inf")):
        raise RouteWatchError(Code.E903, f"{name} expects a finite number")
    return x


def _visible(value: Any) -> Any:
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


def _relevant(v: str | None) -> bool | None:
    return {"true": True, "false": False}.get(_opt(v) or "")


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
        self.raw = {"q": q, "country": _opt(country), "route": _opt(route), "platform": _opt(platform),
                    "lang": _opt(lang), "since": _opt(since), "until": _opt(until), "has_bribe": has_bribe,
                    "min_cost": _opt(min_cost), "max_cost": _opt(max_cost), "currency": _opt(currency),
                    "limit": limit, "offset": offset, "sort": sort, "min_confidence": _opt(min_confidence),
                    "relevant": _opt(relevant), "state": _opt(state)}

    def query(self, web: WebSettings) -> Query:
        from routewatch.search_input import build_query

        r = self.raw
        names = {k: k for k in ("min_cost", "max_cost", "currency", "since", "until", "min_confidence", "state")}
        return build_query(self.q, country=r["country"], route=r["route"], platform=r["platform"], lang=r["lang"],
                           since=r["since"], until=r["until"], has_bribe=r["has_bribe"],
                           min_cost=_num(r["min_cost"], "min_cost"), max_cost=_num(r["max_cost"], "max_cost"),
                           currency=r["currency"], limit=min(r["limit"] or web.page_size, web.max_page_size),
                           offset=r["offset"], sort=r["sort"], names=names,
                           min_confidence=_num(r["min_confidence"], "min_confidence"),
                           relevant=_relevant(r["relevant"]), state=r["state"])

    def active(self) -> bool:
        return any(v for k, v in self.raw.items() if k not in ("limit", "offset", "sort"))


class _State:
    """Per-app state: settings and the cached Scrubber (rebuilt when posts are added)."""

    def __init__(self, settings: Any, web: WebSettings):
        self.settings, self.web = settings, web
        self.data_dir = Path(settings.data_dir)
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._at = 0.0
        self._scrubber: Scrubber | None = None

    def scrubber(self, cat: Catalog) -> Scrubber:
        row = cat.db.execute("SELECT MAX(rowid), COUNT(*) FROM posts").fetchone()
        stamp = (row[0], row[1])
        with self._lock:
            if self._scrubber is None or self._stamp != stamp or time.monotonic() - self._at > 60:
                self._scrubber = policy(self.settings, cat, max_chars=self.web.max_text_chars)
                self._stamp, self._at = stamp, time.monotonic()
            return self._scrubber


def get_ctx(request: Request) -> Iterator[queries.Ctx]:
    st: _State = request.app.state.rw
    path = st.data_dir / "catalog.sqlite"
    if not path.exists():
        raise RouteWatchError(Code.E503, f"no catalog in {st.data_dir}: run `routewatch demo` or `routewatch run` first")
    cat = Catalog(path, write=False)
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


def create_app(settings: Any, *, web: WebSettings | None = None) -> FastAPI:
    """The app for one data dir. `settings` is routewatch.settings.Settings; its `web` section (or the
    `web` argument, which wins) holds the WebSettings."""
    web = web or web_settings(settings)
    data_dir = Path(settings.data_dir)
    app = FastAPI(
        title="RouteWatch API",
        version="1",
        description="Search, posts, trends, routes, trace, digest, evidence and status of one RouteWatch data "
                    "dir. Account handles are keyed pseudonyms and contact details are redacted in every "
                    "response. Errors: `{\"error\": {\"code\": \"E###\", \"reason\": \"...\"}}`.",
        docs_url=None, redoc_url=None,  # the stock docs pages load their scripts from a CDN
        default_response_class=SafeJSONResponse,
    )
    app.state.settings = settings
    app.state.web = web
    bucket = TokenBucket(web.rate_limit_per_minute)
    env = Environment(loader=PackageLoader("routewatch.web", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True, finalize=_visible)
    env.globals.update(fmt_sec=fmt_sec, country_name=country_name, fmt_amount=fmt_amount, highlight=highlight,
                       privacy_reveal=bool(settings.privacy.reveal))
    app.state.rw = _State(settings, web)

    def page(name: str, request: Request, status_code: int = 200, **ctx: Any) -> HTMLResponse:
        html = env.get_template(name).render(request_path=request.url.path, **ctx)
        return HTMLResponse(html, status_code=status_code)

    def is_api(request: Request) -> bool:
        return request.url.path.startswith(("/api/", "/media/", "/openapi.json"))

    def error_response(request: Request, code: str, reason: str, status: int,
                       headers: dict[str, str] | None = None) -> Response:
        if is_api(request):
            return SafeJSONResponse({"error": {"code": code, "reason": reason}}, status_code=status, headers=headers)
        resp = page("error.html", request, status_code=status, code=code, reason=reason, status=status)
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    # ---- errors --------------------------------------------------------------------------------------
    @app.exception_handler(RouteWatchError)
    async def _rw_error(request: Request, e: RouteWatchError) -> Response:
        code = _code(e)
        return error_response(request, code, e.reason, _STATUS.get(code, 500), getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, e: RequestValidationError) -> Response:
        errs = e.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "path"))
        return error_response(request, "E903", f"{where or 'request'}: {first.get('msg', 'invalid input')}", 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException) -> Response:
        if e.status_code == 404:
            return error_response(request, NOT_FOUND, "no such page or endpoint", 404)
        if e.status_code == 405:
            return error_response(request, "E903", "method not allowed", 405)
        return error_response(request, INTERNAL if e.status_code >= 500 else "E903", str(e.detail), e.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception) -> Response:
        return error_response(request, INTERNAL, f"internal error ({type(e).__name__}); see the server log", 500)

    # ---- middleware: rate limit, security headers ---------------------------------------------------------
    @app.middleware("http")
    async def _guard(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith("/static/"):
            ip = request.client.host if request.client else "unknown"
            if web.trust_forwarded_for and request.headers.get("x-forwarded-for"):
                ip = request.headers["x-forwarded-for"].split(",")[0].strip()
            ok, wait = bucket.take(ip)
            if not ok:
                resp = error_response(request, RATE_LIMITED,
                                      f"more than {web.rate_limit_per_minute} requests a minute; retry in {wait} s",
                                      429, {"Retry-After": str(wait)})
                _secure(resp)
                return resp
        resp = await call_next(request)
        _secure(resp)
        return resp

    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")

    def _openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            app.openapi_schema = schemas.clean_openapi(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes))
        return app.openapi_schema

    app.openapi = _openapi  # type: ignore[method-assign]

    # ==== JSON API ==========================================================================================
    @app.get("/api/search", tags=["api"], summary="Search captions, subtitles and transcripts with filters",
             responses=api_responses(schemas.SearchResponse))
    def api_search(ctx: CtxDep, f: FiltersDep) -> dict[str, Any]:
        q = f.query(web)
        hits = queries.search(ctx, q)
        # the request echoed as pages echo it (_visible): no bidi override or control from a shared link
        return {"query": _visible(f.q),
                "filters": {k: _visible(v) for k, v in f.raw.items()
                            if k not in ("q", "offset", "sort") and v not in (None, False)},
                "resolved": public_query_args(q),
                "count": len(hits), "total": hits.total, "total_relation": hits.relation,
                "shown": describe_total(len(hits), hits.total, hits.relation, q.offset),
                "offset": q.offset, "limit": q.limit, "sort": q.sort,
                "hits": [{**h, "links": _links(h, f.q)} for h in hits]}

    @app.get("/api/export", tags=["api"], response_class=Response, responses=api_responses(),
             summary="The posts of a search (every page; no query and no filter: every post) as CSV, JSONL or "
                     "Parquet, as `routewatch export` writes them; `bom=true` starts a CSV with a UTF-8 BOM")
    def api_export(ctx: CtxDep, f: FiltersDep,
                   fmt: Annotated[str, Param(alias="format", pattern="^(csv|jsonl|parquet)$")] = "csv",
                   bom: Annotated[bool, Param(description="CSV: UTF-8 byte order mark (for Excel)")] = False,
                   ) -> Response:
        from routewatch import export as exporter

        q = f.query(web)
        ids, complete = (None, True) if exporter.is_everything(q) else exporter.matching_ids(ctx.index(), q)
        data, n = exporter.export_bytes(ctx.catalog, ctx.settings, fmt, ids, bom=bom)
        return Response(data, media_type=exporter.MEDIA_TYPES[fmt], headers={
            "Content-Disposition": f'attachment; filename="routewatch-search.{fmt}"',
            "X-RouteWatch-Records": str(n), "X-RouteWatch-Complete": "true" if complete else "false"})

    @app.get("/api/trends", tags=["api"], summary="Counts per period by country, leg, term or platform, with totals; "
             "takes the search query and filters", responses=api_responses(schemas.TrendsResponse))
    def api_trends(ctx: CtxDep, f: FiltersDep,
                   field: Annotated[str, Param(pattern="^(country|leg|term|platform)$")] = "country",
                   by: Annotated[str, Param(pattern="^(week|day|month)$")] = "week") -> dict[str, Any]:
        return queries.trends(ctx, field, by, f.query(web))

    @app.get("/api/routes", tags=["api"], summary="Legs between countries: post counts and median quoted costs", responses=api_responses())
    def api_routes(ctx: CtxDep, f: FiltersDep) -> dict[str, Any]:
        return queries.route_legs(ctx, f.query(web))

    @app.get("/api/trace", tags=["api"], summary="Earliest and related posts for a claim, near-duplicate groups", responses=api_responses())
    def api_trace(ctx: CtxDep, claim: Annotated[str, Param(min_length=1, max_length=500)],
                  limit: Annotated[int, Param(ge=1, le=100)] = 20) -> dict[str, Any]:
        return _trace(ctx, claim, limit)

    @app.get("/api/digest", tags=["api"], summary="The weekly digest of an ISO week (YYYY-Www)", responses=api_responses())
    def api_digest(ctx: CtxDep, week: Annotated[str, Param(pattern=r"^\d{4}-W\d{2}$")],
                   min_confidence: Annotated[str | None, Param(max_length=20, description=MIN_CONFIDENCE_HELP)] = None,
                   relevant: Annotated[str | None, Param(pattern="^(|true|false)$", description=RELEVANT_HELP)] = None,
                   ) -> dict[str, Any]:
        return _digest(ctx, week, min_confidence, relevant)

    @app.get("/api/posts/{post_id}/evidence", tags=["api"], response_class=FileResponse,
             summary="Evidence bundle (zip): snapshot, media, hashes, transcript, extraction, provenance",
             responses={**api_responses(), 200: {"content": {"application/zip": {}}, "description": "the bundle"}})
    def api_evidence(post_id: str, ctx: CtxDep) -> FileResponse:
        from routewatch.evidence import build_bundle

        post_id = _resolve_ref(ctx, post_id)
        tmp = Path(tempfile.mkdtemp(prefix="rw-evidence-"))
        try:
            out = build_bundle(ctx.catalog, settings, post_id, tmp / f"evidence-{post_id}.zip")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return FileResponse(out, media_type="application/zip", filename=f"evidence-{post_id}.zip",
                            background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))

    @app.get("/api/posts/{post_id:path}", tags=["api"], summary="One post (by id, unambiguous id prefix or URL): "
             "texts with timestamps, facts with evidence, provenance, reposts and near-duplicates",
             responses=api_responses(schemas.PostResponse))
    def api_post(post_id: str, ctx: CtxDep) -> dict[str, Any]:
        return _post_or_404(ctx, _resolve_ref(ctx, post_id))

    @app.get("/api/status", tags=["api"], summary="Counts per stage and source, failures by error code", responses=api_responses())
    def api_status(ctx: CtxDep) -> dict[str, Any]:
        return queries.status(ctx)

    @app.get("/media/{post_id}", tags=["media"], response_class=FileResponse,
             summary="The local media copy of a post (HTTP Range supported, for seeking)")
    def media(post_id: str, ctx: CtxDep, request: Request) -> FileResponse:
        _check_id(post_id)
        row = ctx.db.execute("SELECT path, mime FROM media WHERE post_id=?", (post_id,)).fetchone()
        if row is None:
            raise WebError(NOT_FOUND, f"no media for post {post_id!r}")
        base = (data_dir / "media").resolve()
        path = (data_dir / row["path"]).resolve()
        # The path comes from the catalog, never the request; still refuse anything outside DATA/media.
        if not path.is_relative_to(base) or not path.is_file():
            raise WebError(NOT_FOUND, f"media file of post {post_id!r} is missing from the data dir")
        _check_range(request.headers.get("range"), path.stat().st_size)
        mime = row["mime"] or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=mime, headers={"Cache-Control": "private, max-age=3600"})

    # ==== pages =============================================================================================
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, ctx: CtxDep, f: FiltersDep) -> HTMLResponse:
        error = None
        hits: list[dict[str, Any]] = []
        shown, pages = "", {}
        try:
            q = f.query(web)
            found = queries.search(ctx, q)
            hits = list(found)
            shown = describe_total(len(hits), found.total, found.relation, q.offset)
            pages = _page_links(request, q, len(hits), found.total)
        except RouteWatchError as e:
            error = {"code": _code(e), "reason": e.reason}
        for h in hits:
            h["snippet_html"] = highlight(h["snippet"], h["highlight"])
            h["href"] = _links(h, f.q)["page"]
        return page("search.html", request, f=f.raw, hits=hits, error=error, searched=f.active(), shown=shown,
                    pages=pages, downloads=_download_links(request) if hits else {}, options=_options(ctx),
                    status_code=400 if error else 200)

    @app.get("/posts/{post_id:path}", response_class=HTMLResponse, include_in_schema=False)
    def post_page(request: Request, post_id: str, ctx: CtxDep,
                  q: Annotated[str, Param(max_length=500)] = "",
                  t: Annotated[float | None, Param(ge=0, le=86400)] = None,
                  unit: Annotated[str | None, Param(max_length=300)] = None) -> Response:
        full = _resolve_ref(ctx, post_id)
        if full != post_id:  # a prefix or a URL: the page lives at the full id
            from urllib.parse import quote

            qs = request.url.query
            return RedirectResponse(f"/posts/{quote(full)}" + (f"?{qs}" if qs else ""), status_code=303)
        post = _post_or_404(ctx, full)
        view = _post_view(post, queries.parse_terms(q), t, unit)
        return page("post.html", request, p=post, v=view, q=q, t=t)

    @app.get("/trends", response_class=HTMLResponse, include_in_schema=False)
    def trends_page(request: Request, ctx: CtxDep, f: FiltersDep,
                    by: Annotated[str, Param(pattern="^(week|day|month)$")] = "week") -> HTMLResponse:
        sections = []
        error = None
        try:
            q = f.query(web)
            for field, title in (("country", "Countries"), ("leg", "Route legs"), ("term", "Route vocabulary")):
                d = queries.trends(ctx, field, by, q)
                sections.append({"field": field, "title": title, "data": d, "charts": charts.trend_charts(d)})
        except RouteWatchError as e:  # the form stays, with what was typed, and the reason
            error = {"code": _code(e), "reason": e.reason}
        return page("trends.html", request, sections=sections, by=by, f=f.raw, options=_options(ctx), error=error,
                    status_code=400 if error else 200)

    @app.get("/routes", response_class=HTMLResponse, include_in_schema=False)
    def routes_page(request: Request, ctx: CtxDep, f: FiltersDep) -> HTMLResponse:
        data = queries.route_legs(ctx, f.query(web))
        return page("routes.html", request, data=data, diagram=charts.flow_diagram(data), f=f.raw,
                    options=_options(ctx), map_wide=charts.route_map(data, 1000, font=12),
                    map_narrow=charts.route_map(data, 360, font=11, cls="narrow"))

    @app.get("/trace", response_class=HTMLResponse, include_in_schema=False)
    def trace_page(request: Request, ctx: CtxDep, claim: Annotated[str, Param(max_length=500)] = "") -> HTMLResponse:
        result = _trace(ctx, claim, 20) if claim.strip() else None
        for g in (result or {}).get("groups", []):
            for e in g.get("posts", []):
                e["snippet_html"] = highlight(e.get("snippet", ""), e.get("highlight"))
                e["href"] = _links({**e, "start_sec": e.get("start_sec")})["page"]
                e["url_href"] = e.get("url") if e.get("url_is_link") and web.link_original_urls else None
        return page("trace.html", request, claim=claim, result=result)

    @app.get("/digest", response_class=HTMLResponse, include_in_schema=False)
    def digest_page(request: Request, ctx: CtxDep,
                    week: Annotated[str | None, Param(pattern=r"^\d{4}-W\d{2}$")] = None,
                    min_confidence: Annotated[str | None, Param(max_length=20)] = None,
                    relevant: Annotated[str | None, Param(pattern="^(|true|false)$")] = None) -> HTMLResponse:
        weeks = [r[0] for r in ctx.db.execute(
            "SELECT DISTINCT posted_at FROM posts WHERE posted_at != '' ORDER BY posted_at DESC")]
        weeks = list(dict.fromkeys(period_of(p, "week") for p in weeks))
        week = week or (weeks[0] if weeks else None)
        error, d = None, None
        try:
            d = _digest(ctx, week, min_confidence, relevant) if week else None
        except RouteWatchError as e:  # the form stays, with what was typed, and the reason
            error = {"code": _code(e), "reason": e.reason}
        return page("digest.html", request, week=week, weeks=weeks, d=d, error=error,
                    f={"min_confidence": _opt(min_confidence), "relevant": _opt(relevant)},
                    status_code=400 if error else 200)

    @app.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare_page(request: Request, ctx: CtxDep,
                     a: Annotated[str | None, Param(max_length=10)] = None,
                     b: Annotated[str | None, Param(max_length=10)] = None) -> HTMLResponse:
        weeks = list(dict.fromkeys(period_of(r[0], "week") for r in ctx.db.execute(
            "SELECT posted_at FROM posts WHERE posted_at != '' ORDER BY posted_at DESC")))
        a, b = _opt(a) or (weeks[min(4, len(weeks) - 1)] if weeks else None), _opt(b) or (weeks[0] if weeks else None)
        error, c = None, None
        try:
            c = _compare(ctx, a, b) if a and b else None
        except RouteWatchError as e:
            error = {"code": _code(e), "reason": e.reason}
        return page("compare.html", request, a=a, b=b, c=c, error=error, weeks=weeks,
                    status_code=400 if error else 200)

    @app.get("/api/compare", tags=["api"], responses=api_responses(),
             summary="Two periods (ISO weeks or months) side by side: places, legs, terms and price levels with "
                     "each period's share and a test of the difference, the weeks' changes, prices per leg")
    def api_compare(ctx: CtxDep, a: Annotated[str, Param(max_length=10, description="2026-W40 or 2026-10")],
                    b: Annotated[str, Param(max_length=10, description="2026-W45 or 2026-11")]) -> dict[str, Any]:
        return _compare(ctx, a, b)

    @app.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    def alerts_page(request: Request, ctx: CtxDep) -> HTMLResponse:
        return page("alerts.html", request, searches=_alert_lists(ctx))

    @app.get("/api/alerts", tags=["api"], summary="Saved searches and their latest matches (new: not yet seen with "
             "`routewatch alerts`)", responses=api_responses())
    def api_alerts(ctx: CtxDep) -> dict[str, Any]:
        return {"saved_searches": _alert_lists(ctx)}

    @app.get("/alerts/{name}.atom", tags=["api"], response_class=Response, responses=api_responses(),
             summary="Atom feed of one saved search's matches (newest first, at most 100)")
    def alerts_feed(request: Request, name: str, ctx: CtxDep) -> Response:
        from routewatch import alerts as al

        s = al.saved(ctx.catalog, al.check_name(name))[0] if _has_alert_tables(ctx) else None
        if s is None:
            raise RouteWatchError(Code.E932, f"no saved search {name!r}")
        views = [al.view(ctx.catalog, ctx.scrub, a) for a in al.recent(ctx.catalog, s.name)]
        base = str(request.base_url).rstrip("/")
        return Response(atom_feed(s, views, base), media_type="application/atom+xml; charset=utf-8")

    @app.get("/status", response_class=HTMLResponse, include_in_schema=False)
    def status_page(request: Request, ctx: CtxDep) -> HTMLResponse:
        return page("status.html", request, s=queries.status(ctx), data_dir=data_dir.name)

    # ---- helpers that need the app's settings ----------------------------------------------------------
    def _trace(ctx: queries.Ctx, claim: str, limit: int) -> dict[str, Any]:
        from routewatch.postref import find_post, looks_like_ref
        from routewatch.trace import trace_claim

        pid = find_post(ctx.catalog, claim) if looks_like_ref(claim) else None
        if pid is not None:  # a post id, prefix or URL: trace what that post claims
            post = ctx.catalog.get_post(pid)
            claim = (post.caption if post else "") or claim
        raw = trace_claim(ctx.catalog, settings, claim, limit=limit)
        out: dict[str, Any] = deep_clean(ctx.scrub, raw)  # type: ignore[assignment]
        # Snippets again from the unit text and the span, so the match is marked in the redacted text.
        for g in out.get("groups", []):
            for e in g.get("posts", []):
                prow = ctx.db.execute("SELECT extra_json FROM posts WHERE post_id=?", (e.get("post_id"),)).fetchone()
                e["title"] = queries._title(ctx.scrub, prow["extra_json"]) if prow else ""
                row = queries._unit_row(ctx.db, e.get("unit_id") or "")
                span = e.get("span")
                if row is not None:
                    snip = queries.snippet(ctx.scrub.public(row["text"]), tuple(span) if span else None)
                    e["snippet"], e["highlight"] = snip["text"], snip["highlight"]
                else:
                    e["highlight"] = None
        return out

    def _compare(ctx: queries.Ctx, a: str, b: str) -> dict[str, Any]:
        """changes.compare_periods as served: counts under privacy.min_count shown as "<5" (as in the digest)
        and a share only beside a count of at least that; the exact counts dropped."""
        from routewatch.changes import compare_periods
        from routewatch.digest import shown

        least = ctx.scrub.min_count

        def small(n: int) -> str:
            return shown(n, least)

        c = compare_periods(ctx.catalog, a, b)
        for row in c["rows"]:
            for side in ("a", "b"):
                n = row[side].pop("count")
                row[side]["shown"] = small(n)
                row[side]["share"] = round(row[side]["share"], 3) if n >= least else None
        for side in ("a", "b"):
            c[side]["shown"] = small(c[side].pop("n"))
            for ch in c[side]["changes"] or []:
                for k in ("count", "n", "baseline_count", "baseline_n"):
                    ch[f"{k}_shown"] = small(ch.pop(k))
                ch["expected"] = round(ch["expected"], 1)
        for pr in c["prices"]:
            for side in ("a", "b"):
                if pr[side]:
                    pr[side]["shown"] = small(pr[side].pop("n"))
        return deep_clean(ctx.scrub, c)  # type: ignore[return-value]

    def _digest(ctx: queries.Ctx, week: str, min_confidence: str | None = None,
                relevant: str | None = None) -> dict[str, Any]:
        from routewatch.digest import build_digest
        from routewatch.search_input import check_confidence

        m = check_confidence(_num(min_confidence, "min_confidence"), "min_confidence")
        return _drop_raw_counts(deep_clean(ctx.scrub, build_digest(ctx.catalog, settings, week, min_confidence=m,
                                                                   relevant=_relevant(relevant))))

    return app


# ---- module helpers -------------------------------------------------------------------------------------
def _secure(resp: Response) -> None:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")


def _drop_raw_counts(obj: Any) -> Any:
    """The digest's exact counts (`n`) stay out of what is served: only its displayed values, which
    suppress counts under 5, are shown."""
    if isinstance(obj, dict):
        return {k: _drop_raw_counts(v) for k, v in obj.items() if not (k == "n" and isinstance(v, int))}
    if isinstance(obj, list):
        return [_drop_raw_counts(x) for x in obj]
    return obj


def _check_id(post_id: str) -> None:
    if not _POST_ID.fullmatch(post_id):
        raise RouteWatchError(Code.E903, "post ids are letters, digits and - _ . :")


def _resolve_ref(ctx: queries.Ctx, ref: str) -> str:
    """A post id, an unambiguous id prefix or the post's URL → the post id (404 E904 none, E907 ambiguous)."""
    from routewatch.postref import PostNotFound, resolve_post

    try:
        return resolve_post(ctx.catalog, ref[:2048])
    except PostNotFound as e:
        raise WebError(NOT_FOUND, e.reason) from e


def _page_links(request: Request, q: Query, shown: int, total: int) -> dict[str, str]:
    """Previous / next page URLs of a search page (same parameters, another offset)."""
    from urllib.parse import urlencode

    params = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    out = {}
    if q.offset > 0:
        out["prev"] = "/?" + urlencode([*params, ("offset", str(max(0, q.offset - q.limit)))])
    if q.offset + shown < total:
        out["next"] = "/?" + urlencode([*params, ("offset", str(q.offset + shown))])
    return out


def _has_alert_tables(ctx: queries.Ctx) -> bool:
    """A catalog last written by an older RouteWatch (the web opens it read-only) has no saved searches yet."""
    return ctx.db.execute("SELECT 1 FROM sqlite_master WHERE name='saved_alerts'").fetchone() is not None


def _alert_lists(ctx: queries.Ctx, limit: int = 50) -> list[dict[str, Any]]:
    """Every saved search with its latest matches (public views), the unseen ones marked new."""
    from routewatch import alerts as al

    if not _has_alert_tables(ctx):
        return []
    out = []
    for s in al.saved(ctx.catalog):
        rows = al.recent(ctx.catalog, s.name, limit)
        views = [{**al.view(ctx.catalog, ctx.scrub, a), "new": a["seen_at"] is None} for a in rows]
        out.append({**s.public(), "query": ctx.scrub.clean(s.query), "unseen": len(al.pending(ctx.catalog, s.name)),
                    "alerts": views})
    return out


def atom_feed(s: Any, views: list[dict[str, Any]], base: str) -> bytes:
    """An Atom 1.0 feed (RFC 4287) of one saved search: one entry per matched post, its id stable across
    checks (tag URI of the saved search and post) so a feed reader shows each post once."""
    from xml.etree.ElementTree import Element, SubElement, tostring  # noqa: S405 - building, never parsing

    ns = "http://www.w3.org/2005/Atom"
    feed = Element("feed", xmlns=ns)
    SubElement(feed, "id").text = f"tag:routewatch,2026:saved/{s.name}"
    SubElement(feed, "title").text = f"RouteWatch: {s.name}"
    SubElement(feed, "subtitle").text = "New posts matching the saved search " + (
        f"“{drop_invisible(s.query)}”" if s.query else "(filters only)") + "".join(
        f" {k}={v}" for k, v in s.filters.items())
    SubElement(feed, "updated").text = _rfc3339(views[0]["found_at"] if views else (s.checked_at or s.created_at))
    SubElement(feed, "link", rel="self", href=f"{base}/alerts/{s.name}.atom")
    SubElement(feed, "link", rel="alternate", href=f"{base}/alerts")
    SubElement(SubElement(feed, "author"), "name").text = "RouteWatch"
    SubElement(feed, "generator").text = "RouteWatch"
    for v in views:
        e = SubElement(feed, "entry")
        change = v.get("change")
        SubElement(e, "id").text = f"tag:routewatch,2026:saved/{s.name}/" + (
            f"change/{change['key']}" if change else v["post_id"])
        SubElement(e, "title").text = drop_invisible(v["title"] or v["snippet"][:80] or v["post_id"])
        SubElement(e, "updated").text = _rfc3339(v["found_at"])
        if v["posted_at"]:
            SubElement(e, "published").text = _rfc3339(v["posted_at"])
        SubElement(e, "link", rel="alternate", href=f"{base}/digest?week={change['week']}" if change
                   else f"{base}/posts/{v['post_id']}")
        if v["url"]:
            SubElement(e, "link", rel="via", href=v["url"])
        if v["author"]:
            SubElement(SubElement(e, "author"), "name").text = v["author"]
        SubElement(e, "summary").text = drop_invisible(v["snippet"])
        for c in v["route"] or v["countries"]:
            SubElement(e, "category", term=str(c))
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(feed, encoding="utf-8", xml_declaration=False)


def _rfc3339(ts: str) -> str:
    """Catalog times (ISO, maybe without zone or seconds) as RFC 3339 date-times, UTC assumed."""
    from datetime import UTC, datetime

    try:
        dt = datetime.fromisoformat((ts or "").replace("Z", "+00:00"))
    except ValueError:
        dt = datetime(1970, 1, 1, tzinfo=UTC)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _download_links(request: Request) -> dict[str, str]:
    """The current search (same parameters, every page) as /api/export URLs; the CSV one with a BOM, so a
    spreadsheet program reads it as UTF-8."""
    from urllib.parse import urlencode

    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit", "format", "bom")]
    return {fmt: "/api/export?" + urlencode([*params, ("format", fmt), *([("bom", "true")] if fmt == "csv" else [])])
            for fmt in ("csv", "jsonl", "parquet")}


def _post_or_404(ctx: queries.Ctx, post_id: str) -> dict[str, Any]:
    _check_id(post_id)
    d = queries.post_detail(ctx, post_id)
    if d is None:
        raise WebError(NOT_FOUND, f"no post {post_id!r} in the catalog")
    return d


def _links(h: dict[str, Any], q: str = "") -> dict[str, str]:
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


def _options(ctx: queries.Ctx) -> dict[str, list[str]]:
    db = ctx.db
    countries: set[str] = set()
    for (g,) in db.execute("SELECT gold_json FROM extractions WHERE relevant = 1 LIMIT 20000"):
        countries.update(c for c in queries._json(g, {}).get("countries", []) if isinstance(c, str))
    return {
        "platforms": [r[0] for r in db.execute("SELECT DISTINCT platform FROM posts ORDER BY platform")],
        "langs": [r[0] for r in db.execute("SELECT DISTINCT lang FROM posts WHERE lang != '' ORDER BY lang")],
        "countries": sorted(countries),
    }


def _post_view(post: dict[str, Any], terms: list[str], t: float | None, unit: str | None) -> dict[str, Any]:
    """Per-unit HTML for the post page: evidence spans marked with their fact ids, query terms marked,
    the segment at second `t` of the hit unit flagged."""
    facts = post.get("facts") or {}
    ev_marks: dict[str, list[Mark]] = {}
    fact_list: list[dict[str, Any]] = []
    n = 0
    for kind in ("countries", "places", "costs", "bribes"):
        for item in facts.get(kind, []):
            n += 1
            fid = f"f{n}"
            label = _fact_label(kind, item)
            fact_list.append({"id": fid, "kind": kind, "label": label, "item": item})
            for ev in item.get("evidence", []):
                if ev.get("span"):
                    ev_marks.setdefault(ev["unit_id"], []).append(
                        Mark(ev["span"][0], ev["span"][1], "ev", title=label, facts=(fid,)))
    hit_unit = unit
    if hit_unit is None and t is not None:
        hit_unit = next((u["unit_id"] for u in post["units"] if u["kind"] == "transcript"), None)
    units = []
    for u in post["units"]:
        marks = ev_marks.get(u["unit_id"], []) + term_marks(u["text"], terms)
        if u["segments"]:
            segs = []
            for i, s in enumerate(u["segments"]):
                off = s["offset"]
                html = mark_text(u["text"], marks, off[0], off[1]) if off else Markup.escape(s["text"])
                is_hit = (u["unit_id"] == hit_unit and t is not None and s["start"] - 0.05 <= t < s["end"] + 0.05)
                segs.append({**s, "i": i, "html": html, "hit": is_hit})
            if u["unit_id"] == hit_unit and t is not None and not any(s["hit"] for s in segs) and segs:
                best = min(segs, key=lambda s: abs(s["start"] - t))
                best["hit"] = True
            units.append({**u, "segs": segs, "html": None})
        else:
            units.append({**u, "segs": [], "html": mark_text(u["text"], marks)})
    return {"units": units, "facts": fact_list, "hit_unit": hit_unit}


def _fact_label(kind: str, item: dict[str, Any]) -> str:
    if kind == "countries":
        return f"country: {item.get('iso')} ({country_name(item.get('iso'))})"
    if kind == "places":
        return f"place: {item.get('canonical') or item.get('name')} ({item.get('country')})"
    if kind == "costs":
        return f"cost ({item.get('kind')}): {fmt_amount(item.get('amount'))} {item.get('currency') or ''}".strip()
    amt = f", {fmt_amount(item.get('amount'))} {item.get('currency') or ''}" if item.get("amount") is not None else ""
    return f"bribe: {item.get('payer_context')} in {item.get('country') or '?'}{amt}".strip()


_SERVE_ENV = "ROUTEWATCH_SERVE_SETTINGS"  # how `serve --workers N` hands its settings to the worker processes


def app_from_env() -> FastAPI:
    """The app of one worker process of `serve(workers > 1)`: settings as the parent resolved them."""
    from routewatch.settings import Settings

    return create_app(Settings.model_validate_json(os.environ[_SERVE_ENV]))


def serve(settings: Any, host: str = "127.0.0.1", port: int = 8000, workers: int | None = None) -> None:
    """Run the web UI and API with uvicorn until interrupted; `workers` (default `web.workers`) processes."""
    import uvicorn

    web = web_settings(settings)
    workers = workers or web.workers
    common = {"host": host, "port": port, "log_level": "info", "server_header": False,
              "proxy_headers": web.trust_forwarded_for}
    if workers == 1:
        uvicorn.run(create_app(settings), **common)
        return
    # Each worker limits an equal share, so a client spread over the workers stays within the setting.
    share = -(-web.rate_limit_per_minute // workers) if web.rate_limit_per_minute else 0
    shared = settings.model_copy(update={"web": web.model_copy(update={"rate_limit_per_minute": share})})
    os.environ[_SERVE_ENV] = shared.model_dump_json()
    uvicorn.run("routewatch.web.app:app_from_env", factory=True, workers=workers, **common)
