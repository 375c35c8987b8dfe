"""The JSON API (`/api/*`, documented at /openapi.json) and the media copies (`/media/{post_id}`).

In: the request's catalog context, filters and parameters.  Out: the public dicts of
routewatch.web.queries as JSON, CSV / JSONL / Parquet exports, evidence bundles, and a post's local media
file with HTTP Range (a Range outside the file: E925, 416). Never serves a path taken from the request.
"""

from __future__ import annotations

import mimetypes
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Query as Param
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from routewatch.search_input import describe_total, public_query_args
from routewatch.web import queries, schemas
from routewatch.web.deps import (
    MIN_CONFIDENCE_HELP,
    NOT_FOUND,
    RELEVANT_HELP,
    CtxDep,
    FiltersDep,
    WebError,
    check_id,
    check_range,
    digest_of,
    links,
    post_or_404,
    resolve_ref,
    visible,
)
from routewatch.web.schemas import api_responses

router = APIRouter()


@router.get("/api/search", tags=["api"], summary="Search captions, subtitles and transcripts with filters",
            responses=api_responses(schemas.SearchResponse))
def api_search(ctx: CtxDep, f: FiltersDep) -> dict[str, Any]:
    q = f.query(ctx.web)
    hits = queries.search(ctx, q)
    # the request echoed as pages echo it (visible): no bidi override or control from a shared link
    return {"query": visible(f.q),
            "filters": {k: visible(v) for k, v in f.raw.items()
                        if k not in ("q", "offset", "sort") and v not in (None, False)},
            "resolved": public_query_args(q),
            "count": len(hits), "total": hits.total, "total_relation": hits.relation,
            "shown": describe_total(len(hits), hits.total, hits.relation, q.offset),
            "offset": q.offset, "limit": q.limit, "sort": q.sort,
            "hits": [{**h, "links": links(h, f.q)} for h in hits]}


@router.get("/api/export", tags=["api"], response_class=Response, responses=api_responses(),
            summary="The posts of a search (every page; no query and no filter: every post) as CSV, JSONL or "
                    "Parquet, as `routewatch export` writes them; `bom=true` starts a CSV with a UTF-8 BOM")
def api_export(ctx: CtxDep, f: FiltersDep,
               fmt: Annotated[str, Param(alias="format", pattern="^(csv|jsonl|parquet)$")] = "csv",
               bom: Annotated[bool, Param(description="CSV: UTF-8 byte order mark (for Excel)")] = False,
               ) -> Response:
    from routewatch import export as exporter

    q = f.query(ctx.web)
    ids, complete = (None, True) if exporter.is_everything(q) else exporter.matching_ids(ctx.index(), q)
    data, n = exporter.export_bytes(ctx.catalog, ctx.settings, fmt, ids, bom=bom)
    return Response(data, media_type=exporter.MEDIA_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="routewatch-search.{fmt}"',
        "X-RouteWatch-Records": str(n), "X-RouteWatch-Complete": "true" if complete else "false"})


@router.get("/api/trends", tags=["api"], summary="Counts per period by country, leg, term or platform, with totals; "
            "takes the search query and filters", responses=api_responses(schemas.TrendsResponse))
def api_trends(ctx: CtxDep, f: FiltersDep,
               field: Annotated[str, Param(pattern="^(country|leg|term|platform)$")] = "country",
               by: Annotated[str, Param(pattern="^(week|day|month)$")] = "week") -> dict[str, Any]:
    return queries.trends(ctx, field, by, f.query(ctx.web))


@router.get("/api/routes", tags=["api"], summary="Legs between countries: post counts and median quoted costs", responses=api_responses())
def api_routes(ctx: CtxDep, f: FiltersDep) -> dict[str, Any]:
    return queries.route_legs(ctx, f.query(ctx.web))


@router.get("/api/trace", tags=["api"], summary="Earliest and related posts for a claim, near-duplicate groups", responses=api_responses())
def api_trace(ctx: CtxDep, claim: Annotated[str, Param(min_length=1, max_length=500)],
              limit: Annotated[int, Param(ge=1, le=100)] = 20) -> dict[str, Any]:
    return queries.trace(ctx, claim, limit)


@router.get("/api/digest", tags=["api"], summary="The weekly digest of an ISO week (YYYY-Www)", responses=api_responses())
def api_digest(ctx: CtxDep, week: Annotated[str, Param(pattern=r"^\d{4}-W\d{2}$")],
               min_confidence: Annotated[str | None, Param(max_length=20, description=MIN_CONFIDENCE_HELP)] = None,
               relevant: Annotated[str | None, Param(pattern="^(|true|false)$", description=RELEVANT_HELP)] = None,
               ) -> dict[str, Any]:
    return digest_of(ctx, week, min_confidence, relevant)


@router.get("/api/posts/{post_id}/evidence", tags=["api"], response_class=FileResponse,
            summary="Evidence bundle (zip): snapshot, media, hashes, transcript, extraction, provenance",
            responses={**api_responses(), 200: {"content": {"application/zip": {}}, "description": "the bundle"}})
def api_evidence(post_id: str, ctx: CtxDep) -> FileResponse:
    from routewatch.evidence import build_bundle

    post_id = resolve_ref(ctx, post_id)
    tmp = Path(tempfile.mkdtemp(prefix="rw-evidence-"))
    try:
        out = build_bundle(ctx.catalog, ctx.settings, post_id, tmp / f"evidence-{post_id}.zip")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(out, media_type="application/zip", filename=f"evidence-{post_id}.zip",
                        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True))


@router.get("/api/posts/{post_id:path}", tags=["api"], summary="One post (by id, unambiguous id prefix or URL): "
            "texts with timestamps, facts with evidence, provenance, reposts and near-duplicates",
            responses=api_responses(schemas.PostResponse))
def api_post(post_id: str, ctx: CtxDep) -> dict[str, Any]:
    return post_or_404(ctx, resolve_ref(ctx, post_id))


@router.get("/api/status", tags=["api"], summary="Counts per stage and source, failures by error code", responses=api_responses())
def api_status(ctx: CtxDep) -> dict[str, Any]:
    return queries.status(ctx)


@router.get("/media/{post_id}", tags=["media"], response_class=FileResponse,
            summary="The local media copy of a post (HTTP Range supported, for seeking)")
def media(post_id: str, ctx: CtxDep, request: Request) -> FileResponse:
    check_id(post_id)
    m = ctx.catalog.get_media(post_id)
    if m is None:
        raise WebError(NOT_FOUND, f"no media for post {post_id!r}")
    data_dir = Path(ctx.settings.data_dir)
    base = (data_dir / "media").resolve()
    path = (data_dir / m.path).resolve()
    # The path comes from the catalog, never the request; still refuse anything outside DATA/media.
    if not path.is_relative_to(base) or not path.is_file():
        raise WebError(NOT_FOUND, f"media file of post {post_id!r} is missing from the data dir")
    check_range(request.headers.get("range"), path.stat().st_size)
    mime = m.mime or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=mime, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/api/compare", tags=["api"], responses=api_responses(),
            summary="Two periods (ISO weeks or months) side by side: places, legs, terms and price levels with "
                    "each period's share and a test of the difference, the weeks' changes, prices per leg")
def api_compare(ctx: CtxDep, a: Annotated[str, Param(max_length=10, description="2026-W40 or 2026-10")],
                b: Annotated[str, Param(max_length=10, description="2026-W45 or 2026-11")]) -> dict[str, Any]:
    return queries.compare(ctx, a, b)
