"""Read side of the web layer: catalog + index → public dicts that the API returns and pages render.

In: a read-only catalog connection, the configured index, the privacy `Scrubber`.  Out: plain
dicts (search hits, post detail, trends series, route legs, status) in which every string has been
through the scrubber. One function per view, so the API and the page can never disagree about what
is shown. Never writes to the catalog; SQL only with parameters.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from index.base import UNCHECKED, Query, SearchHits, facts_gold, parse_query_text, threshold
from routewatch.catalog import Catalog, stored_json
from routewatch.core.similar import NEAR_DUPLICATE, jaccard, shingles
from routewatch.errors import RouteWatchError
from routewatch.matched import filter_matches, is_filter_only
from routewatch.records import TextUnit
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

    @property
    def db(self) -> sqlite3.Connection:
        return self.catalog.db

    def index(self) -> Any:
        if self._index is None:
            path = Path(self.settings.data_dir) / "catalog.sqlite"
            if self.settings.index.backend == "sqlite":
                from index.sqlite_fts import SqliteIndex

                # read-only: opening it for writing may migrate (and empty) an older index
                self._index = SqliteIndex(path, read_only=True)
            else:
                from index.base import build_index

                self._index = build_index(self.settings, path)
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
        self.catalog.close()


# ---- small helpers -----------------------------------------------------------------------------------
def _json(text: str | None, default: Any, where: str = "stored JSON") -> Any:
    return stored_json(text, default, where=where)


def _title(scrub: Scrubber, extra_json: str) -> str:
    t = _json(extra_json, {}).get("title")
    return scrub.clean(t) if isinstance(t, str) else ""


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


def _unit_row(db: sqlite3.Connection, unit_id: str) -> sqlite3.Row | None:
    return db.execute("SELECT unit_id, post_id, kind, text, lang, segments_json FROM units WHERE unit_id=?",
                      (unit_id,)).fetchone()


# ---- search ------------------------------------------------------------------------------------------
def search(ctx: Ctx, q: Query) -> SearchHits:
    """The index's hits as API rows; `.total` / `.relation` are the index's count of matching posts."""
    hits = ctx.index().search(q)
    out = []
    why = is_filter_only(q)  # filters and no words: each hit says which fact matched (routewatch/matched.py)
    for h in hits:
        row = _unit_row(ctx.db, h.unit_id) if h.unit_id else None
        if row is not None:
            snip = snippet(ctx.scrub.public(row["text"]), tuple(h.span) if h.span else None)
        else:  # index ahead of the catalog: fall back to the index's own snippet, markers removed
            snip = {"text": ctx.scrub.clean(h.snippet.replace("[", "").replace("]", "")), "highlight": None}
        post = ctx.db.execute("SELECT author_handle, extra_json FROM posts WHERE post_id=?", (h.post_id,)).fetchone()
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
            "title": _title(ctx.scrub, post["extra_json"]) if post else "",
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
    db, scrub = ctx.db, ctx.scrub
    post = ctx.catalog.get_post(post_id)
    if post is None:
        return None
    units_pub: dict[str, PublicText] = {}
    units = []
    order = {"caption": 0, "subtitle": 1, "transcript": 2, "onscreen": 3}
    for u in sorted(ctx.catalog.units(post_id), key=lambda u: (order.get(u.kind, 9), u.unit_id)):
        d, pt = _public_unit(scrub, u)
        units_pub[u.unit_id] = pt
        units.append(d)
    tr_rows = db.execute(
        "SELECT t.transcript_id, t.model, t.language, t.seconds, t.created_at, t.provenance_json, t.audio_sha256, "
        "pt.reused, pt.linked_at FROM post_transcripts pt JOIN transcripts t ON t.transcript_id = pt.transcript_id "
        "WHERE pt.post_id = ? ORDER BY t.created_at", (post_id,)).fetchall()
    unit_tid = {r["unit_id"]: r["transcript_id"] for r in db.execute(
        "SELECT unit_id, transcript_id FROM units WHERE post_id=? AND transcript_id IS NOT NULL", (post_id,))}
    transcripts = [{
        "transcript_id": r["transcript_id"], "model": scrub.meta(r["model"]), "language": r["language"],
        "seconds": r["seconds"], "created_at": r["created_at"], "audio_sha256": r["audio_sha256"],
        "reused": bool(r["reused"]), "linked_at": r["linked_at"],
        "provenance": _public_provenance(scrub, _json(r["provenance_json"], {})),
    } for r in tr_rows]
    for u in units:
        u["transcript_id"] = unit_tid.get(u["unit_id"])
    facts_raw = ctx.catalog.get_facts(post_id)
    mrow = db.execute("SELECT sha256, size, duration, mime, provenance_json, fetched_at FROM media WHERE post_id=?",
                      (post_id,)).fetchone()
    media = None
    if mrow is not None:
        media = {"sha256": mrow["sha256"], "size": mrow["size"], "duration": mrow["duration"], "mime": mrow["mime"],
                 "fetched_at": mrow["fetched_at"], "url": f"/media/{post_id}",
                 "provenance": _public_provenance(scrub, _json(mrow["provenance_json"], {}))}
    snapshots = [{"url": scrub.url_shown(r["url"]), "status": r["status"],
                  "sha256": r["sha256"], "fetched_at": r["fetched_at"], "tool": scrub.meta(r["tool"])}
                 for r in db.execute(
                     "SELECT s.url, s.status, s.sha256, s.fetched_at, s.tool FROM post_snapshots ps "
                     "JOIN snapshots s ON s.id = ps.snapshot_id WHERE ps.post_id=? ORDER BY s.id", (post_id,))]
    sightings = [{"source": scrub.source(r["source"]), "discovered_via": scrub.url_shown(r["discovered_via"]),
                  "seen_at": r["seen_at"]}
                 for r in db.execute("SELECT source, discovered_via, seen_at FROM post_sightings WHERE post_id=? "
                                     "ORDER BY seen_at", (post_id,))]
    stages = {r["stage"]: {"status": r["status"], "code": r["code"], "updated_at": r["updated_at"]}
              for r in db.execute("SELECT stage, status, code, updated_at FROM stage_status WHERE item_id=?",
                                  (post_id,))}
    failures = [{"stage": f.stage, "code": f.code, "reason": scrub.clean(f.reason), "at": f.at}
                for f in ctx.catalog.failures() if f.item_id == post_id]
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
    near-duplicates (captions, routewatch.core.similar: 3-shingle Jaccard ≥ threshold), oldest first."""
    db = ctx.db
    rel: dict[str, list[str]] = defaultdict(list)
    sim: dict[str, float] = {}
    for (pid,) in db.execute(
            "SELECT m2.post_id FROM media m1 JOIN media m2 ON m2.sha256 = m1.sha256 AND m2.post_id != m1.post_id "
            "WHERE m1.post_id = ?", (post_id,)):
        rel[pid].append("same media file")
    # Same audio: posts that share a transcript with this post or with a copy of its media file. A post whose
    # transcript is its own subtitles (captions-first) shares none, so its copies are found through the file.
    copies = [post_id, *rel]
    marks = ",".join("?" for _ in copies)
    for (pid,) in db.execute(
            "SELECT DISTINCT b.post_id FROM post_transcripts a JOIN post_transcripts b "  # noqa: S608 - placeholders only
            f"ON b.transcript_id = a.transcript_id AND b.post_id NOT IN (?, a.post_id) WHERE a.post_id IN ({marks})",
            (post_id, *copies)):
        rel[pid].append("same audio")
    me = db.execute("SELECT caption, author_handle, forwarded_from FROM posts WHERE post_id=?", (post_id,)).fetchone()
    if me is None:
        return []
    my_sh = shingles(me["caption"])
    for r in _caption_candidates(db, post_id, me["caption"]):
        j = jaccard(my_sh, shingles(r["caption"]))
        if j >= threshold:
            rel[r["post_id"]].append("similar caption")
            sim[r["post_id"]] = round(j, 3)
    if not rel:
        return []
    ids = list(rel)[:limit]
    marks = ",".join("?" for _ in ids)
    rows = db.execute(f"SELECT post_id, platform, posted_at, author_handle, forwarded_from, extra_json, caption "  # noqa: S608 - placeholders only
                      f"FROM posts WHERE post_id IN ({marks}) ORDER BY posted_at, post_id", ids).fetchall()
    my_author, my_fwd = handle_key(me["author_handle"]).lower(), handle_key(me["forwarded_from"]).lower()
    out = []
    for r in rows:
        kinds = rel[r["post_id"]]
        if my_fwd and handle_key(r["author_handle"]).lower() == my_fwd:
            kinds.append("by the account this post was forwarded from")
        if my_author and handle_key(r["forwarded_from"]).lower() == my_author:
            kinds.append("forwarded from this post's account")
        out.append({"post_id": r["post_id"], "platform": r["platform"], "posted_at": r["posted_at"],
                    "author": ctx.scrub.handle(r["author_handle"]), "relations": kinds,
                    "similarity": sim.get(r["post_id"]),
                    "title": _title(ctx.scrub, r["extra_json"]) or ctx.scrub.clean(r["caption"])[:120]})
    return out


