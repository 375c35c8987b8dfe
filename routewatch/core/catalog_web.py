"""The catalog's reads for the web (a mixin of `routewatch.core.catalog.Catalog`): one post's parts, the
candidates for its related posts, search facets, posting times, the facts behind the route legs.

In: ids and filter values.  Out: records, plain dicts and lists with stored JSON already decoded. Never
writes. Standard SQL with parameters, so another catalog backend can run the same methods; the two
SQLite-only reads (a table's presence, the FTS candidates of near-duplicate captions) sit in `_has_table`
and `_fts_caption_candidates`.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from routewatch.core.records import Failure, Post
from routewatch.core.stored import stored_json


class WebReads:
    """Named reads the web surfaces use instead of SQL of their own (`self.db`: the catalog's connection)."""

    db: sqlite3.Connection

    if TYPE_CHECKING:
        def get_post(self, post_id: str) -> Post | None: ...

    # ---- one post's parts --------------------------------------------------------------------------------
    def unit_text(self, unit_id: str) -> str | None:
        """The text of one unit (caption, subtitle, transcript, on-screen text, comment); None if unknown."""
        r = self.db.execute("SELECT text FROM units WHERE unit_id = ?", (unit_id,)).fetchone()
        return r[0] if r else None

    def unit_transcripts(self, post_id: str) -> dict[str, str]:
        """unit id → transcript id, for the post's units that came from a transcript."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT unit_id, transcript_id FROM units WHERE post_id = ? AND transcript_id IS NOT NULL", (post_id,))}

    def post_stages(self, post_id: str) -> dict[str, dict[str, Any]]:
        """stage → {"status", "code", "updated_at"} of one post."""
        return {r[0]: {"status": r[1], "code": r[2], "updated_at": r[3]} for r in self.db.execute(
            "SELECT stage, status, code, updated_at FROM stage_status WHERE item_id = ?", (post_id,))}

    def post_failures(self, post_id: str) -> list[Failure]:
        """The failures recorded for one post, in the order they were recorded."""
        return [Failure(*r) for r in self.db.execute(
            "SELECT stage, item_id, code, reason, at FROM failures WHERE item_id = ? ORDER BY id", (post_id,))]

    # ---- candidates of related posts (the similarity rule itself lives with the caller) ----------------
    def same_media_posts(self, post_id: str) -> list[str]:
        """Other posts whose media file has the same sha256."""
        return [r[0] for r in self.db.execute(
            "SELECT m2.post_id FROM media m1 JOIN media m2 ON m2.sha256 = m1.sha256 AND m2.post_id != m1.post_id "
            "WHERE m1.post_id = ?", (post_id,))]

    def same_audio_posts(self, post_ids: list[str], exclude: str) -> list[str]:
        """Posts that share a transcript with any of `post_ids`, other than `exclude` and the post itself."""
        marks = ",".join("?" for _ in post_ids)
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT b.post_id FROM post_transcripts a JOIN post_transcripts b "  # noqa: S608 - placeholders only
            f"ON b.transcript_id = a.transcript_id AND b.post_id NOT IN (?, a.post_id) WHERE a.post_id IN ({marks})",
            (exclude, *post_ids))]

    def posts_by_ids(self, post_ids: list[str]) -> list[Post]:
        """These posts (unknown ids left out), by posting time then id."""
        posts = [p for p in (self.get_post(pid) for pid in dict.fromkeys(post_ids)) if p is not None]
        return sorted(posts, key=lambda p: (p.posted_at, p.post_id))

    def caption_candidates(self, post_id: str, caption: str, n: int = 12) -> list[tuple[str, str]]:
        """(post id, caption) of other posts that may repeat this caption: the same caption exactly, then posts
        whose caption unit shares one of `n` of its character 3-grams (from the search index, when built)."""
        rows = [(r[0], r[1]) for r in self.db.execute(
            "SELECT post_id, caption FROM posts WHERE caption = ? AND post_id != ? LIMIT 200", (caption, post_id))]
        low = caption[:4000].lower()
        grams = sorted({g for g in (low[i:i + 3] for i in range(len(low) - 2)) if all(c.isalnum() for c in g)})
        if not grams:
            return rows
        step = max(1, len(grams) // n)
        seen = {pid for pid, _ in rows}
        more = self._fts_caption_candidates(post_id, grams[::step][:n])
        return rows + [r for r in more if r[0] not in seen]

    def _fts_caption_candidates(self, post_id: str, grams: list[str]) -> list[tuple[str, str]]:
        """SQLite only: captions in the FTS5 index (index/sqlite_fts.py) matching any of the 3-grams."""
        if not self._has_table("idx_units_cjk"):
            return []
        expr = " OR ".join('"' + g + '"' for g in grams)
        try:
            return [(r[0], r[1]) for r in self.db.execute(
                "SELECT DISTINCT p.post_id, p.caption FROM idx_units u JOIN posts p ON p.post_id = u.post_id "
                "WHERE u.kind = 'caption' AND u.post_id != ? AND u.rowid IN "
                "(SELECT rowid FROM idx_units_cjk WHERE idx_units_cjk MATCH ? LIMIT 400) LIMIT 200",
                (post_id, expr))]
        except sqlite3.Error:
            return []

    # ---- search forms, weeks, route legs --------------------------------------------------------------
    def facet_values(self, scan: int = 20000) -> dict[str, list[str]]:
        """What the search forms offer: platforms and languages of the posts, and the countries of relevant
        posts' extractions (the first `scan` of them), each sorted."""
        countries: set[str] = set()
        for pid, gold in self.db.execute("SELECT post_id, gold_json FROM extractions WHERE relevant = 1 LIMIT ?",
                                         (scan,)):
            found = stored_json(gold, {}, where=f"extractions.gold_json of {pid}").get("countries", [])
            countries.update(c for c in found if isinstance(c, str))
        return {
            "platforms": [r[0] for r in self.db.execute("SELECT DISTINCT platform FROM posts ORDER BY platform")],
            "langs": [r[0] for r in self.db.execute("SELECT DISTINCT lang FROM posts WHERE lang != '' ORDER BY lang")],
            "countries": sorted(countries),
        }

    def posting_times(self) -> list[str]:
        """Every distinct posting time, newest first (posts without one left out): the periods pages offer."""
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT posted_at FROM posts WHERE posted_at != '' ORDER BY posted_at DESC")]

    def route_facts(self, *, relevant_only: bool = True, state: str | None = None, platform: str | None = None,
                    lang: str | None = None, since: str | None = None,
                    until: str | None = None) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        """(post id, posted_at, gold summary, facts) of the extracted posts the filters keep, oldest first.
        `state`: the latest recheck state ("" for never rechecked); `until` is inclusive (YYYY-MM-DD)."""
        where, params = (["e.relevant = 1"] if relevant_only else []), []
        if state is not None:
            where.append("COALESCE((SELECT s.code FROM stage_status s WHERE s.item_id = p.post_id "
                         "AND s.stage = 'recheck' AND s.status = 'done'), '') = ?")
            params.append(state)
        for column, value in (("p.platform", platform), ("p.lang", lang)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if since:
            where.append("p.posted_at >= ?")
            params.append(since)
        if until:
            where.append("p.posted_at < ?")
            params.append(until + "T99")
        rows = self.db.execute(
            "SELECT e.post_id, p.posted_at, e.gold_json, e.facts_json FROM extractions e "  # noqa: S608 - fixed clauses
            f"JOIN posts p ON p.post_id = e.post_id WHERE {' AND '.join(where) or '1 = 1'} "
            "ORDER BY p.posted_at, e.post_id", params)
        return [(r[0], r[1], stored_json(r[2], {}, where=f"extractions.gold_json of {r[0]}"),
                 stored_json(r[3], {}, where=f"extractions.facts_json of {r[0]}")) for r in rows]

    # ---- what the web app checks per request -------------------------------------------------------------
    def _has_table(self, name: str) -> bool:
        """SQLite only: whether the catalog file has this table (or index, FTS table …)."""
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None
