"""Read side of the web layer: catalog + index → public dicts that the API returns and pages render.

In: a read-only `Catalog` (its named reads, routewatch/core/catalog_web.py), the configured index, the privacy
`Scrubber`.  Out: plain dicts (search hits, post detail, trends series, route legs, trace, compare, digest,
status) in which every string has been through the scrubber. One function per view, so the API and the
page can never disagree about what is shown. Never writes to the catalog and runs no SQL of its own.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from index.base import UNCHECKED, Query, SearchHits, facts_gold, parse_query_text, threshold
from routewatch.core.catalog import Catalog, stored_json
from routewatch.core.errors import RouteWatchError
from routewatch.core.records import TextUnit
from routewatch.core.similar import NEAR_DUPLICATE, jaccard, shingles
from routewatch.matched import filter_matches, is_filter_only
from routewatch.pipeline import open_index
from routewatch.view import PostView
from routewatch.web.public import PublicText, Scrubber, deep_clean, handle_key
from routewatch.web.settings import WebSettings

SNIPPET_WIDTH = 70


@dataclass
class Ctx:
    """What one request reads through; closed when the request ends."""

    settings: Any
    web: WebSettings
    catalog: Catalog
    scrub: Scrubber
    _index: Any = field(default=None, repr=False)

    def index(self) -> Any:
        if self._index is None:
            # read-only: opening it for writing may migrate (and empty) an older index
            self._index = open_index(self.settings, read_only=True)
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
        self.catalog.close()


# ---- small helpers -----------------------------------------------------------------------------------
def _json(text: str | None, default: Any, where: str = "stored JSON") -> Any:
    return stored_json(text, default, where=where)


def _title(scrub: Scrubber, extra: dict[str, Any] | str | None) -> str:
    """A post's title (from its `extra` object, or the stored JSON of it), made public."""
    t = (_json(extra, {}) if isinstance(extra, str) else extra or {}).get("title")
    return scrub.clean(t) if isinstance(t, str) else ""


def title_of(ctx: Ctx, post_id: str) -> str:
    return _title(ctx.scrub, ctx.catalog.post_extra(post_id))


def snippet(pt: PublicText, span: tuple[int, int] | None, width: int = SNIPPET_WIDTH) -> dict[str, Any]:
    """A window of the public text around the (raw) span: {"text", "highlight": [a, b] | None}."""
    text = pt.text
    if not span:
        cut = text[: width * 2]
        return {"text": cut + ("…" if len(text) > len(cut) else ""), "highlight": None}
    s, e = pt.span(*span)
    a, b = max(0, s - width), min(len(text), e + width)
    pre = "…" if a else ""
    out = pre + text[a:b] + ("…" if b < len(text) else "")
    return {"text": out, "highlight": [len(pre) + s - a, len(pre) + e - a] if e > s else None}


# ---- search ------------------------------------------------------------------------------------------
def search(ctx: Ctx, q: Query) -> SearchHits:
    """The index's hits as API rows; `.total` / `.relation` are the index's count of matching posts."""
    hits = ctx.index().search(q)
    out = []
    why = is_filter_only(q)  # filters and no words: each hit says which fact matched (routewatch/matched.py)
    for h in hits:
        text = ctx.catalog.unit_text(h.unit_id) if h.unit_id else None
        if text is not None:
            snip = snippet(ctx.scrub.public(text), tuple(h.span) if h.span else None)
        else:  # index ahead of the catalog: fall back to the index's own snippet, markers removed
            snip = {"text": ctx.scrub.clean(h.snippet.replace("[", "").replace("]", "")), "highlight": None}
        gold = ctx.catalog.get_extraction_gold(h.post_id) or {}
        full = ctx.catalog.get_post(h.post_id)
        v = PostView.of(full, ctx.scrub) if full is not None else None
        out.append({
            "post_id": h.post_id, "url": ctx.scrub.url_text(h.url), "platform": h.platform,
            "platform_id": v.platform_id if v else None, "url_is_link": bool(v and v.url_is_link),
            "url_href": v.href if v and ctx.web.link_original_urls else None,
            "posted_at": h.posted_at, "source": h.source, "unit_id": h.unit_id, "score": round(h.score, 4),
            "span": list(h.span) if h.span else None, "start_sec": h.start_sec, "end_sec": h.end_sec,
            "snippet": snip["text"], "highlight": snip["highlight"],
            "title": _title(ctx.scrub, full.extra_json) if full is not None else "",
            "author": v.author if v else "",
            "route": gold.get("route", []), "countries": gold.get("countries", []),
            "relevant": gold.get("relevant"),
        })
        if why:
            rows = filter_matches(ctx.catalog.get_facts(h.post_id) or {}, q)
            for r in rows:
                r["evidence"]["text"] = ctx.scrub.public(r["evidence"]["text"]).text
            out[-1]["matched"] = rows
    return SearchHits(out, total=getattr(hits, "total", len(out)), relation=getattr(hits, "relation", "eq"))