def _caption_candidates(db: sqlite3.Connection, post_id: str, caption: str, n: int = 12) -> list[sqlite3.Row]:
    rows = db.execute("SELECT post_id, caption FROM posts WHERE caption = ? AND post_id != ? LIMIT 200",
                      (caption, post_id)).fetchall()
    has_fts = db.execute("SELECT 1 FROM sqlite_master WHERE name='idx_units_cjk'").fetchone()
    low = caption[:4000].lower()
    grams = sorted({g for g in (low[i:i + 3] for i in range(len(low) - 2)) if all(c.isalnum() for c in g)})
    if not has_fts or not grams:
        return rows
    step = max(1, len(grams) // n)
    expr = " OR ".join('"' + g + '"' for g in grams[::step][:n])
    try:
        more = db.execute(
            "SELECT DISTINCT p.post_id, p.caption FROM idx_units u JOIN posts p ON p.post_id = u.post_id "
            "WHERE u.kind = 'caption' AND u.post_id != ? AND u.rowid IN "
            "(SELECT rowid FROM idx_units_cjk WHERE idx_units_cjk MATCH ? LIMIT 400) LIMIT 200",
            (post_id, expr)).fetchall()
    except sqlite3.Error:
        more = []
    seen = {r["post_id"] for r in rows}
    return rows + [r for r in more if r["post_id"] not in seen]


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
    where, params = ([] if q.relevant is False else ["e.relevant = 1"]), []
    if q.state:
        where.append("COALESCE((SELECT s.code FROM stage_status s WHERE s.item_id = p.post_id AND s.stage = 'recheck' "
                     "AND s.status = 'done'), '') = ?")
        params.append("" if q.state == UNCHECKED else q.state)
    if q.platform:
        where.append("p.platform = ?")
        params.append(q.platform.lower())
    if q.lang:
        where.append("p.lang = ?")
        params.append(q.lang.lower())
    if q.since:
        where.append("p.posted_at >= ?")
        params.append(q.since)
    if q.until:
        where.append("p.posted_at < ?")
        params.append(q.until + "T99")
    rows = ctx.db.execute(
        f"SELECT e.post_id, e.gold_json, e.facts_json, p.posted_at FROM extractions e JOIN posts p ON p.post_id = e.post_id "  # noqa: S608 - fixed clauses
        f"WHERE {' AND '.join(where) or '1'} ORDER BY p.posted_at, e.post_id", params).fetchall()
    legs: dict[tuple[str, str], dict[str, Any]] = {}
    within: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    untied: list[dict[str, Any]] = []
    positions: dict[str, list[float]] = defaultdict(list)
    places: dict[str, dict[str, Any]] = {}
    posts_with_route = 0
    for r in rows:
        facts = _json(r["facts_json"], {})
        g = _json(r["gold_json"], {}) if as_extracted else facts_gold(facts, floor)
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
            leg["post_ids"].append(r["post_id"])
        quoted = [c for c in facts.get("costs", []) if isinstance(c, dict)
                  and isinstance(c.get("amount"), int | float) and c.get("currency")]
        if not quoted:
            continue
        costs = [c for c in quoted if c.get("kind") != "total"]  # whole-journey totals pay for no one leg
        texts = {u.unit_id: u.text for u in ctx.catalog.units(r["post_id"])}
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
        untied += [{"post_id": r["post_id"], "amount": amt, "currency": cur, "kind": kind} for amt, cur, kind in left]

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
