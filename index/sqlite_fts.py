"""`sqlite.v1`: the default index, FTS5 tables inside the catalog file.

In: IndexDocs.  Out: hits with the matched text unit, a highlighted snippet, the character span and,
for transcripts, the seconds; trend counts with the period's total beside them.
Three FTS5 tables: `trigram` over the units for Chinese terms of ≥ 3 characters (substring search),
a contentless one-token-per-CJK-character table for 1- and 2-character terms (a phrase query: "达 连"),
and `unicode61 remove_diacritics 2` for Latin scripts (Darien finds Darién). Text is indexed in
Simplified Chinese so Traditional input finds both. A query ranks by bm25 among the newest
`RANK_WINDOW` matching text units (all of them when there are fewer: exact), and says whether its
total is exact or a lower bound. Trends read per-day running counts (also keyed by country) unless a
filter other than a date range and one country asks for a scan. Facts: the copied columns hold them at the
index's default threshold (idx_meta min_confidence); `idx_facts` holds every fact with the thresholds at
which it holds, read by a query with another `min_confidence`. SQL only with parameters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from index import query as query_lang
from index.base import (
    DEFAULT_MIN_CONFIDENCE,
    STATES,
    UNCHECKED,
    Index,
    IndexDoc,
    Query,
    SearchHits,
    UpsertResult,
    check_paging,
    doc_facts,
    legs,
    period_of,
    threshold,
)
from index.settings import SQLITE, IndexSettings
from index.terms import trend_terms
from routewatch.core.catalog import check_catalog_file, segments_from_json, stored_json
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.records import SearchHit, TextUnit
from routewatch.core.registry import indexes
from routewatch.core.text import CJK_RUN, has_cjk, to_simplified

# Bump when the tables below change: an index of another version is dropped and rebuilt from the
# catalog (the index is only a projection).
INDEX_SCHEMA_VERSION = "6"
IDX_TABLES = ("idx_units_cjk", "idx_units_latin", "idx_units_chars", "idx_units", "idx_posts", "idx_costs",
              "idx_facets", "idx_facts", "idx_trend", "idx_trend_day")
# Searches rank (bm25) among at most this many of the newest matching text units (after the filters);
# past it the total is a lower bound (relation "gte": the posts of those units), as Elasticsearch
# reports totals past 10,000 by default. Bounds a query's work whatever the size of the index.
RANK_WINDOW = 1_000
TOTAL_CAP = 1_000  # searches without text count their posts exactly up to this many, then say "gte"

SCHEMA = """
CREATE TABLE IF NOT EXISTS idx_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idx_units (
    rowid INTEGER PRIMARY KEY,
    unit_id TEXT NOT NULL UNIQUE,
    post_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    lang TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    norm TEXT NOT NULL,
    latin TEXT NOT NULL DEFAULT '',
    segments_json TEXT NOT NULL DEFAULT '[]',
    -- copies of the post's filter fields (as in idx_posts): a text search filters the units it walks
    -- without a lookup of each one's post
    posted_at TEXT NOT NULL DEFAULT '',
    post_lang TEXT NOT NULL DEFAULT '',
    platform TEXT NOT NULL DEFAULT '',
    countries TEXT NOT NULL DEFAULT '|',
    route TEXT NOT NULL DEFAULT '>',
    has_bribe INTEGER NOT NULL DEFAULT 0,
    relevant INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS idx_units_post ON idx_units(post_id);
CREATE VIRTUAL TABLE IF NOT EXISTS idx_units_cjk USING fts5(norm, content="idx_units", content_rowid='rowid',
    tokenize='trigram');
-- Latin words glued to Chinese characters ("办visa签证") are separate tokens only when the
-- Chinese characters are blanked out: the Latin table reads that copy of the text.
CREATE VIRTUAL TABLE IF NOT EXISTS idx_units_latin USING fts5(latin, content="idx_units", content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS idx_units_ai AFTER INSERT ON idx_units BEGIN
  INSERT INTO idx_units_cjk(rowid, norm) VALUES (new.rowid, new.norm);
  INSERT INTO idx_units_latin(rowid, latin) VALUES (new.rowid, new.latin);
END;
CREATE TRIGGER IF NOT EXISTS idx_units_ad AFTER DELETE ON idx_units BEGIN
  INSERT INTO idx_units_cjk(idx_units_cjk, rowid, norm) VALUES ('delete', old.rowid, old.norm);
  INSERT INTO idx_units_latin(idx_units_latin, rowid, latin) VALUES ('delete', old.rowid, old.latin);
END;
-- One token per CJK character (runs of other characters become one "x" token, so characters of
-- different runs are never adjacent): 1- and 2-character Chinese terms are phrase queries here.
-- Contentless: rows are written and deleted by SqliteIndex (the text is derived from idx_units.norm).
CREATE VIRTUAL TABLE IF NOT EXISTS idx_units_chars USING fts5(chars, content='', tokenize='unicode61');
CREATE TABLE IF NOT EXISTS idx_posts (
    post_id TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    url TEXT NOT NULL,
    posted_at TEXT NOT NULL,
    captured_at TEXT NOT NULL DEFAULT '',
    lang TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    relevant INTEGER NOT NULL DEFAULT 0,
    countries TEXT NOT NULL DEFAULT '|',
    route TEXT NOT NULL DEFAULT '>',
    has_bribe INTEGER NOT NULL DEFAULT 0,
    route_full TEXT NOT NULL DEFAULT '>',
    state TEXT NOT NULL DEFAULT '',
    week TEXT NOT NULL DEFAULT '',
    day TEXT NOT NULL DEFAULT '',
    month TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS idx_posts_week ON idx_posts(week);
CREATE INDEX IF NOT EXISTS idx_posts_posted ON idx_posts(posted_at);
CREATE TABLE IF NOT EXISTS idx_costs (
    post_id TEXT NOT NULL,
    amount REAL NOT NULL,
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    confidence REAL NOT NULL DEFAULT 1.0
);
CREATE INDEX IF NOT EXISTS idx_costs_post ON idx_costs(post_id);
CREATE TABLE IF NOT EXISTS idx_facets (
    post_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (post_id, field, value)
);
CREATE INDEX IF NOT EXISTS idx_facets_fv ON idx_facets(field, value);
-- Every fact of a post with the confidences at which it holds (a threshold m keeps it when lo < m <= hi):
-- countries (lo -1, hi its confidence), legs (index.base.PostFacts.leg_spans) and bribes (value '').
-- The columns and facets above hold the facts at the index's default threshold (idx_meta
-- min_confidence); a search or trend at another threshold reads these rows.
CREATE TABLE IF NOT EXISTS idx_facts (
    post_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    lo REAL NOT NULL,
    hi REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_facts_post ON idx_facts(post_id, field, value);
CREATE INDEX IF NOT EXISTS idx_facts_fv ON idx_facts(field, value);
-- Trends are read from per-day running counts of relevant posts, kept in the same transaction as each
-- document (+1 on insert, -1 on delete): their size depends on days x values, not on posts. country ''
-- counts every post, country 'PA' the posts that name PA (the --country filter); field '' is the day's
-- total. Weeks and months are sums of days.
CREATE TABLE IF NOT EXISTS idx_trend_day (
    country TEXT NOT NULL,
    field TEXT NOT NULL,
    day TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (country, field, day, value)
) WITHOUT ROWID;
"""



def normalise(text: str) -> str:
    """The search form of a text, character for character (offsets hold): Simplified Chinese, lower case
    where lower-casing keeps one character (not 'İ' → 'i̇'), NUL as a space (FTS5 tokenizers stop at NUL)."""
    s = to_simplified(text)
    low = s.lower()
    if len(low) != len(s):
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in s)
    return low.replace("\x00", " ")


def cjk_chars(norm: str) -> str:
    """The text of idx_units_chars: each CJK character a token, each run of other characters one 'x'."""
    return " x ".join(" ".join(run) for run in CJK_RUN.findall(norm))


def _one_snapshot(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a read method in one read transaction: its queries (hits, total, periods) all see the same
    committed index, the old one or a rebuilt one, never a mix."""

    @functools.wraps(fn)
    def run(self: SqliteIndex, *args: Any, **kw: Any) -> Any:
        if self.db.in_transaction:
            return fn(self, *args, **kw)
        self.db.execute("BEGIN")
        try:
            return fn(self, *args, **kw)
        finally:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("COMMIT")

    return run


def _disk_full(e: BaseException) -> bool:
    return isinstance(e, sqlite3.OperationalError) and "full" in str(e).lower()


class SqliteIndex(Index):
    name = SQLITE

    def __init__(self, path: Path | str, *, read_only: bool = False,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE):
        self.path = str(path)
        self.min_confidence = float(min_confidence)  # the default threshold; a reader takes the index's
        check_catalog_file(Path(path))  # text, a truncated copy...: E920 before SQLite reads it
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self._periods: dict[tuple[str, str], str] = {}
        self._terms: list[tuple[str, bool, Any]] | None = None
        self.schema_reset = False  # True when an older index was dropped: the caller must re-index everything
        # Reads: a 64 MB page cache, the file memory-mapped (up to 1 GiB), sort/temp tables in memory.
        for pragma in ("cache_size=-65536", "mmap_size=1073741824", "temp_store=MEMORY"):
            self.db.execute(f"PRAGMA {pragma}")
        if not read_only:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; the index is a rebuildable projection
            self._ensure_schema()
        else:
            self._check_schema()

    def _check_schema(self) -> None:
        """Readers never change the index: a missing or older one is an error that says what to run."""
        try:
            row = self.db.execute("SELECT value FROM idx_meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row is None or row[0] != INDEX_SCHEMA_VERSION:
            self.db.close()
            raise RouteWatchError(Code.E503, "the search index is missing or from an older RouteWatch: "
                                             "run `routewatch index --rebuild`")
        row = self.db.execute("SELECT value FROM idx_meta WHERE key='min_confidence'").fetchone()
        if row is not None:
            self.min_confidence = float(row[0])

    def _ensure_schema(self) -> None:
        has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE name='idx_meta'").fetchone()
        had_units = self.db.execute("SELECT 1 FROM sqlite_master WHERE name='idx_units'").fetchone()
        version = None
        if has_meta:
            row = self.db.execute("SELECT value FROM idx_meta WHERE key='schema_version'").fetchone()
            version = row[0] if row else None
        stored_conf = None
        if has_meta:
            row = self.db.execute("SELECT value FROM idx_meta WHERE key='min_confidence'").fetchone()
            stored_conf = float(row[0]) if row else None
        # the columns hold the facts at one threshold: another extract.aggregate_min_confidence re-indexes
        if had_units and (version != INDEX_SCHEMA_VERSION or stored_conf != self.min_confidence):
            for t in IDX_TABLES:
                self.db.execute(f"DROP TABLE IF EXISTS {t}")  # noqa: S608 - fixed table names
            self.schema_reset = True
        self.db.executescript(SCHEMA)
        self.db.execute("INSERT OR REPLACE INTO idx_meta(key, value) VALUES ('schema_version', ?)",
                        (INDEX_SCHEMA_VERSION,))
        self.db.execute("INSERT OR REPLACE INTO idx_meta(key, value) VALUES ('min_confidence', ?)",
                        (repr(self.min_confidence),))
        if not had_units or self.schema_reset:  # an empty index: its term counts start with today's terms
            self._set_counted_terms()

    # ---- trend terms counted at indexing time ------------------------------------------------------------
    def _set_counted_terms(self) -> None:
        self.db.execute("INSERT OR REPLACE INTO idx_meta(key, value) VALUES ('trend_terms', ?)",
                        (json.dumps(list(trend_terms()), ensure_ascii=False),))
        self._terms = None

    def _counted_terms(self) -> list[tuple[str, bool, Any]]:
        """The trend terms this index counts per day, as (term, is CJK, what to look for); empty when it
        counts none (an index made before the list was stored: trends by term then scan)."""
        if self._terms is None:
            row = self.db.execute("SELECT value FROM idx_meta WHERE key='trend_terms'").fetchone()
            terms = stored_json(row[0], [], where="idx_meta.trend_terms") if row else []
            self._terms = [(t, has_cjk(t), normalise(t) if has_cjk(t) else tuple(_latin_tokens(normalise(t))))
                           for t in terms]
        return self._terms

    def _terms_in(self, norms: list[str]) -> list[str]:
        """The counted trend terms found in these texts, with the full-text tables' rules: Chinese terms as
        substrings, Latin terms as whole words (accents and case ignored)."""
        found = []
        tokens = [_latin_tokens(latin_only(n)) for n in norms] if norms else []
        for term, cjk, needle in self._counted_terms():
            if cjk:
                hit = any(needle in n for n in norms)
            else:
                k = len(needle)
                hit = k > 0 and any(toks[i:i + k] == list(needle) for toks in tokens for i in range(len(toks) - k + 1)
                                    if toks[i] == needle[0])
            if hit:
                found.append(term)
        return found

    def close(self) -> None:
        self.db.close()

    # ---- writing -------------------------------------------------------------------------------------
    def upsert(self, docs: Iterable[IndexDoc]) -> UpsertResult:
        # One transaction per call (one fsync per batch, not per post); a savepoint per document so
        # a bad document is rolled back alone and reported, the others are kept.
        return self._write(docs, replace_all=False)

    def rebuild(self, docs: Iterable[IndexDoc]) -> UpsertResult:
        """Replace the whole index with `docs` in ONE write transaction: readers (WAL snapshots) see the old
        index until the commit and the complete new one after it, never a half-built one. An exception or a
        full disk rolls everything back and leaves the old index as it was."""
        return self._write(docs, replace_all=True)

    def _write(self, docs: Iterable[IndexDoc], *, replace_all: bool) -> UpsertResult:
        n = 0
        failed: list[tuple[str, str, str]] = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if replace_all:
                self._empty()
            for doc in docs:
                self.db.execute("SAVEPOINT doc")
                try:
                    if not replace_all:
                        self._delete(doc.post_id)
                    self._insert(doc)
                    self.db.execute("RELEASE doc")
                    n += 1
                except (sqlite3.Error, ValueError) as e:
                    self.db.execute("ROLLBACK TO doc")
                    self.db.execute("RELEASE doc")
                    if _disk_full(e):
                        raise
                    code = Code.E504 if isinstance(e, ValueError) else Code.E501  # bad value vs. write failure
                    failed.append((doc.post_id, code.value, f"{type(e).__name__}: {e}"))
            self.db.execute("COMMIT")
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            if _disk_full(e):
                raise RouteWatchError(Code.E924, f"index write stopped, the disk is full ({e}); the index is "
                                      "as it was before this write") from e
            raise
        return UpsertResult(indexed=n, failed=tuple(failed))

    def _trend_add(self, day: str, countries: Iterable[str], facets: Iterable[tuple[str, str]], sign: int) -> None:
        keys = [(c, f, v) for c in ("", *countries) for f, v in (("", ""), *facets)]
        self.db.executemany(
            "INSERT INTO idx_trend_day(country, field, day, value, n) VALUES (?,?,?,?,?) "
            "ON CONFLICT(country, field, day, value) DO UPDATE SET n = n + excluded.n",
            [(c, f, day, v, sign) for c, f, v in keys])
        if sign < 0:
            self.db.executemany(
                "DELETE FROM idx_trend_day WHERE country=? AND field=? AND day=? AND value=? AND n <= 0",
                [(c, f, day, v) for c, f, v in keys])

    def _delete(self, post_id: str) -> None:
        row = self.db.execute("SELECT relevant, day, countries FROM idx_posts WHERE post_id=?", (post_id,)).fetchone()
        if row is None:
            return  # nothing indexed for this post (units are never written without their post row)
        if row["relevant"]:
            facets = [(r[0], r[1]) for r in self.db.execute("SELECT field, value FROM idx_facets WHERE post_id=?",
                                                            (post_id,))]
            self._trend_add(row["day"], [c for c in row["countries"].split("|") if c], facets, -1)
        for r in self.db.execute("SELECT rowid, norm FROM idx_units WHERE post_id=?", (post_id,)).fetchall():
            chars = cjk_chars(r["norm"])
            if chars:
                self.db.execute("INSERT INTO idx_units_chars(idx_units_chars, rowid, chars) VALUES ('delete', ?, ?)",
                                (r["rowid"], chars))
        self.db.execute("DELETE FROM idx_units WHERE post_id=?", (post_id,))
        self.db.execute("DELETE FROM idx_posts WHERE post_id=?", (post_id,))
        self.db.execute("DELETE FROM idx_costs WHERE post_id=?", (post_id,))
        self.db.execute("DELETE FROM idx_facets WHERE post_id=?", (post_id,))
        self.db.execute("DELETE FROM idx_facts WHERE post_id=?", (post_id,))

    def _insert(self, d: IndexDoc) -> None:
        day = period_of(d.posted_at, "day")  # raises ValueError on a bad date: the document is rejected (E504)
        facts = doc_facts(d)
        view = facts.at(self.min_confidence)
        countries = "|" + "|".join(view.countries) + ("|" if view.countries else "")
        route = ">" + ">".join(view.route) + (">" if view.route else "")
        route_full = ">" + ">".join(facts.route) + (">" if facts.route else "")
        state = d.state if d.state in STATES else ""
        norms = []
        for u in d.units:
            if not u.text.strip():
                continue
            norm = normalise(u.text)
            norms.append(norm)
            cur = self.db.execute(
                "INSERT INTO idx_units(unit_id, post_id, kind, lang, text, norm, latin, segments_json, posted_at, "
                "post_lang, platform, countries, route, has_bribe, relevant, state) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (u.unit_id, d.post_id, u.kind, u.lang, u.text, norm, latin_only(norm),
                 json.dumps([[s.start, s.end, s.text] for s in u.segments], ensure_ascii=False),
                 d.posted_at, d.lang, d.platform, countries, route, int(view.has_bribe), int(d.relevant), state),
            )
            chars = cjk_chars(norm)
            if chars:
                self.db.execute("INSERT INTO idx_units_chars(rowid, chars) VALUES (?, ?)", (cur.lastrowid, chars))
        self.db.execute(
            "INSERT INTO idx_posts(post_id, platform, url, posted_at, captured_at, lang, source, relevant, countries,"
            " route, has_bribe, route_full, state, week, day, month) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (d.post_id, d.platform, d.url, d.posted_at, d.captured_at, d.lang, d.source, int(d.relevant),
             countries, route, int(view.has_bribe), route_full, state,
             period_of(d.posted_at, "week"), day, period_of(d.posted_at, "month")),
        )
        for amount, currency, kind, conf in facts.costs:
            self.db.execute("INSERT INTO idx_costs(post_id, amount, currency, kind, confidence) VALUES (?,?,?,?,?)",
                            (d.post_id, amount, currency, kind, conf))
        rows = ([("country", iso, -1.0, c) for iso, c in facts.countries]
                + [("leg", leg, lo, hi) for leg, lo, hi in facts.leg_spans()]
                + [("bribe", "", -1.0, c) for c in facts.bribes])
        self.db.executemany("INSERT INTO idx_facts(post_id, field, value, lo, hi) VALUES (?,?,?,?,?)",
                            [(d.post_id, *r) for r in rows])
        facets = sorted(set([("country", c) for c in view.countries] + [("leg", leg) for leg in legs(view.route)]
                            + [("platform", d.platform)] + [("term", t) for t in self._terms_in(norms)]))
        self.db.executemany("INSERT OR IGNORE INTO idx_facets(post_id, field, value) VALUES (?,?,?)",
                            [(d.post_id, f, v) for f, v in facets])
        if d.relevant:
            self._trend_add(day, sorted(set(view.countries)), facets, +1)

    def clear(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self._empty()
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _empty(self) -> None:
        """Every index table emptied, inside the caller's transaction."""
        for t in ("idx_units", "idx_posts", "idx_costs", "idx_facets", "idx_facts", "idx_trend_day"):
            self.db.execute(f"DELETE FROM {t}")  # noqa: S608 - fixed table names
        self.db.execute("INSERT INTO idx_units_chars(idx_units_chars) VALUES ('delete-all')")
        self._set_counted_terms()  # nothing is counted any more: count today's terms from here on
        self.db.execute("INSERT INTO idx_units_cjk(idx_units_cjk) VALUES ('rebuild')")
        self.db.execute("INSERT INTO idx_units_latin(idx_units_latin) VALUES ('rebuild')")

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM idx_posts").fetchone()[0]

    def unit_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM idx_units").fetchone()[0]

    def bulk_load(self) -> None:
        """Trade durability for speed while a large corpus is loaded (the bench's synthetic builds): the file
        is not synced after each transaction, so a crash may lose the last ones. Never for a real catalog."""
        self.db.execute("PRAGMA synchronous=OFF")

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the index file and truncate it, so the file's size is the index's."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # ---- filters ---------------------------------------------------------------------------------------
    def _threshold(self, q: Query) -> float:
        return threshold(q, self.min_confidence)

    def _filters(self, q: Query, alias: str = "p") -> tuple[str, list[Any]]:
        """SQL conditions on idx_posts (alias p) or on the post fields copied into idx_units (alias u)."""
        lang_col = "post_lang" if alias == "u" else "lang"
        where: list[str] = []
        params: list[Any] = []
        if q.country and not re.fullmatch(r"[A-Za-z]{2}", q.country):
            raise RouteWatchError(Code.E903, f"--country expects an ISO 3166-1 alpha-2 code like PA, got {q.country!r}")
        if q.currency and not re.fullmatch(r"[A-Za-z]{3}", q.currency):
            raise RouteWatchError(Code.E903, f"--currency expects an ISO 4217 code like USD, got {q.currency!r}")
        m = self._threshold(q)
        ready = m == self.min_confidence  # the copied columns hold the facts at this threshold

        def fact(field: str, value: str, cond: str) -> str:
            params.extend([field, value, m])
            return (f"EXISTS (SELECT 1 FROM idx_facts f WHERE f.post_id = {alias}.post_id AND f.field = ? "  # noqa: S608 - alias is a fixed name
                    f"AND f.value = ? AND {cond})")

        if q.country:
            if ready:
                where.append(f"{alias}.countries LIKE ?")
                params.append(f"%|{q.country.upper()}|%")
            else:
                where.append(fact("country", q.country.upper(), "f.hi >= ?"))
        if q.route:
            pattern = "%>" + "%".join(f"{c}>" for c in q.route) + "%"
            if ready:
                where.append(f"{alias}.route LIKE ?")
                params.append(pattern)
            else:  # the whole route has the steps in order, and none of them is below the threshold
                where.append(f"EXISTS (SELECT 1 FROM idx_posts r WHERE r.post_id = {alias}.post_id "  # noqa: S608
                             "AND r.route_full LIKE ?)")
                params.append(pattern)
                for c in dict.fromkeys(q.route):
                    where.append("NOT " + fact("country", c, "f.hi < ?"))
        if q.relevant:
            where.append(f"{alias}.relevant = 1")
        if q.state:
            where.append(f"{alias}.state = ?")
            params.append("" if q.state == UNCHECKED else q.state)
        if q.platform:
            where.append(f"{alias}.platform = ?")
            params.append(q.platform.lower())
        if q.lang:
            where.append(f"{alias}.{lang_col} = ?")
            params.append(q.lang.lower())
        if q.since:
            where.append(f"{alias}.posted_at >= ?")
            params.append(q.since)
        if q.until:
            where.append(f"{alias}.posted_at < ? AND {alias}.posted_at != ''")  # an undated post is in no range
            params.append(q.until + "T99")  # inclusive of the whole day
        if q.has_bribe:
            where.append(f"{alias}.has_bribe = 1" if ready else fact("bribe", "", "f.hi >= ?"))
        if q.min_cost is not None or q.max_cost is not None or q.currency:
            sub = f"SELECT 1 FROM idx_costs c WHERE c.post_id = {alias}.post_id AND c.confidence >= ?"  # noqa: S608 - alias is a fixed name
            params.append(m)
            if q.currency:
                sub += " AND c.currency = ?"
                params.append(q.currency.upper())
            if q.min_cost is not None:
                sub += " AND c.amount >= ?"
                params.append(q.min_cost)
            if q.max_cost is not None:
                sub += " AND c.amount <= ?"
                params.append(q.max_cost)
            where.append(f"EXISTS ({sub})")
        return (" AND ".join(where) if where else "1"), params

    # ---- search ---------------------------------------------------------------------------------------
    @_one_snapshot
    def search(self, q: Query) -> SearchHits:
        check_paging(q)
        node = query_lang.parse(q.text)
        fwhere, fparams = self._filters(q)
        try:
            if node is None or not query_lang.has_positive(node):
                return self._list_posts(q, node, fwhere, fparams)
            fwhere, fparams = self._filters(q, alias="u")
            if query_lang.is_plain(node):
                terms = [normalise(t) for t in query_lang.plain_terms(node)]
                return self._search_text(terms, fwhere, fparams, q)
            return self._search_bool(node, fwhere, fparams, q)
        except sqlite3.OperationalError as e:
            raise RouteWatchError(Code.E502, f"query could not be run: {e}") from e

    def _list_posts(self, q: Query, node: Any, fwhere: str, fparams: list[Any]) -> SearchHits:
        """No word to rank by (no text, or only NOTs): matching posts, newest first."""
        params = list(fparams)
        if node is not None:
            cond, cparams = _unit_cond(node, "u", 0)
            fwhere = f"{fwhere} AND p.post_id IN (SELECT u.post_id FROM idx_units u WHERE {cond})"  # noqa: S608 - built from fixed names, values bound
            params += cparams
        limit = max(1, min(int(q.limit), 1000))
        rows = self.db.execute(
            f"SELECT p.* FROM idx_posts p WHERE {fwhere} ORDER BY p.posted_at DESC, p.post_id LIMIT ? OFFSET ?",  # noqa: S608
            (*params, limit, q.offset),
        ).fetchall()
        n = self.db.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM idx_posts p WHERE {fwhere} LIMIT ?)",  # noqa: S608
            (*params, TOTAL_CAP + 1)).fetchone()[0]
        return SearchHits([self._post_hit(r) for r in rows], total=min(n, TOTAL_CAP),
                          relation="gte" if n > TOTAL_CAP else "eq")

    def _search_text(self, terms: list[str], fwhere: str, fparams: list[Any], q: Query) -> SearchHits:
        latin = [t for t in terms if not has_cjk(t)]
        cjk = [t for t in terms if has_cjk(t)]
        fts: list[tuple[str, str]] = []  # (table, MATCH expression); all must hold in one text unit
        if latin:
            fts.append(("idx_units_latin", " ".join(_fts_phrase(t) for t in latin)))
        if long_cjk := [t for t in cjk if len(t) >= 3]:
            fts.append(("idx_units_cjk", " ".join(_fts_phrase(t) for t in long_cjk)))
        if short_cjk := [t for t in cjk if len(t) < 3 and CJK_RUN.fullmatch(t)]:
            fts.append(("idx_units_chars", " ".join(_fts_phrase(" ".join(t)) for t in short_cjk)))
        conds: list[str] = []
        params: list[Any] = []
        for t in cjk:
            if len(t) < 3 and not CJK_RUN.fullmatch(t):  # short and not all CJK (e.g. "走a"): a scan
                conds.append("instr(u.norm, ?) > 0")
                params.append(t)
        for table, expr in fts[1:]:
            conds.append(f"u.rowid IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)")  # noqa: S608 - fixed names
            params.append(expr)
        if fwhere != "1":
            conds.append(fwhere)
            params.extend(fparams)
        # The newest RANK_WINDOW matching units (FTS5 walks its doclists by rowid, so this stops early),
        # ranked by bm25 among themselves: exact when there are fewer matches, bounded work when there
        # are more. One MATCH drives the query (a per-row MATCH subquery grows with the square of matches).
        if fts:
            table, expr = fts[0]
            sql = (f"SELECT f.rowid AS rid, u.post_id AS post_id, f.rank AS score FROM {table} f "  # noqa: S608
                   f"JOIN idx_units u ON u.rowid = f.rowid "
                   f"WHERE {' AND '.join([f'{table} MATCH ?', *conds])} ORDER BY f.rowid DESC LIMIT ?")
            params = [expr, *params]
        else:
            sql = (f"SELECT u.rowid AS rid, u.post_id AS post_id, 0.0 AS score FROM idx_units u "  # noqa: S608
                   f"WHERE {' AND '.join(conds)} ORDER BY u.rowid DESC LIMIT ?")
        cands = self.db.execute(sql, (*params, RANK_WINDOW + 1)).fetchall()
        return self._rank(cands, terms, q)

    def _search_bool(self, node: Any, fwhere: str, fparams: list[Any], q: Query) -> SearchHits:
        """OR, NOT and parentheses (index.query): the query compiled to one SQL condition on a text unit,
        each word a rowid set of its full-text table; scores are the bm25 of the words that match."""
        cond, params = _unit_cond(node, "u", 0)
        conds = [cond]
        positive = [normalise(t) for t in query_lang.positive_terms(node)]
        if fwhere != "1":
            conds.append(fwhere)
            params += fparams
        source = "idx_units u"
        drive = _score_exprs(positive) if _needs_positive(node) else []
        if drive and all(_term_cond(t, "u")[0].find("instr(") < 0 for t in positive):
            # every matching unit holds a positive word: walk the union of their rowids, newest first
            union = " UNION ".join(f"SELECT rowid AS r FROM {table} WHERE {table} MATCH ?" for table, _ in drive)  # noqa: S608
            source = f"({union}) d JOIN idx_units u ON u.rowid = d.r"  # noqa: S608 - fixed table names
            params = [expr for _, expr in drive] + params
        rows = self.db.execute(
            f"SELECT u.rowid AS rid, u.post_id AS post_id FROM {source} WHERE {' AND '.join(conds)} "  # noqa: S608
            "ORDER BY u.rowid DESC LIMIT ?", (*params, RANK_WINDOW + 1)).fetchall()
        scores: dict[int, float] = {}
        rids = [r[0] for r in rows[:RANK_WINDOW]]
        if rids:
            wanted = set(rids)
            for table, expr in _score_exprs(positive):
                # a rowid range is pushed into FTS5 (a rowid IN list is not, and costs 50x more)
                for rid, rank in self.db.execute(
                        f"SELECT rowid, rank FROM {table} WHERE {table} MATCH ? AND rowid BETWEEN ? AND ?",  # noqa: S608
                        (expr, min(rids), max(rids))):
                    if rid in wanted:
                        scores[rid] = scores.get(rid, 0.0) + float(rank)
        return self._rank([(r[0], r[1], scores.get(r[0], 0.0)) for r in rows], positive, q)

    def _rank(self, cands: list[Any], terms: list[str], q: Query) -> SearchHits:
        """Candidate units (rowid, post, bm25) → one hit per post (its best unit), sorted and paged."""
        capped = len(cands) > RANK_WINDOW
        cands = cands[:RANK_WINDOW]
        total = len({c[1] for c in cands})
        best: dict[str, tuple[float, int]] = {}  # post → (score, unit rowid) of its best-ranked unit
        for rid, post_id, score in cands:
            key = (float(score or 0.0), -rid)
            if post_id not in best or key < (best[post_id][0], -best[post_id][1]):
                best[post_id] = (key[0], rid)
        if q.sort == "date" and best:
            marks = ",".join("?" * len(best))
            dated = {r[0]: r[1] for r in self.db.execute(
                f"SELECT post_id, posted_at FROM idx_posts WHERE post_id IN ({marks})", list(best))}  # noqa: S608
            order = sorted(best, key=lambda p: (_desc(dated.get(p) or ""), p))
        else:
            order = sorted(best, key=lambda p: (best[p][0], -best[p][1]))
        limit = max(1, min(int(q.limit), 1000))
        top = [best[p] for p in order[q.offset:q.offset + limit]]
        if not top:
            return SearchHits([], total=total, relation="gte" if capped else "eq")
        marks = ",".join("?" * len(top))
        rows = {r["rid"]: r for r in self.db.execute(
            "SELECT u.rowid AS rid, u.unit_id, u.post_id, u.kind, u.text, u.norm, u.segments_json, "  # noqa: S608
            f"p.platform, p.url, p.posted_at FROM idx_units u JOIN idx_posts p ON p.post_id = u.post_id "
            f"WHERE u.rowid IN ({marks})", [rid for _, rid in top])}
        hits = [self._unit_hit(rows[rid], terms, score) for score, rid in top if rid in rows]
        return SearchHits(hits, total=total, relation="gte" if capped else "eq")

    def _post_hit(self, r: sqlite3.Row) -> SearchHit:
        u = self.db.execute("SELECT unit_id, kind, text FROM idx_units WHERE post_id=? ORDER BY kind LIMIT 1",
                            (r["post_id"],)).fetchone()
        text = u["text"] if u else ""
        return SearchHit(post_id=r["post_id"], url=r["url"], platform=r["platform"], posted_at=r["posted_at"],
                         snippet=text[:160], source=(u["kind"] if u else "caption"), unit_id=(u["unit_id"] if u else ""),
                         score=0.0)

    def _unit_hit(self, r: sqlite3.Row, terms: list[str], score: float) -> SearchHit:
        text, norm = r["text"], r["norm"]
        span = _first_span(norm, terms)
        snippet = make_snippet(text, span)
        start_sec = end_sec = None
        if r["kind"] in ("transcript", "subtitle", "onscreen") and span:
            segs = segments_from_json(r["segments_json"], where=f"idx_units.segments_json of {r['unit_id']}")
            unit = TextUnit(unit_id=r["unit_id"], post_id=r["post_id"], kind=r["kind"], text=text, segments=segs)
            secs = unit.seconds_for(*span)
            if secs:
                start_sec, end_sec = secs
        return SearchHit(post_id=r["post_id"], url=r["url"], platform=r["platform"], posted_at=r["posted_at"],
                         snippet=snippet, source=r["kind"], unit_id=r["unit_id"], score=score,
                         start_sec=start_sec, end_sec=end_sec, span=span)

    # ---- trends ----------------------------------------------------------------------------------------
    def _period(self, day: str, by: str) -> str:
        if by == "day" or day == "unknown":
            return day
        key = (day, by)
        if (p := self._periods.get(key)) is None:
            p = self._periods[key] = period_of(day, by)
        return p

    def _day_counts(self, field: str, by: str, q: Query) -> dict[tuple[str, str], int]:
        """(period, value) → posts, summed from the per-day counts (value '' when field is '')."""
        where, params = "country = ? AND field = ?", [(q.country or "").upper(), field]
        if q.since or q.until:
            where += " AND day != 'unknown'"
        if q.since:
            where += " AND day >= ?"
            params.append(q.since)
        if q.until:
            where += " AND day <= ?"
            params.append(q.until)
        out: dict[tuple[str, str], int] = {}
        for day, value, n in self.db.execute(
                f"SELECT day, value, n FROM idx_trend_day WHERE {where} AND n > 0", params):  # noqa: S608
            key = (self._period(day, by), value)
            out[key] = out.get(key, 0) + n
        return out

    def _counts_answer(self, q: Query) -> bool:
        """True when the per-day counts answer this filter: nothing but a date range and one country, over
        relevant posts at the index's default threshold."""
        return (dataclasses.replace(q, since=None, until=None, country=None, limit=Query().limit, offset=0,
                                    sort=Query().sort, min_confidence=None, relevant=None) == Query()
                and q.relevant in (None, True) and self._threshold(q) == self.min_confidence)

    @_one_snapshot
    def trends(self, field: str, by: str = "week", q: Query | None = None) -> list[dict[str, Any]]:
        if by not in ("week", "day", "month"):
            raise RouteWatchError(Code.E903, f"--by must be week, day or month, not {by!r}")
        if field not in ("country", "leg", "platform", "term"):
            raise RouteWatchError(Code.E903, f"--field must be country, leg, term or platform, not {field!r}")
        q = q or Query()
        if q.relevant is None:  # trends count relevant posts unless asked for every post
            q = dataclasses.replace(q, relevant=True)
        fwhere, fparams = self._filters(q)  # also validates the filter values (E903)
        m = self._threshold(q)
        node = query_lang.parse(q.text)
        if node is not None:  # posts the search would find: a text unit matches (NOT: none of the post's)
            cond, cparams = _unit_cond(node, "u", 0)
            fwhere = f"{fwhere} AND p.post_id IN (SELECT u.post_id FROM idx_units u WHERE {cond})"  # noqa: S608
            fparams = [*fparams, *cparams]
        from_counts = self._counts_answer(q)
        if from_counts:
            totals = {p: n for (p, _v), n in self._day_counts("", by, q).items()}
        else:
            totals = {r[0]: r[1] for r in self.db.execute(
                f"SELECT p.{by}, COUNT(*) FROM idx_posts p WHERE {fwhere} GROUP BY p.{by}",  # noqa: S608
                fparams)}
        rows: list[dict[str, Any]]
        if field == "term" and from_counts:
            from_counts = [t for t, _c, _n in self._counted_terms()] == list(trend_terms())
        if from_counts:
            rows = [{"period": p, "value": v, "n": n} for (p, v), n in self._day_counts(field, by, q).items()]
            rows.sort(key=lambda r: (r["period"], -r["n"], r["value"]))
        elif field in ("country", "leg") and m != self.min_confidence:  # the facts that hold at m
            rows = [dict(r) for r in self.db.execute(
                f"SELECT p.{by} AS period, f.value AS value, COUNT(DISTINCT f.post_id) AS n FROM idx_facts f "  # noqa: S608
                f"JOIN idx_posts p ON p.post_id = f.post_id WHERE f.field = ? AND f.lo < ? AND f.hi >= ? "
                f"AND {fwhere} GROUP BY period, value ORDER BY period, n DESC, value",
                (field, m, m, *fparams),
            )]
        elif field != "term":
            rows = [dict(r) for r in self.db.execute(
                f"SELECT p.{by} AS period, f.value AS value, COUNT(*) AS n FROM idx_facets f "  # noqa: S608
                f"JOIN idx_posts p ON p.post_id = f.post_id WHERE f.field = ? AND {fwhere} "
                "GROUP BY period, value ORDER BY period, n DESC, value",
                (field, *fparams),
            )]
        else:
            rows = []
            for term in trend_terms():
                t = normalise(term)
                if not has_cjk(t):
                    cond, arg = "u.rowid IN (SELECT rowid FROM idx_units_latin WHERE idx_units_latin MATCH ?)", _fts_phrase(t)
                elif len(t) >= 3:
                    cond, arg = "u.rowid IN (SELECT rowid FROM idx_units_cjk WHERE idx_units_cjk MATCH ?)", _fts_phrase(t)
                elif CJK_RUN.fullmatch(t):
                    cond, arg = ("u.rowid IN (SELECT rowid FROM idx_units_chars WHERE idx_units_chars MATCH ?)",
                                 _fts_phrase(" ".join(t)))
                else:
                    cond, arg = "instr(u.norm, ?) > 0", t
                for r in self.db.execute(
                    f"SELECT p.{by} AS period, COUNT(DISTINCT p.post_id) AS n FROM idx_units u "  # noqa: S608
                    f"JOIN idx_posts p ON p.post_id = u.post_id WHERE {cond} AND {fwhere} "
                    "GROUP BY period", (arg, *fparams)):
                    rows.append({"period": r["period"], "value": term, "n": r["n"]})
            rows.sort(key=lambda r: (r["period"], -r["n"], r["value"]))
        return [{"period": r["period"], "value": r["value"], "count": r["n"], "total": totals.get(r["period"], 0)}
                for r in rows]


@indexes.register(SQLITE)
def _sqlite_v1(settings: IndexSettings, catalog_path: Path | str, *, read_only: bool, min_confidence: float) -> SqliteIndex:
    """FTS5 tables in the catalog file itself; `settings` has nothing for it beyond the name."""
    return SqliteIndex(catalog_path, read_only=read_only, min_confidence=min_confidence)


_CJK_CHAR = re.compile(r"[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]")


def latin_only(norm: str) -> str:
    """The text with CJK characters blanked (same length, so offsets still hold)."""
    return _CJK_CHAR.sub(" ", norm)


_TOKEN = re.compile(r"[^\W_]+")


def _latin_tokens(text: str) -> list[str]:
    """Words as the `unicode61 remove_diacritics 2` tokenizer sees them: runs of letters and digits,
    accents and case folded."""
    folded = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).lower()
    return _TOKEN.findall(folded)