# ---- one post ----------------------------------------------------------------------------------------
def _public_unit(scrub: Scrubber, u: TextUnit) -> tuple[dict[str, Any], PublicText]:
    pt = scrub.public(u.text)
    segs: list[dict[str, Any]] = []
    if u.segments:
        aligned = TextUnit.join_segments(u.segments) == u.text
        for s, e, seg in u.segment_offsets():
            if aligned:  # cut the redacted whole, so a number spoken across two segments stays redacted
                a, b = pt.span(s, e)
                text = pt.text[a:b]
            else:
                a = b = None
                text = scrub.clean(seg.text)
            segs.append({"start": seg.start, "end": seg.end, "text": text, "offset": [a, b] if a is not None else None})
    d = {"unit_id": u.unit_id, "kind": u.kind, "lang": u.lang, "text": pt.text, "segments": segs}
    return d, pt


def _public_evidence(scrub: Scrubber, ev: dict[str, Any], units: dict[str, PublicText]) -> dict[str, Any]:
    pt = units.get(ev.get("unit_id", ""))
    start, end = ev.get("start"), ev.get("end")
    if pt is not None and isinstance(start, int) and isinstance(end, int):
        a, b = pt.span(start, end)
        text, offs = pt.text[a:b], [a, b]
    else:
        text, offs = scrub.clean(str(ev.get("text", ""))), None
    return {"unit_id": ev.get("unit_id", ""), "unit_kind": ev.get("unit_kind", ""), "text": text, "span": offs,
            "start_sec": ev.get("start_sec"), "end_sec": ev.get("end_sec")}


def _public_facts(scrub: Scrubber, facts: dict[str, Any], units: dict[str, PublicText]) -> dict[str, Any]:
    def evs(item: dict[str, Any]) -> list[dict[str, Any]]:
        return [_public_evidence(scrub, e, units) for e in item.get("evidence", []) if isinstance(e, dict)]

    def lst(key: str) -> list[dict[str, Any]]:
        v = facts.get(key, [])
        return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []

    def conf(item: dict[str, Any]) -> dict[str, Any]:
        """How sure the extractor is of a fact, and why (source kind, ASR words, rule, corroboration)."""
        c = item.get("confidence")
        why = item.get("why") or []
        return {"confidence": round(float(c), 2) if isinstance(c, int | float) else None,
                "why": [scrub.clean(str(w)) for w in why] if isinstance(why, list) else []}

    prov = facts.get("provenance") or {}
    reasons = facts.get("relevance_reasons") or []
    return {
        "relevant": bool(facts.get("relevant")),
        "relevance_score": facts.get("relevance_score"),
        "relevance_reasons": [scrub.clean(str(r)) for r in reasons] if isinstance(reasons, list) else [],
        "route": [str(c) for c in facts.get("route", []) if isinstance(c, str)],
        "countries": [{"iso": c.get("iso"), "evidence": evs(c), **conf(c)} for c in lst("countries")],
        "places": [{"name": scrub.clean(p.get("name", "")), "canonical": scrub.clean(p.get("canonical", "")),
                    "country": p.get("country"), "evidence": evs(p), **conf(p)} for p in lst("places")],
        "costs": [{"amount": c.get("amount"), "currency": c.get("currency"), "kind": c.get("kind"),
                   "text": scrub.clean(c.get("text", "")), "evidence": evs(c), **conf(c)} for c in lst("costs")],
        "bribes": [{"text": scrub.clean(b.get("text", "")), "payer_context": b.get("payer_context"),
                    "country": b.get("country"), "amount": b.get("amount"), "currency": b.get("currency"),
                    "evidence": evs(b), **conf(b)} for b in lst("bribes")],
        "provenance": _public_provenance(scrub, prov),
    }


