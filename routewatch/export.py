"""Lossless export of the catalog for researchers' own analysis: CSV, JSONL or Parquet.

In: the catalog.  Out: one record per post with every post field, its media, text units (with
segments), transcripts, extraction (facts with evidence spans) and sightings; nested values are
JSON text in CSV and Parquet, objects in JSONL. Under default privacy settings handles are keyed
pseudonyms and contact details are redacted. Writes through routewatch.outputs (never over the catalog).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from routewatch.catalog import Catalog, stored_json
from routewatch.errors import Code, RouteWatchError
from routewatch.outputs import open_output
from routewatch.privacy import install_secret, post_accounts, pseudonym, redact_obj

NESTED = ("extra", "media", "units", "transcripts", "extraction", "sightings", "snapshots")
FLAT = ("post_id", "platform", "platform_id", "url", "source", "caption", "author", "posted_at", "captured_at",
        "lang", "media_url", "page_url", "subtitles_url", "forwarded_from", "discovered_via", "views", "relevant")


def records(catalog: Catalog, settings: Any) -> Iterator[dict[str, Any]]:
    key = install_secret(settings.data_dir)
    redact = settings.privacy.redact_contacts
    pseudo = settings.privacy.pseudonymise_handles
    db = catalog.db
    for post in catalog.posts():
        pid = post.post_id
        media = db.execute("SELECT path, sha256, size, duration, mime, fetched_at, provenance_json FROM media "
                           "WHERE post_id=?", (pid,)).fetchone()
        ex = db.execute("SELECT relevant, gold_json, facts_json, provenance_json, created_at FROM extractions "
                        "WHERE post_id=?", (pid,)).fetchone()
        rec: dict[str, Any] = {
            "post_id": pid, "platform": post.platform, "platform_id": post.platform_id, "url": post.url,
            "source": post.source, "caption": post.caption,
            "author": pseudonym(post.author_handle, key) if pseudo else post.author_handle,
            "posted_at": post.posted_at, "captured_at": post.captured_at, "lang": post.lang,
            "media_url": post.media_url, "page_url": post.page_url, "subtitles_url": post.subtitles_url,
            "forwarded_from": post.forwarded_from, "discovered_via": post.discovered_via, "views": post.views,
            "relevant": bool(ex["relevant"]) if ex else None,
            "extra": stored_json(post.extra_json, {}, where=f"posts.extra_json of {pid}"),
            "media": ({**{k: media[k] for k in ("path", "sha256", "size", "duration", "mime", "fetched_at")},
                       "provenance": stored_json(media["provenance_json"], {}, where=f"media.provenance_json of {pid}")}
                      if media else None),
            "units": [{"unit_id": u.unit_id, "kind": u.kind, "lang": u.lang, "text": u.text,
                       "segments": [{"start": s.start, "end": s.end, "text": s.text, "avg_logprob": s.avg_logprob,
                                     "no_speech_prob": s.no_speech_prob} for s in u.segments]}
                      for u in catalog.units(pid)],
            "transcripts": [{"transcript_id": r[0], "model": r[1], "language": r[2], "seconds": r[3], "reused": bool(r[4]),
                             "provenance": stored_json(r[5], {}, where=f"transcripts.provenance_json of {r[0]}")}
                            for r in db.execute(
                "SELECT t.transcript_id, t.model, t.language, t.seconds, pt.reused, t.provenance_json FROM post_transcripts pt "
                "JOIN transcripts t ON t.transcript_id = pt.transcript_id WHERE pt.post_id=?", (pid,))],
            "extraction": ({"summary": stored_json(ex["gold_json"], {}, where=f"extractions.gold_json of {pid}"),
                            "facts": stored_json(ex["facts_json"], {}, where=f"extractions.facts_json of {pid}"),
                            "provenance": stored_json(ex["provenance_json"], {}, where=f"extractions.provenance_json of {pid}"),
                            "created_at": ex["created_at"]}
                           if ex else None),
            "sightings": [{"source": r[0], "discovered_via": r[1], "seen_at": r[2]} for r in db.execute(
                "SELECT source, discovered_via, seen_at FROM post_sightings WHERE post_id=? ORDER BY seen_at", (pid,))],
            "snapshots": [{"url": r[0], "status": r[1], "sha256": r[2], "fetched_at": r[3]} for r in db.execute(
                "SELECT s.url, s.status, s.sha256, s.fetched_at FROM post_snapshots ps JOIN snapshots s "
                "ON s.id = ps.snapshot_id WHERE ps.post_id=? ORDER BY s.id", (pid,))],
        }
        if redact:
            handles = tuple(post_accounts(post.author_handle, post.forwarded_from, post.platform,
                                          post.platform_id)) if pseudo else ()
            rec = redact_obj(rec, handles, key)  # type: ignore[assignment]
            rec["author"] = pseudonym(post.author_handle, key) if pseudo else rec["author"]
        yield rec


def export(catalog: Catalog, settings: Any, fmt: str, out: Path, *, force: bool = False) -> int:
    """Write every post to `out` through the safe output writer (routewatch.outputs); returns the count."""
    if fmt not in ("jsonl", "csv", "parquet"):
        raise RouteWatchError(Code.E903, f"--format must be csv, jsonl or parquet, not {fmt!r}")
    n = 0
    with open_output(out, "wb" if fmt == "parquet" else "w", data_dir=settings.data_dir, force=force,
                     newline="" if fmt == "csv" else None) as f:
        if fmt == "jsonl":
            for rec in records(catalog, settings):
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                n += 1
        elif fmt == "csv":
            w = csv.DictWriter(f, fieldnames=[*FLAT, *NESTED])
            w.writeheader()
            for rec in records(catalog, settings):
                w.writerow(_flat(rec))
                n += 1
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            rows = [_flat(r) for r in records(catalog, settings)]
            n = len(rows)
            schema = pa.schema([(k, pa.int64() if k == "views" else pa.bool_() if k == "relevant" else pa.string())
                                for k in (*FLAT, *NESTED)])
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), f)
    return n


def _flat(rec: dict[str, Any]) -> dict[str, Any]:
    out = {k: rec[k] for k in FLAT}
    for k in NESTED:
        out[k] = json.dumps(rec[k], ensure_ascii=False, sort_keys=True)
    return out