def _desc(s: str) -> str:
    """A sort key that orders strings newest first (posted_at, '' last)."""
    return "".join(chr(0x10FFFF - ord(c)) for c in s) if s else "\U0010ffff" * 2


def _term_cond(t: str, a: str) -> tuple[str, list[Any]]:
    """SQL condition: text unit `a` contains the (normalised) term, by the full-text tables' rules.
    Only fixed table names and the alias (a fixed letter and a depth) are formatted in; values are bound."""
    if not has_cjk(t):
        return f"{a}.rowid IN (SELECT rowid FROM idx_units_latin WHERE idx_units_latin MATCH ?)", [_fts_phrase(t)]  # noqa: S608
    if len(t) >= 3:
        return f"{a}.rowid IN (SELECT rowid FROM idx_units_cjk WHERE idx_units_cjk MATCH ?)", [_fts_phrase(t)]  # noqa: S608
    if CJK_RUN.fullmatch(t):
        return (f"{a}.rowid IN (SELECT rowid FROM idx_units_chars WHERE idx_units_chars MATCH ?)",  # noqa: S608
                [_fts_phrase(" ".join(t))])
    return f"instr({a}.norm, ?) > 0", [t]


def _unit_cond(node: Any, a: str, depth: int) -> tuple[str, list[Any]]:
    """A query tree (index.query) as an SQL condition on text unit `a`; NOT x: the unit's post has no
    text unit matching x."""
    if isinstance(node, query_lang.Term):
        return _term_cond(normalise(node.text), a)
    if isinstance(node, query_lang.Not):
        b = f"n{depth}"
        inner, params = _unit_cond(node.part, b, depth + 1)
        return f"{a}.post_id NOT IN (SELECT {b}.post_id FROM idx_units {b} WHERE {inner})", params  # noqa: S608
    parts, params = [], []
    for p in node.parts:
        c, ps = _unit_cond(p, a, depth)
        parts.append(c)
        params += ps
    op = " AND " if isinstance(node, query_lang.And) else " OR "
    return "(" + op.join(parts) + ")", params