def _public_provenance(scrub: Scrubber, prov: Any) -> dict[str, Any]:
    if not isinstance(prov, dict):
        return {}
    params = prov.get("params") or []
    pd = {}
    for p in params:
        if isinstance(p, list | tuple) and len(p) == 2:
            pd[scrub.meta(str(p[0]))] = scrub.meta(str(p[1]))[:400]
    return {"tool": scrub.meta(str(prov.get("tool", ""))), "version": scrub.meta(str(prov.get("version", ""))),
            "model": scrub.meta(str(prov.get("model", ""))), "at": str(prov.get("at", "")), "params": pd}


def post_detail(ctx: Ctx, post_id: str) -> dict[str, Any] | None:
    cat, scrub = ctx.catalog, ctx.scrub
    post = cat.get_post(post_id)
    if post is None:
        return None
    units_pub: dict[str, PublicText] = {}
    units = []
    order = {"caption": 0, "subtitle": 1, "transcript": 2, "onscreen": 3}
    unit_tid = cat.unit_transcripts(post_id)
    for u in sorted(cat.units(post_id), key=lambda u: (order.get(u.kind, 9), u.unit_id)):
        d, pt = _public_unit(scrub, u)
        units_pub[u.unit_id] = pt
        units.append({**d, "transcript_id": unit_tid.get(u.unit_id)})
    transcripts = [{
        "transcript_id": t["transcript_id"], "model": scrub.meta(t["model"]), "language": t["language"],
        "seconds": t["seconds"], "created_at": t["created_at"], "audio_sha256": t["audio_sha256"],
        "reused": t["reused"], "linked_at": t["linked_at"], "provenance": _public_provenance(scrub, t["provenance"]),
    } for t in cat.transcripts_of(post_id)]
    facts_raw = cat.get_facts(post_id)
    m = cat.media_detail(post_id)
    media = None
    if m is not None:
        media = {"sha256": m["sha256"], "size": m["size"], "duration": m["duration"], "mime": m["mime"],
                 "fetched_at": m["fetched_at"], "url": f"/media/{post_id}",
                 "provenance": _public_provenance(scrub, m["provenance"])}
    snapshots = [{"url": scrub.url_shown(r["url"]), "status": r["status"],
                  "sha256": r["sha256"], "fetched_at": r["fetched_at"], "tool": scrub.meta(r["tool"])}
                 for r in cat.snapshots_of(post_id)]
    sightings = [{"source": scrub.source(r["source"]), "discovered_via": scrub.url_shown(r["discovered_via"]),
                  "seen_at": r["seen_at"]} for r in cat.sightings_of(post_id)]
    stages = cat.post_stages(post_id)
    failures = [{"stage": f.stage, "code": f.code, "reason": scrub.clean(f.reason), "at": f.at}
                for f in cat.post_failures(post_id)]
    v = PostView.of(post, scrub)  # author, URL, source: as every output shows them
    return {
        # url: the view's URL, when it is http(s) (never `javascript:` as a URL); url_display: always the text
        "post_id": post.post_id, "platform": post.platform, "platform_id": post.platform_id, "url": scrub.url_text(post.url),
        "url_is_link": v.url_is_link, "url_href": v.href if ctx.web.link_original_urls else None,
        "url_display": {"text": v.url, "href": v.href if ctx.web.link_original_urls else None},
        "title": _title(scrub, post.extra_json), "author": v.author, "forwarded_from": v.forwarded_from,
        "posted_at": post.posted_at, "captured_at": post.captured_at, "lang": post.lang, "views": post.views,
        "source": v.source, "discovered_via": scrub.url_shown(post.discovered_via), "privacy": scrub.provenance(),
        "units": units, "facts": _public_facts(scrub, facts_raw, units_pub) if facts_raw else None,
        "media": media, "transcripts": transcripts, "snapshots": snapshots, "sightings": sightings,
        "stages": stages, "failures": failures, "availability": _availability(scrub, ctx.catalog, post_id),
        "related": related_posts(ctx, post_id),
    }


