"""The HTML pages: search, one post, trends, routes, trace, digest, compare and status.

In: the request's catalog context and filters.  Out: server-rendered pages (Jinja2, autoescaped) built
from the same public dicts as the API (routewatch.web.queries) and the SVG charts of routewatch.charts;
a search or filter the page refuses keeps the form with its code and reason (status 400).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Query as Param
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from index.base import Query, period_of
from routewatch import charts
from routewatch.core.errors import RouteWatchError
from routewatch.search_input import describe_total
from routewatch.web import queries
from routewatch.web.deps import (
    CtxDep,
    FiltersDep,
    code_of,
    digest_of,
    links,
    opt,
    page,
    post_or_404,
    resolve_ref,
)
from routewatch.web.render import Mark, country_name, fmt_amount, highlight, mark_text, term_marks

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, ctx: CtxDep, f: FiltersDep) -> HTMLResponse:
    error = None
    hits: list[dict[str, Any]] = []
    shown, pages = "", {}
    try:
        q = f.query(ctx.web)
        found = queries.search(ctx, q)
        hits = list(found)
        shown = describe_total(len(hits), found.total, found.relation, q.offset)
        pages = page_links(request, q, len(hits), found.total)
    except RouteWatchError as e:
        error = {"code": code_of(e), "reason": e.reason}
    for h in hits:
        h["snippet_html"] = highlight(h["snippet"], h["highlight"])
        h["href"] = links(h, f.q)["page"]
    return page("search.html", request, f=f.raw, hits=hits, error=error, searched=f.active(), shown=shown,
                pages=pages, downloads=download_links(request) if hits else {}, options=ctx.catalog.facet_values(),
                status_code=400 if error else 200)


@router.get("/posts/{post_id:path}", response_class=HTMLResponse, include_in_schema=False)
def post_page(request: Request, post_id: str, ctx: CtxDep,
              q: Annotated[str, Param(max_length=500)] = "",
              t: Annotated[float | None, Param(ge=0, le=86400)] = None,
              unit: Annotated[str | None, Param(max_length=300)] = None) -> Response:
    full = resolve_ref(ctx, post_id)
    if full != post_id:  # a prefix or a URL: the page lives at the full id
        from urllib.parse import quote

        qs = request.url.query
        return RedirectResponse(f"/posts/{quote(full)}" + (f"?{qs}" if qs else ""), status_code=303)
    post = post_or_404(ctx, full)
    view = post_view(post, queries.parse_terms(q), t, unit)
    return page("post.html", request, p=post, v=view, q=q, t=t)


@router.get("/trends", response_class=HTMLResponse, include_in_schema=False)
def trends_page(request: Request, ctx: CtxDep, f: FiltersDep,
                by: Annotated[str, Param(pattern="^(week|day|month)$")] = "week") -> HTMLResponse:
    sections = []
    error = None
    try:
        q = f.query(ctx.web)
        for field, title in (("country", "Countries"), ("leg", "Route legs"), ("term", "Route vocabulary")):
            d = queries.trends(ctx, field, by, q)
            sections.append({"field": field, "title": title, "data": d, "charts": charts.trend_charts(d)})
    except RouteWatchError as e:  # the form stays, with what was typed, and the reason
        error = {"code": code_of(e), "reason": e.reason}
    return page("trends.html", request, sections=sections, by=by, f=f.raw, options=ctx.catalog.facet_values(), error=error,
                status_code=400 if error else 200)


@router.get("/routes", response_class=HTMLResponse, include_in_schema=False)
def routes_page(request: Request, ctx: CtxDep, f: FiltersDep) -> HTMLResponse:
    data = queries.route_legs(ctx, f.query(ctx.web))
    return page("routes.html", request, data=data, diagram=charts.flow_diagram(data), f=f.raw,
                options=ctx.catalog.facet_values(), map_wide=charts.route_map(data, 1000, font=12),
                map_narrow=charts.route_map(data, 360, font=11, cls="narrow"))


@router.get("/trace", response_class=HTMLResponse, include_in_schema=False)
def trace_page(request: Request, ctx: CtxDep, claim: Annotated[str, Param(max_length=500)] = "") -> HTMLResponse:
    result = queries.trace(ctx, claim, 20) if claim.strip() else None
    for g in (result or {}).get("groups", []):
        for e in g.get("posts", []):
            e["snippet_html"] = highlight(e.get("snippet", ""), e.get("highlight"))
            e["href"] = links({**e, "start_sec": e.get("start_sec")})["page"]
            e["url_href"] = e.get("url") if e.get("url_is_link") and ctx.web.link_original_urls else None
    return page("trace.html", request, claim=claim, result=result)


@router.get("/digest", response_class=HTMLResponse, include_in_schema=False)
def digest_page(request: Request, ctx: CtxDep,
                week: Annotated[str | None, Param(pattern=r"^\d{4}-W\d{2}$")] = None,
                min_confidence: Annotated[str | None, Param(max_length=20)] = None,
                relevant: Annotated[str | None, Param(pattern="^(|true|false)$")] = None) -> HTMLResponse:
    weeks = weeks_with_posts(ctx)
    week = week or (weeks[0] if weeks else None)
    error, d = None, None
    try:
        d = digest_of(ctx, week, min_confidence, relevant) if week else None
    except RouteWatchError as e:  # the form stays, with what was typed, and the reason
        error = {"code": code_of(e), "reason": e.reason}
    return page("digest.html", request, week=week, weeks=weeks, d=d, error=error,
                f={"min_confidence": opt(min_confidence), "relevant": opt(relevant)},
                status_code=400 if error else 200)


@router.get("/compare", response_class=HTMLResponse, include_in_schema=False)
def compare_page(request: Request, ctx: CtxDep,
                 a: Annotated[str | None, Param(max_length=10)] = None,
                 b: Annotated[str | None, Param(max_length=10)] = None) -> HTMLResponse:
    weeks = weeks_with_posts(ctx)
    a, b = opt(a) or (weeks[min(4, len(weeks) - 1)] if weeks else None), opt(b) or (weeks[0] if weeks else None)
    error, c = None, None
    try:
        c = queries.compare(ctx, a, b) if a and b else None
    except RouteWatchError as e:
        error = {"code": code_of(e), "reason": e.reason}
    return page("compare.html", request, a=a, b=b, c=c, error=error, weeks=weeks,
                status_code=400 if error else 200)


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request, ctx: CtxDep) -> HTMLResponse:
    return page("status.html", request, s=queries.status(ctx), data_dir=Path(ctx.settings.data_dir).name)


# ---- helpers ------------------------------------------------------------------------------------------
def weeks_with_posts(ctx: queries.Ctx) -> list[str]:
    """The ISO weeks that have posts, newest first: what the digest and compare pages offer."""
    return list(dict.fromkeys(period_of(p, "week") for p in ctx.catalog.posting_times()))


def page_links(request: Request, q: Query, shown: int, total: int) -> dict[str, str]:
    """Previous / next page URLs of a search page (same parameters, another offset)."""
    from urllib.parse import urlencode

    params = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    out = {}
    if q.offset > 0:
        out["prev"] = "/?" + urlencode([*params, ("offset", str(max(0, q.offset - q.limit)))])
    if q.offset + shown < total:
        out["next"] = "/?" + urlencode([*params, ("offset", str(q.offset + shown))])
    return out


def download_links(request: Request) -> dict[str, str]:
    """The current search (same parameters, every page) as /api/export URLs; the CSV one with a BOM, so a
    spreadsheet program reads it as UTF-8."""
    from urllib.parse import urlencode

    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "limit", "format", "bom")]
    return {fmt: "/api/export?" + urlencode([*params, ("format", fmt), *([("bom", "true")] if fmt == "csv" else [])])
            for fmt in ("csv", "jsonl", "parquet")}


def post_view(post: dict[str, Any], terms: list[str], t: float | None, unit: str | None) -> dict[str, Any]:
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
            label = fact_label(kind, item)
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


def fact_label(kind: str, item: dict[str, Any]) -> str:
    if kind == "countries":
        return f"country: {item.get('iso')} ({country_name(item.get('iso'))})"
    if kind == "places":
        return f"place: {item.get('canonical') or item.get('name')} ({item.get('country')})"
    if kind == "costs":
        return f"cost ({item.get('kind')}): {fmt_amount(item.get('amount'))} {item.get('currency') or ''}".strip()
    amt = f", {fmt_amount(item.get('amount'))} {item.get('currency') or ''}" if item.get("amount") is not None else ""
    return f"bribe: {item.get('payer_context')} in {item.get('country') or '?'}{amt}".strip()


