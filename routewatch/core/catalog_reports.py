"""The catalog's read methods for the reports: evidence, trace, export, digest, alerts, post references.

In: the catalog's connection (`self.db`, set by `Catalog`, which inherits `ReportReads`).  Out: plain records
(dicts with decoded JSON, `TextUnit`s, tuples) named for what a surface needs — a post's snapshots, media,
transcripts, extraction and sightings, the texts to trace, the dated extractions of the digest — so no surface
runs SQL. Portable SQL only (a PostgreSQL catalog runs the same statements).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from routewatch.core.records import TextUnit
from routewatch.core.stored import StoredJSONError, stored_json

_CHUNK = 500  # ids per IN (...) list


class ReportReads:
    """Read methods the report surfaces use; mixed into `routewatch.core.catalog.Catalog`."""

    db: sqlite3.Connection

    # ---- one post, everything kept about it (evidence bundles, export rows, trace evidence) ---------------
    def snapshots_of(self, post_id: str) -> list[dict[str, Any]]:
        """The page snapshots linked to a post, first stored first: url, status, sha256, path (under the data
        dir), fetched_at, tool."""
        return [dict(r) for r in self.db.execute(
            "SELECT s.url, s.status, s.sha256, s.path, s.fetched_at, s.tool FROM post_snapshots ps "
            "JOIN snapshots s ON s.id = ps.snapshot_id WHERE ps.post_id = ? ORDER BY s.id", (post_id,))]

    def media_detail(self, post_id: str) -> dict[str, Any] | None:
        """The post's media record as stored, with its provenance and yt-dlp info decoded: path, sha256, size,
        duration, mime, fetched_at, provenance (dict), info (dict); None when it has no media."""
        r = self.db.execute("SELECT path, sha256, size, duration, mime, fetched_at, provenance_json, info_json "
                            "FROM media WHERE post_id = ?", (post_id,)).fetchone()
        if r is None:
            return None
        return {**{k: r[k] for k in ("path", "sha256", "size", "duration", "mime", "fetched_at")},
                "provenance": stored_json(r["provenance_json"], {}, where=f"media.provenance_json of {post_id}"),
                "info": stored_json(r["info_json"], {}, where=f"media.info_json of {post_id}")}

    def transcripts_of(self, post_id: str) -> list[dict[str, Any]]:
        """The transcripts linked to a post, oldest first: transcript_id, model, language, seconds, created_at,
        audio_sha256, provenance (dict), reused (whether the post reuses another post's transcript), linked_at."""
        rows = self.db.execute(
            "SELECT t.transcript_id, t.model, t.language, t.seconds, t.created_at, t.provenance_json, "
            "t.audio_sha256, pt.reused, pt.linked_at FROM post_transcripts pt JOIN transcripts t "
            "ON t.transcript_id = pt.transcript_id WHERE pt.post_id = ? ORDER BY t.created_at, t.transcript_id",
            (post_id,))
        return [{"transcript_id": r[0], "model": r[1], "language": r[2], "seconds": r[3], "created_at": r[4],
                 "provenance": stored_json(r[5], {}, where=f"transcripts.provenance_json of {r[0]}"),
                 "audio_sha256": r[6], "reused": bool(r[7]), "linked_at": r[8]} for r in rows]

    def extraction_detail(self, post_id: str) -> dict[str, Any] | None:
        """The post's extraction: relevant (bool), summary (gold schema), facts (with evidence), provenance,
        created_at; None when it was not extracted."""
        r = self.db.execute("SELECT relevant, gold_json, facts_json, provenance_json, created_at FROM extractions "
                            "WHERE post_id = ?", (post_id,)).fetchone()
        if r is None:
            return None
        return {"relevant": bool(r[0]),
                "summary": stored_json(r[1], {}, where=f"extractions.gold_json of {post_id}"),
                "facts": stored_json(r[2], {}, where=f"extractions.facts_json of {post_id}"),
                "provenance": stored_json(r[3], {}, where=f"extractions.provenance_json of {post_id}"),
                "created_at": r[4]}

    def sightings_of(self, post_id: str) -> list[dict[str, Any]]:
        """Every source / page / import line that led to the post, oldest first: source, discovered_via, seen_at."""
        return [{"source": r[0], "discovered_via": r[1], "seen_at": r[2]} for r in self.db.execute(
            "SELECT source, discovered_via, seen_at FROM post_sightings WHERE post_id = ? ORDER BY seen_at, source",
            (post_id,))]

    # ---- which post a person means (routewatch/postref.py) -------------------------------------------------
    def has_post(self, post_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM posts WHERE post_id = ?", (post_id,)).fetchone() is not None

    def post_id_by_url(self, url: str) -> str | None:
        """The post whose address is exactly `url` (the first by id when several are)."""
        r = self.db.execute("SELECT post_id FROM posts WHERE url = ? ORDER BY post_id LIMIT 1", (url,)).fetchone()
        return r[0] if r else None

    def post_ids_with_prefix(self, prefix: str, limit: int = 11) -> list[str]:
        """Post ids that start with `prefix` (taken literally: % and _ are not wildcards), by id, at most `limit`."""
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [r[0] for r in self.db.execute(
            "SELECT post_id FROM posts WHERE post_id LIKE ? ESCAPE '\\' ORDER BY post_id LIMIT ?", (like, limit))]

    # ---- trace ---------------------------------------------------------------------------------------------
    def gold_by_post(self) -> dict[str, dict[str, Any]]:
        """Every extracted post's summary (gold schema), by post id."""
        return {r[0]: stored_json(r[1], {}, where=f"extractions.gold_json of {r[0]}")
                for r in self.db.execute("SELECT post_id, gold_json FROM extractions")}

    def texts_by_post(self) -> Iterator[tuple[str, list[TextUnit]]]:
        """(post id, its non-empty text units by kind then id) for every post, one post at a time, never the
        whole catalog's texts at once. Segments are not read (empty): `units(post_id)` has them."""
        cur: str | None = None
        batch: list[TextUnit] = []
        for r in self.db.execute("SELECT unit_id, post_id, kind, text, lang FROM units WHERE text != '' "
                                 "ORDER BY post_id, kind, unit_id"):
            if r[1] != cur:
                if cur is not None:
                    yield cur, batch
                cur, batch = r[1], []
            batch.append(TextUnit(unit_id=r[0], post_id=r[1], kind=r[2], text=r[3], lang=r[4] or ""))
        if cur is not None:
            yield cur, batch

    def media_sha_of(self, post_ids: list[str]) -> dict[str, str]:
        """sha256 of the media file of each of these posts (those that have one)."""
        return dict(self._pairs_in("SELECT post_id, sha256 FROM media WHERE post_id IN ({})", post_ids))

    def transcript_id_of(self, post_ids: list[str]) -> dict[str, str]:
        """The transcript each of these posts links to (those that have one; reposts share one)."""
        return dict(self._pairs_in("SELECT post_id, transcript_id FROM post_transcripts WHERE post_id IN ({}) "
                                   "ORDER BY post_id, transcript_id", post_ids))

    def _pairs_in(self, sql: str, ids: list[str]) -> Iterator[tuple[str, str]]:
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            for r in self.db.execute(sql.format(",".join("?" * len(chunk))), chunk):
                yield r[0], r[1]

    # ---- digest ----------------------------------------------------------------------------------------------
    def dated_extractions(self) -> Iterator[dict[str, Any]]:
        """Every extracted post with a posting time, oldest first: post_id, platform, url, posted_at,
        captured_at, source, relevant (bool), `gold` and `facts` decoded strictly — or, for a post whose stored
        JSON is damaged, `damaged` (the StoredJSONError) instead of them, so a report can leave it out and say so."""
        for r in self.db.execute(
                "SELECT p.post_id, p.platform, p.url, p.posted_at, p.captured_at, p.source, e.gold_json, e.facts_json, "
                "e.relevant FROM posts p JOIN extractions e ON e.post_id = p.post_id WHERE p.posted_at != '' "
                "ORDER BY p.posted_at, p.post_id"):
            row = {k: r[k] for k in ("post_id", "platform", "url", "posted_at", "captured_at", "source")}
            row["relevant"] = bool(r["relevant"])
            try:
                row["gold"] = stored_json(r["gold_json"], {}, where=f"extractions.gold_json of {r['post_id']}",
                                          strict=True)
                row["facts"] = stored_json(r["facts_json"], {}, where=f"extractions.facts_json of {r['post_id']}",
                                           strict=True)
            except StoredJSONError as e:
                row["damaged"] = e
            yield row

    def transcript_groups(self) -> dict[str, list[str]]:
        """Posts per shared transcript (reposts of one clip share its transcript): transcript id -> post ids."""
        out: dict[str, list[str]] = {}
        for r in self.db.execute("SELECT transcript_id, post_id FROM post_transcripts ORDER BY transcript_id, post_id"):
            out.setdefault(r[0], []).append(r[1])
        return out

    def posts_per_source(self, since: str, until: str) -> list[tuple[str, int]]:
        """(source, posts) for every source that led to posts posted in [since, until), by source name."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT s.source, COUNT(DISTINCT s.post_id) FROM post_sightings s JOIN posts p ON p.post_id = s.post_id "
            "WHERE p.posted_at >= ? AND p.posted_at < ? GROUP BY s.source ORDER BY s.source", (since, until))]

    def source_posting_times(self, until: str) -> Iterator[tuple[str, str]]:
        """(source, posted_at) once per (source, post) for the posts posted before `until`, oldest first."""
        for r in self.db.execute(
                "SELECT DISTINCT s.source, p.post_id, p.posted_at FROM post_sightings s JOIN posts p "
                "ON p.post_id = s.post_id WHERE p.posted_at != '' AND p.posted_at < ? ORDER BY p.posted_at, p.post_id",
                (until,)):
            yield r[0], r[2]

    def failure_counts(self) -> list[tuple[str, str, int]]:
        """(stage, code, failures) over every recorded failure, by stage and code."""
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "SELECT stage, code, COUNT(*) FROM failures GROUP BY stage, code ORDER BY stage, code")]

    # ---- saved searches --------------------------------------------------------------------------------------
    def has_saved_searches(self) -> bool:
        """Whether the schema has the saved-search tables (migration 3): a catalog of an older schema opened
        read-only has none, and then no saved search either."""
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return bool(row and (row[0] or 0) >= 3)

    # ---- privacy ---------------------------------------------------------------------------------------------
    def account_names(self) -> set[str]:
        """Every account name the catalog holds: authors, forward sources, channel names in metadata, commenters.
        Read in one pass over the posts (the same on SQLite and PostgreSQL)."""
        out: set[str] = set()

        def add(v: Any) -> None:
            if isinstance(v, str) and v.strip():
                out.add(v.strip())

        for handle, fwd, source, extra_json in self.db.execute("SELECT author_handle, forwarded_from, source, extra_json FROM posts"):
            add(handle)
            add(fwd)
            if isinstance(source, str) and source.startswith("telegram:"):
                add(source[9:])
            try:
                extra = json.loads(extra_json) if extra_json else None
            except (ValueError, RecursionError):
                continue
            if not isinstance(extra, dict):
                continue
            for key in ("channel", "author", "uploader_id", "username"):
                add(extra.get(key))
            # commenters (crawlers/comments.py keeps them only in the post's comment thread)
            comments = extra.get("comments")
            if isinstance(comments, dict):
                for c in comments.values():
                    if isinstance(c, dict):
                        add(c.get("author"))
                        add(c.get("author_name"))
        return out