def _needs_positive(node: Any) -> bool:
    """True when every text unit the query matches contains one of its positive words."""
    if isinstance(node, query_lang.Term):
        return True
    if isinstance(node, query_lang.Not):
        return False
    if isinstance(node, query_lang.And):
        return any(_needs_positive(p) for p in node.parts)
    return all(_needs_positive(p) for p in node.parts)


def _score_exprs(terms: list[str]) -> list[tuple[str, str]]:
    """(table, MATCH expression) whose bm25 scores a unit for the positive words found in it."""
    latin = [_fts_phrase(t) for t in terms if not has_cjk(t)]
    long_cjk = [_fts_phrase(t) for t in terms if has_cjk(t) and len(t) >= 3]
    short = [_fts_phrase(" ".join(t)) for t in terms if has_cjk(t) and len(t) < 3 and CJK_RUN.fullmatch(t)]
    return [(tb, " OR ".join(ex)) for tb, ex in (("idx_units_latin", latin), ("idx_units_cjk", long_cjk),
                                                  ("idx_units_chars", short)) if ex]


def _fts_phrase(t: str) -> str:
    return '"' + t.replace('"', '""') + '"'


def _first_span(norm: str, terms: list[str]) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    folded = "".join(c for c in unicodedata.normalize("NFD", norm) if not unicodedata.combining(c))
    # Folding can shift offsets; only use it when lengths agree.
    hay = folded if len(folded) == len(norm) else norm
    for t in terms:
        tf = "".join(c for c in unicodedata.normalize("NFD", t) if not unicodedata.combining(c))
        i = hay.find(tf)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, i + len(tf))
    return best


def make_snippet(text: str, span: tuple[int, int] | None, width: int = 60) -> str:
    """A window of the text around the match, the match wrapped in [ ] (the UI renders <mark>)."""
    if not span:
        return text[: width * 2] + ("…" if len(text) > width * 2 else "")
    s, e = span
    a, b = max(0, s - width), min(len(text), e + width)
    return ("…" if a else "") + text[a:s] + "[" + text[s:e] + "]" + text[e:b] + ("…" if b < len(text) else "")
