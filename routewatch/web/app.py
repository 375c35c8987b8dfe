"""`routewatch serve`: the web UI (server-rendered Jinja2) and the JSON API (FastAPI, /openapi.json).

In: the settings of one data dir; HTTP requests.  Out: the app of three routers — `routes_api` (JSON API
and media), `routes_pages` (HTML pages), `routes_alerts` (saved searches and their feeds) — built from
routewatch.web.queries (every string through the privacy Scrubber), with the rate limit, the security
headers (CSP …) and errors as JSON `{"error": {"code", "reason"}}` with the stable codes of routewatch.core.errors.
Never serves a path taken from the request, never writes to the catalog, never loads from a CDN.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from routewatch.core.errors import RouteWatchError
from routewatch.web import routes_alerts, routes_api, routes_pages, schemas
from routewatch.web.deps import (
    INTERNAL,
    NOT_FOUND,
    RATE_LIMITED,
    STATUS,
    AppState,
    SafeJSONResponse,
    code_of,
    error_response,
)
from routewatch.web.ratelimit import TokenBucket
from routewatch.web.settings import WebSettings, web_settings

__all__ = ["CSP", "app_from_env", "create_app", "serve", "web_settings"]

_STATIC = Path(__file__).with_name("static")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def create_app(settings: Any, *, web: WebSettings | None = None) -> FastAPI:
    """The app for one data dir. `settings` is routewatch.settings.Settings; its `web` section (or the
    `web` argument, which wins) holds the WebSettings."""
    web = web or web_settings(settings)
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
    app.state.rw = AppState(settings, web)
    _add_error_handlers(app)
    _add_guard(app, web)
    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    for r in (routes_api.router, routes_pages.router, routes_alerts.router):
        app.include_router(r)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as the API's JSON (API paths) or the error page, with its stable code and status."""

    @app.exception_handler(RouteWatchError)
    async def _rw_error(request: Request, e: RouteWatchError) -> Response:
        code = code_of(e)
        return error_response(request, code, e.reason, STATUS.get(code, 500), getattr(e, "headers", None))

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


def _add_guard(app: FastAPI, web: WebSettings) -> None:
    """Middleware: the rate limit per client (static files exempt) and the security headers on every answer."""
    bucket = TokenBucket(web.rate_limit_per_minute)

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


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        app.openapi_schema = schemas.clean_openapi(get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes))
    return app.openapi_schema


def _secure(resp: Response) -> None:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")


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
