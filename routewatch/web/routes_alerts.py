"""The saved-search routes: `/alerts` (page), `/api/alerts` and one Atom feed per saved search.

In: the request's catalog context.  Out: every saved search with its latest matches as public views (the
unseen ones marked new), and `/alerts/NAME.atom` (RFC 4287, entry ids stable across checks).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from routewatch import alerts as al
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.privacy import drop_invisible
from routewatch.web import queries
from routewatch.web.deps import CtxDep, page
from routewatch.web.schemas import api_responses

router = APIRouter()


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(request: Request, ctx: CtxDep) -> HTMLResponse:
    return page("alerts.html", request, searches=alert_lists(ctx))


@router.get("/api/alerts", tags=["api"], summary="Saved searches and their latest matches (new: not yet seen with "
            "`routewatch alerts`)", responses=api_responses())
def api_alerts(ctx: CtxDep) -> dict[str, Any]:
    return {"saved_searches": alert_lists(ctx)}


@router.get("/alerts/{name}.atom", tags=["api"], response_class=Response, responses=api_responses(),
            summary="Atom feed of one saved search's matches (newest first, at most 100)")
def alerts_feed(request: Request, name: str, ctx: CtxDep) -> Response:
    s = al.saved(ctx.catalog, al.check_name(name))[0] if ctx.catalog.has_saved_searches() else None
    if s is None:
        raise RouteWatchError(Code.E932, f"no saved search {name!r}")
    views = [al.view(ctx.catalog, ctx.scrub, a) for a in al.recent(ctx.catalog, s.name)]
    base = str(request.base_url).rstrip("/")
    return Response(atom_feed(s, views, base), media_type="application/atom+xml; charset=utf-8")


# ---- helpers ------------------------------------------------------------------------------------------
def alert_lists(ctx: queries.Ctx, limit: int = 50) -> list[dict[str, Any]]:
    """Every saved search with its latest matches (public views), the unseen ones marked new."""
    if not ctx.catalog.has_saved_searches():  # a catalog older than saved searches
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