def _availability(scrub: Scrubber, catalog: Catalog, post_id: str) -> dict[str, Any] | None:
    """The post's state on its platform as `routewatch recheck` last saw it (None: never rechecked)."""
    st = catalog.recheck_state(post_id)
    if st is None:
        return None
    return {"state": st["state"], "label": st["state"].replace("_", " "), "since": st["since"],
            "seen_at": st["seen_at"], "http_status": st["http_status"], "words": scrub.clean(st["words"])}


# ---- reposts and near-duplicates ------------------------------------------------------------------------
def related_posts(ctx: Ctx, post_id: str, threshold: float = NEAR_DUPLICATE, limit: int = 30) -> list[dict[str, Any]]:
    """Reposts (same media file, same or acoustically identical audio, forwarded from this account) and
    near-duplicates (caption 3-gram Jaccard ≥ threshold), oldest first."""
    cat = ctx.catalog
    rel: dict[str, list[str]] = defaultdict(list)
    sim: dict[str, float] = {}
    for pid in cat.same_media_posts(post_id):
        rel[pid].append("same media file")
    # Same audio: posts that share a transcript with this post or with a copy of its media file. A post whose
    # transcript is its own subtitles (captions-first) shares none, so its copies are found through the file.
    for pid in cat.same_audio_posts([post_id, *rel], exclude=post_id):
        rel[pid].append("same audio")
    me = cat.get_post(post_id)
    if me is None:
        return []
    my_sh = shingles(me.caption)
    for pid, caption in cat.caption_candidates(post_id, me.caption):
        j = jaccard(my_sh, shingles(caption))
        if j >= threshold:
            rel[pid].append("similar caption")
            sim[pid] = round(j, 3)
    if not rel:
        return []
    my_author, my_fwd = handle_key(me.author_handle).lower(), handle_key(me.forwarded_from).lower()
    out = []
    for p in cat.posts_by_ids(list(rel)[:limit]):
        kinds = rel[p.post_id]
        if my_fwd and handle_key(p.author_handle).lower() == my_fwd:
            kinds.append("by the account this post was forwarded from")
        if my_author and handle_key(p.forwarded_from).lower() == my_author:
            kinds.append("forwarded from this post's account")
        out.append({"post_id": p.post_id, "platform": p.platform, "posted_at": p.posted_at,
                    "author": ctx.scrub.handle(p.author_handle), "relations": kinds,
                    "similarity": sim.get(p.post_id),
                    "title": _title(ctx.scrub, p.extra_json) or ctx.scrub.clean(p.caption)[:120]})
    return out


# ---- trends -----------------------------------------------------------------------------------------------
def _weeks_between(a: str, b: str) -> list[str]:
    ya, wa = int(a[:4]), int(a[6:])
    yb, wb = int(b[:4]), int(b[6:])
    d, end = date.fromisocalendar(ya, wa, 1), date.fromisocalendar(yb, wb, 1)
    out = []
    while d <= end and len(out) < 520:
        y, w, _ = d.isocalendar()
        out.append(f"{y}-W{w:02d}")
        d += timedelta(days=7)
    return out


