"""Export of the catalog or of a search's result for researchers' own analysis: CSV, JSONL or Parquet.

In: the catalog and, optionally, the post ids a search found (every page, in the search's order).  Out: one
record per post with every post field, its media, text units, transcripts, extraction and sightings; nested
values are JSON text in CSV and Parquet (beside flat columns for countries, route, first cost and bribes),
objects in JSONL. CSV cells a spreadsheet would run as a formula are prefixed with ' (CSV only). Author, URL,
source and forward source come from the one read model (routewatch.view: keyed pseudonyms, a pseudonymised
URL flagged `url_is_link` = false), contacts are redacted in content, ids are never touched, and each row
says which privacy mode made it (`privacy`). Files go through routewatch.core.outputs.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from index.base import Query
from routewatch.core.catalog import Catalog, stored_json
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.outputs import open_output
from routewatch.core.privacy import post_accounts, redact_obj
from routewatch.view import PostView, policy

FORMATS = ("csv", "jsonl", "parquet")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8",
               "parquet": "application/vnd.apache.parquet"}
NESTED = ("extra", "media", "units", "transcripts", "extraction", "sightings", "snapshots")
FLAT = ("post_id", "platform", "platform_id", "url", "url_is_link", "source", "caption", "author", "posted_at",
        "captured_at", "lang", "media_url", "page_url", "subtitles_url", "forwarded_from", "discovered_via", "views",
        "relevant", "privacy")
# Common facts as plain columns (CSV and Parquet), read from the extraction summary: "EC;CO;PA", "EC>CO>PA",
# the first quoted cost, the number of bribe mentions. The JSON column `extraction` keeps everything.
FACTS = ("countries", "route", "cost_amount", "cost_currency", "bribe_count")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PAGE = 1000  # hits per search page while collecting a whole result
MAX_OFFSET = 10_000  # the deepest page a search answers (index.base.check_paging)


def is_everything(q: Query) -> bool:
    """No words and no filter: the export is the whole catalog (also the posts not indexed yet)."""
    empty = Query()
    return all(getattr(q, f.name) == getattr(empty, f.name) for f in dataclasses.fields(Query)
               if f.name not in ("limit", "offset", "sort"))


def matching_ids(index: Any, q: Query) -> tuple[list[str], bool]:
    """Every post id the search finds, page after page, in the search's order; and whether that is the
    whole result (False when the index only counts "at least", or the result is deeper than the last page
    a search answers)."""
    ids: list[str] = []
    seen: set[str] = set()
    offset = 0
    complete = True
    while True:
        hits = index.search(dataclasses.replace(q, limit=PAGE, offset=offset))
        for h in hits:
            if h.post_id not in seen:
                seen.add(h.post_id)
                ids.append(h.post_id)
        offset += len(hits)
        if not hits or offset >= hits.total:
            complete = hits.relation == "eq" or not hits
            break
        if offset > MAX_OFFSET:
            complete = False
            break
    return ids, complete


def records(catalog: Catalog, settings: Any, post_ids: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
    """Export records of `post_ids` (in that order; ids no longer in the catalog are left out), or of every post."""
    scrub = policy(settings, catalog)
    mode = str(scrub.provenance()["mode"])
    posts = catalog.posts() if post_ids is None else (catalog.get_post(pid) for pid in post_ids)
    for post in posts:
        if post is None:
            continue
        pid = post.post_id
        media = catalog.media_detail(pid)
        ex = catalog.extraction_detail(pid)
        rec: dict[str, Any] = {
            "post_id": pid, "platform": post.platform, "platform_id": post.platform_id, "url": post.url,
            "source": post.source, "caption": post.caption,
            "author": post.author_handle,
            "posted_at": post.posted_at, "captured_at": post.captured_at, "lang": post.lang,
            "media_url": post.media_url, "page_url": post.page_url, "subtitles_url": post.subtitles_url,
            "forwarded_from": post.forwarded_from, "discovered_via": post.discovered_via, "views": post.views,
            "relevant": bool(ex["relevant"]) if ex else None,
            "extra": stored_json(post.extra_json, {}, where=f"posts.extra_json of {pid}"),
            "media": ({k: media[k] for k in ("path", "sha256", "size", "duration", "mime", "fetched_at", "provenance")}
                      if media else None),
            "units": [{"unit_id": u.unit_id, "kind": u.kind, "lang": u.lang, "text": u.text,
                       "segments": [{"start": s.start, "end": s.end, "text": s.text, "avg_logprob": s.avg_logprob,
                                     "no_speech_prob": s.no_speech_prob} for s in u.segments]}
                      for u in catalog.units(pid)],
            "transcripts": [{k: t[k] for k in ("transcript_id", "model", "language", "seconds", "reused", "provenance")}
                            for t in catalog.transcripts_of(pid)],
            "extraction": ({k: ex[k] for k in ("summary", "facts", "provenance", "created_at")} if ex else None),
            "sightings": catalog.sightings_of(pid),
            "snapshots": [{k: r[k] for k in ("url", "status", "sha256", "fetched_at")} for r in catalog.snapshots_of(pid)],
        }
        if scrub.redact:
            # the post's own accounts are replaced wherever its texts name them (the whole catalog's would
            # rewrite ordinary words that happen to be someone's handle)
            handles = tuple(post_accounts(post.author_handle, post.forwarded_from, post.platform,
                                          post.platform_id)) if scrub.pseudonymise else ()
            rec = redact_obj(rec, handles, scrub.key, keep=scrub.public_accounts)  # type: ignore[assignment]
        # what every surface shows of the post (routewatch.view); the platform id exactly as stored
        view = PostView.of(post, scrub)
        rec.update(platform_id=post.platform_id, url=view.url, url_is_link=view.url_is_link, source=view.source,
                   author=view.author, forwarded_from=view.forwarded_from, privacy=mode)
        yield rec


def export(catalog: Catalog, settings: Any, fmt: str, out: Path, *, force: bool = False,
           post_ids: list[str] | None = None, bom: bool = False) -> int:
    """Write the posts (`post_ids`, or every post) to `out` through the safe output writer
    (routewatch.core.outputs); returns the count."""
    check_format(fmt)
    with open_output(out, "wb", data_dir=settings.data_dir, force=force) as f:
        return write(f, fmt, records(catalog, settings, post_ids), bom=bom)


def export_bytes(catalog: Catalog, settings: Any, fmt: str, post_ids: list[str] | None, *,
                 bom: bool = False) -> tuple[bytes, int]:
    """The same file in memory, for a web download."""
    check_format(fmt)
    buf = io.BytesIO()
    n = write(buf, fmt, records(catalog, settings, post_ids), bom=bom)
    return buf.getvalue(), n


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise RouteWatchError(Code.E903, f"--format must be csv, jsonl or parquet, not {fmt!r}")


def write(f: IO[bytes], fmt: str, recs: Iterable[dict[str, Any]], *, bom: bool = False) -> int:
    """Records → one file in `fmt` on the binary stream `f`; returns the count. `bom` (CSV only) starts the
    file with a UTF-8 byte order mark, so spreadsheet programs read it as UTF-8."""
    n = 0
    if fmt == "jsonl":
        for rec in recs:
            f.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
            n += 1
        return n
    if fmt == "csv":
        text = io.TextIOWrapper(f, encoding="utf-8-sig" if bom else "utf-8", newline="", write_through=True)
        try:
            w = csv.DictWriter(text, fieldnames=[*FLAT, *FACTS, *NESTED])
            w.writeheader()
            for rec in recs:
                w.writerow({k: neutralise(v) for k, v in _flat(rec).items()})
                n += 1
            text.flush()
        finally:
            text.detach()  # the caller owns (and closes) `f`
        return n
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [_flat(r) for r in recs]
    types = {"views": pa.int64(), "relevant": pa.bool_(), "url_is_link": pa.bool_(), "cost_amount": pa.float64(), "bribe_count": pa.int64()}
    schema = pa.schema([(k, types.get(k, pa.string())) for k in (*FLAT, *FACTS, *NESTED)])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), f)
    return len(rows)


def neutralise(value: Any) -> Any:
    """A CSV cell a spreadsheet would execute (=, +, -, @, tab or CR first) gets a leading ' and stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def facts_of(rec: dict[str, Any]) -> dict[str, Any]:
    summary = (rec.get("extraction") or {}).get("summary") or {}
    costs = [c for c in summary.get("costs") or [] if isinstance(c, dict)]
    first = costs[0] if costs else {}
    amount = first.get("amount")
    return {"countries": ";".join(str(c) for c in summary.get("countries") or []),
            "route": ">".join(str(c) for c in summary.get("route") or []),
            "cost_amount": float(amount) if isinstance(amount, int | float) else None,
            "cost_currency": first.get("currency") or "",
            "bribe_count": len(summary.get("bribes") or [])}


def _flat(rec: dict[str, Any]) -> dict[str, Any]:
    out = {k: rec[k] for k in FLAT}
    out.update(facts_of(rec))
    for k in NESTED:
        out[k] = json.dumps(rec[k], ensure_ascii=False, sort_keys=True)
    return out