def trends(ctx: Ctx, field: str, by: str, q: Query) -> dict[str, Any]:
    """Counts per period under the one small-count rule (`privacy.min_count`, k): a count from 1 to k-1 is
    null beside its shown value "<k" (`*_shown`), 0 stays 0; values whose totals are suppressed are
    listed after the others, alphabetically, so their order tells nothing either."""
    from routewatch.digest import shown

    k = ctx.scrub.min_count

    def hide(n: int) -> int | None:
        return None if 0 < n < k else n

    rows = ctx.index().trends(field, by, q)
    totals: dict[str, int] = {}
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        totals[r["period"]] = r["total"]
        counts[str(r["value"])][r["period"]] = r["count"]
    known = sorted(p for p in totals if p != "unknown")
    periods = _weeks_between(known[0], known[-1]) if by == "week" and known else known
    series = []
    for v, c in counts.items():
        total = sum(c.values())
        per = [c.get(p, 0) for p in periods]
        series.append({"value": ctx.scrub.clean(v), "counts": [hide(n) for n in per],
                       "counts_shown": [shown(n, k) for n in per], "total": hide(total),
                       "total_shown": shown(total, k), "unknown_period": hide(c.get("unknown", 0)),
                       "_order": -total if total >= k else 0})
    series.sort(key=lambda s: (s.pop("_order"), s["value"]))
    per_total = [totals.get(p, 0) for p in periods]
    return {"by": by, "field": field, "min_count": k, "periods": periods, "totals": [hide(n) for n in per_total],
            "totals_shown": [shown(n, k) for n in per_total], "all_shown": shown(sum(per_total), k),
            "unknown_period_total": hide(totals.get("unknown", 0)), "series": series,
            "rows": [{**r, "value": ctx.scrub.clean(str(r["value"])), "count": hide(r["count"]),
                      "count_shown": shown(r["count"], k), "total": hide(r["total"]),
                      "total_shown": shown(r["total"], k)} for r in rows]}


# ---- routes -----------------------------------------------------------------------------------------------
def pack_coordinates(settings: Any) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """(lat, lon) of each country (by ISO) and place (by canonical name) in the corridor pack's
    countries.yaml / places.yaml; entries without both are left out."""
    import yaml

    from nlp.pack import resolve_pack_dir

    ex = settings.extract
    d = resolve_pack_dir(ex.pack, tuple(ex.pack_dirs))
    out: list[dict[str, tuple[float, float]]] = []
    for name, key, ident in (("countries.yaml", "countries", "iso"), ("places.yaml", "places", "canonical")):
        f = d / name
        rows = (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get(key) or [] if f.is_file() else []
        out.append({str(r[ident]): (float(r["lat"]), float(r["lon"])) for r in rows
                    if isinstance(r, dict) and ident in r and isinstance(r.get("lat"), int | float)
                    and isinstance(r.get("lon"), int | float)})
    return out[0], out[1]


def route_legs(ctx: Ctx, q: Query) -> dict[str, Any]:
    """Legs between countries across relevant posts: post counts and the median of the costs tied to each
    leg by the text (tie rule: `routewatch.changes.tied_costs`, whole-journey totals excluded). Costs the
    text ties to no leg are listed apart (`untied`), trips inside one country under `within`. `points`:
    the route's countries and named places with their pack coordinates, for the map."""
    from routewatch.changes import tied_costs

    # the facts at the asked confidence (default: those the aggregates keep), of relevant posts unless
    # q.relevant is False (every post)
    default = float(ctx.settings.extract.aggregate_min_confidence)
    floor = threshold(q, default)
    as_extracted = q.min_confidence is None and q.relevant is not False
    state = None if not q.state else "" if q.state == UNCHECKED else q.state
    rows = ctx.catalog.route_facts(relevant_only=q.relevant is not False, state=state,
                                   platform=(q.platform or "").lower() or None, lang=(q.lang or "").lower() or None,
                                   since=q.since, until=q.until)
    legs: dict[tuple[str, str], dict[str, Any]] = {}
    within: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    untied: list[dict[str, Any]] = []
    positions: dict[str, list[float]] = defaultdict(list)
    places: dict[str, dict[str, Any]] = {}
    posts_with_route = 0
    for post_id, _posted_at, gold, facts in rows:
        g = gold if as_extracted else facts_gold(facts, floor)
        route = [c for c in g.get("route", []) if isinstance(c, str)]
        if q.country and q.country.upper() not in route:
            continue
        if len(route) < 2:
            continue
        posts_with_route += 1
        for i, c in enumerate(route):
            positions[c].append(i / (len(route) - 1))
        facts = {k: [x for x in v if not (isinstance(x, dict) and isinstance(x.get("confidence"), int | float)
                                           and x["confidence"] < floor)] if isinstance(v, list) else v
                 for k, v in facts.items()}  # no place or cost below the threshold
        for p in facts.get("places", []):
            if isinstance(p, dict) and p.get("canonical") and p.get("country") in route:
                places.setdefault(p["canonical"], {"place": p["canonical"], "country": p["country"], "posts": 0})
                places[p["canonical"]]["posts"] += 1
        step = {(a, b) for a, b in zip(route, route[1:], strict=False) if a != b}
        for a, b in step:
            leg = legs.setdefault((a, b), {"from": a, "to": b, "posts": 0, "amounts": defaultdict(list),
                                          "post_ids": []})
            leg["posts"] += 1
            leg["post_ids"].append(post_id)
        quoted = [c for c in facts.get("costs", []) if isinstance(c, dict)
                  and isinstance(c.get("amount"), int | float) and c.get("currency")]
        if not quoted:
            continue
        costs = [c for c in quoted if c.get("kind") != "total"]  # whole-journey totals pay for no one leg
        texts = {u.unit_id: u.text for u in ctx.catalog.units(post_id)}
        left = [(float(c["amount"]), c["currency"], c.get("kind", "")) for c in quoted]
        for t in tied_costs({**facts, "costs": costs}, texts):
            key = (t["amount"], t["currency"], t["kind"])
            if key in left:
                left.remove(key)
            a, _, b = t["leg"].partition(">")
            if b and (a, b) in step:
                legs[(a, b)]["amounts"][t["currency"]].append(t["amount"])
            elif not b:
                within[a][t["currency"]].append(t["amount"])
            else:
                left.append(key)  # tied to a leg of the extracted route that the public route lacks
        untied += [{"post_id": post_id, "amount": amt, "currency": cur, "kind": kind} for amt, cur, kind in left]

    def medians(amounts: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
        return {cur: {"median": round(statistics.median(v), 2), "n": len(v)} for cur, v in sorted(amounts.items())}

    out_legs = []
    for leg in sorted(legs.values(), key=lambda x: (-x["posts"], x["from"], x["to"])):
        med = medians(leg["amounts"])
        head = max(med.items(), key=lambda kv: (kv[1]["n"], kv[0] == "USD"))[0] if med else None
        out_legs.append({"from": leg["from"], "to": leg["to"], "posts": leg["posts"], "median_cost": med,
                         "headline_currency": head, "post_ids": sorted(leg["post_ids"])[:50]})
    order = sorted(positions, key=lambda c: (statistics.mean(positions[c]), c))
    c_xy, p_xy = pack_coordinates(ctx.settings)
    points = [{"kind": "country", "id": c, "lat": c_xy[c][0], "lon": c_xy[c][1]} for c in order if c in c_xy]
    points += [{"kind": "place", "id": p["place"], "country": p["country"], "posts": p["posts"],
                "lat": p_xy[p["place"]][0], "lon": p_xy[p["place"]][1]}
               for p in sorted(places.values(), key=lambda x: (-x["posts"], x["place"])) if p["place"] in p_xy]
    return {"countries": order, "legs": out_legs, "posts_with_route": posts_with_route,
            "within": [{"country": c, "median_cost": medians(v)} for c, v in sorted(within.items())],
            "untied": untied[:200], "untied_total": len(untied), "points": points}


# ---- status ------------------------------------------------------------------------------------------------
def status(ctx: Ctx) -> dict[str, Any]:
    """`routewatch status --json`, every name and string in it made public (whatever its shape)."""
    info: dict[str, Any] = deep_clean(ctx.scrub, ctx.catalog.status())  # type: ignore[assignment]
    for f in info.get("failures", []):
        if isinstance(f, dict) and isinstance(f.get("example"), str):
            f["example"] = f["example"][:300]
    info["index_backend"] = ctx.settings.index.backend
    info["coverage"] = coverage(ctx)
    info["privacy"] = ctx.scrub.provenance()
    return info


def coverage(ctx: Ctx) -> list[dict[str, Any]]:
    """Per source: first and last post date, posts per week (under the digest's "<5" rule) and its gaps of
    two or more silent weeks, up to this week: the digest's coverage table, for the status page."""
    from datetime import UTC, datetime, timedelta

    from routewatch.digest import source_coverage, week_of

    today = datetime.now(UTC).date()
    rows = source_coverage(ctx.catalog, week_of(today), today + timedelta(days=1), k=ctx.scrub.min_count,
                           scrub=ctx.scrub)
    return deep_clean(ctx.scrub, rows)  # type: ignore[return-value]


def parse_terms(text: str) -> list[str]:
    """The words a post page marks (those that made the search find it); none for a malformed query,
    which the search page has already refused with its code."""
    try:
        return [t for t in parse_query_text(text) if t.strip()][:10]
    except RouteWatchError:
        return []


# ---- trace, compare, digest as served -------------------------------------------------------------------
def trace(ctx: Ctx, claim: str, limit: int) -> dict[str, Any]:
    """routewatch.trace for a claim (or for what a post id, prefix or URL claims), made public, with the
    snippets cut again from the redacted unit texts so the match stays marked."""
    from routewatch.postref import find_post, looks_like_ref
    from routewatch.trace import trace_claim

    # postref still reads through the connection itself (issue 13 moves its SQL into the catalog)
    pid = find_post(ctx.catalog, claim) if looks_like_ref(claim) else None
    if pid is not None:  # a post id, prefix or URL: trace what that post claims
        post = ctx.catalog.get_post(pid)
        claim = (post.caption if post else "") or claim
    raw = trace_claim(ctx.catalog, ctx.settings, claim, limit=limit)
    out: dict[str, Any] = deep_clean(ctx.scrub, raw)  # type: ignore[assignment]
    for g in out.get("groups", []):
        for e in g.get("posts", []):
            e["title"] = title_of(ctx, e.get("post_id") or "")
            text = ctx.catalog.unit_text(e.get("unit_id") or "")
            span = e.get("span")
            if text is not None:
                snip = snippet(ctx.scrub.public(text), tuple(span) if span else None)
                e["snippet"], e["highlight"] = snip["text"], snip["highlight"]
            else:
                e["highlight"] = None
    return out


def compare(ctx: Ctx, a: str, b: str) -> dict[str, Any]:
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


def digest(ctx: Ctx, week: str, min_confidence: float | None = None, relevant: bool | None = None) -> dict[str, Any]:
    """routewatch.digest of an ISO week as served: public, and only its displayed counts (`drop_raw_counts`)."""
    from routewatch.digest import build_digest
    from routewatch.search_input import check_confidence

    m = check_confidence(min_confidence, "min_confidence")
    return drop_raw_counts(deep_clean(ctx.scrub, build_digest(ctx.catalog, ctx.settings, week, min_confidence=m,
                                                              relevant=relevant)))


def drop_raw_counts(obj: Any) -> Any:
    """The digest's exact counts (`n`) stay out of what is served: only its displayed values, which
    suppress counts under 5, are shown."""
    if isinstance(obj, dict):
        return {k: drop_raw_counts(v) for k, v in obj.items() if not (k == "n" and isinstance(v, int))}
    if isinstance(obj, list):
        return [drop_raw_counts(x) for x in obj]
    return obj
