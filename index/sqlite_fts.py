"""`sqlite.v1`: the default index, FTS5 tables inside the catalog file.

In: IndexDocs.  Out: hits with the matched text unit, a highlighted snippet, the character span and,
for transcripts, the seconds; trend counts with the period's total beside them.
Two FTS5 tables over one content table: `trigram` for Chinese (substring search, any length ≥ 3;
shorter Chinese terms fall back to a scan) and `unicode61 remove_diacritics 2` for Latin scripts
(Darien finds Darién). Text is indexed in Simplified Chinese so Traditional input finds both.
SQL only with parameters.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from index.base import (
    Index,
    IndexDoc,
    Query,
    UpsertResult,
    has_cjk,
    legs,
    parse_query_text,
    period_of,
)
from routewatch.errors import Code, RouteWatchError
from routewatch.records import SearchHit, Segment, TextUnit

# Bump when the tables below change: an index of another version is dropped and rebuilt from the
# catalog (the index is only a projection).
INDEX_SCHEMA_VERSION = "3"
IDX_TABLES = ("idx_units_cjk", "idx_units_latin", "idx_units", "idx_posts", "idx_costs", "idx_facets", "idx_trend")

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
    segments_json TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS idx_units_post ON idx_units(post_id);
CREATE VIRTUAL TABLE IF NOT EXISTS idx_units_cjk USING fts5(norm, content='idx_units', content_rowid='rowid',
    tokenize='trigram');
-- Latin words glued to Chinese characters ("办visa签证") are separate tokens only when the
-- Chinese characters are blanked out: the Latin table reads that copy of the text.
CREATE VIRTUAL TABLE IF NOT EXISTS idx_units_latin USING fts5(latin, content='idx_units', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS idx_units_ai AFTER INSERT ON idx_units BEGIN
  INSERT INTO idx_units_cjk(rowid, norm) VALUES (new.rowid, new.norm);
  INSERT INTO idx_units_latin(rowid, latin) VALUES (new.rowid, new.latin);
END;
CREATE TRIGGER IF NOT EXISTS idx_units_ad AFTER DELETE ON idx_units BEGIN
  INSERT INTO idx_units_cjk(idx_units_cjk, rowid, norm) VALUES ('delete', old.rowid, old.norm);
  INSERT INTO idx_units_latin(idx_units_latin, rowid, latin) VALUES ('delete', old.rowid, old.latin);
END;
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
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_costs_post ON idx_costs(post_id);
CREATE TABLE IF NOT EXISTS idx_facets (
    post_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (post_id, field, value)
);
CREATE INDEX IF NOT EXISTS idx_facets_fv ON idx_facets(field, value);
-- Unfiltered trends are read from running counts kept in the same transaction as each document
-- (+1 on insert, -1 on delete): their size depends on periods x values, not on posts.
-- field '' holds the period's total of relevant posts.
CREATE TABLE IF NOT EXISTS idx_trend (
    by TEXT NOT NULL,
    period TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (by, field, period, value)
);
"""

_T2S = None


def to_simplified(s: str) -> str:
    """Traditional → Simplified, only when the conversion keeps every character offset."""
    global _T2S
    if not has_cjk(s):
        return s
    if _T2S is None:
        import opencc

        _T2S = opencc.OpenCC("t2s")
    out = _T2S.convert(s)
    return out if len(out) == len(s) else s


class SqliteIndex(Index):
    name = "sqlite.v1"

    def __init__(self, path: Path | str, *, read_only: bool = False):
        self.path = str(path)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.schema_reset = False  # True when an older index was dropped: the caller must re-index everything
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

    def _ensure_schema(self) -> None:
        has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE name='idx_meta'").fetchone()
        had_units = self.db.execute("SELECT 1 FROM sqlite_master WHERE name='idx_units'").fetchone()
        version = None
        if has_meta:
            row = self.db.execute("SELECT value FROM idx_meta WHERE key='schema_version'").fetchone()
            version = row[0] if row else None
        if had_units and version != INDEX_SCHEMA_VERSION:
            for t in IDX_TABLES:
                self.db.execute(f"DROP TABLE IF EXISTS {t}")  # noqa: S608 - fixed table names
            self.schema_reset = True
        self.db.executescript(SCHEMA)
        self.db.execute("INSERT OR REPLACE INTO idx_meta(key, value) VALUES ('schema_version', ?)",
                        (INDEX_SCHEMA_VERSION,))

    def close(self) -> None:
        self.db.close()

    # ---- writing -------------------------------------------------------------------------------------
    def upsert(self, docs: Iterable[IndexDoc]) -> UpsertResult:
        # One transaction per call (one fsync per batch, not per post); a savepoint per document so
        # a bad document is rolled back alone and reported, the others are kept.
        n = 0
        failed: list[tuple[str, str, str]] = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for doc in docs:
                self.db.execute("SAVEPOINT doc")
                try:
                    self._delete(doc.post_id)
                    self._insert(doc)
                    self.db.execute("RELEASE doc")
                    n += 1
                except (sqlite3.Error, ValueError) as e:
                    self.db.execute("ROLLBACK TO doc")
                    self.db.execute("RELEASE doc")
                    code = Code.E504 if isinstance(e, ValueError) else Code.E501  # bad value vs. write failure
                    failed.append((doc.post_id, code.value, f"{type(e).__name__}: {e}"))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return UpsertResult(indexed=n, failed=tuple(failed))

    def _trend_add(self, post_id: str, sign: int) -> None:
        row = self.db.execute("SELECT relevant, week, day, month FROM idx_posts WHERE post_id=?", (post_id,)).fetchone()
        if row is None or not row["relevant"]:
            return
        facets = [("", "")] + [(r[0], r[1]) for r in self.db.execute(
            "SELECT field, value FROM idx_facets WHERE post_id=?", (post_id,))]
        for by in ("week", "day", "month"):
            for field, value in facets:
                self.db.execute(
                    "INSERT INTO idx_trend(by, period, field, value, n) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(by, field, period, value) DO UPDATE SET n = n + excluded.n",
                    (by, row[by], field, value, sign))
        self.db.execute("DELETE FROM idx_trend WHERE n <= 0")

    def _delete(self, post_id: str) -> None:
        self._trend_add(post_id, -1)
        self.db.execute("DELETE FROM idx_units WHERE post_id=?", (post_id,))
        self.db.execute("DELETE FROM idx_posts WHERE post_id=?", (post_id,))
        self.db.execute("DELETE FROM idx_costs WHERE post_id=?", (post_id,))
        self.db.execute("DELETE FROM idx_facets WHERE post_id=?", (post_id,))

    def _insert(self, d: IndexDoc) -> None:
        for u in d.units:
            if not u.text.strip():
                continue
            self.db.execute(
                "INSERT INTO idx_units(unit_id, post_id, kind, lang, text, norm, latin, segments_json) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (u.unit_id, d.post_id, u.kind, u.lang, u.text, norm := to_simplified(u.text).lower(), latin_only(norm),
                 json.dumps([[s.start, s.end, s.text] for s in u.segments], ensure_ascii=False)),
            )
        self.db.execute(
            "INSERT INTO idx_posts(post_id, platform, url, posted_at, captured_at, lang, source, relevant, countries,"
            " route, has_bribe, week, day, month) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (d.post_id, d.platform, d.url, d.posted_at, d.captured_at, d.lang, d.source, int(d.relevant),
             "|" + "|".join(d.countries) + ("|" if d.countries else ""),
             ">" + ">".join(d.route) + (">" if d.route else ""), int(d.has_bribe),
             period_of(d.posted_at, "week"), period_of(d.posted_at, "day"), period_of(d.posted_at, "month")),
        )
        for amount, currency, kind in d.costs:
            self.db.execute("INSERT INTO idx_costs(post_id, amount, currency, kind) VALUES (?,?,?,?)",
                            (d.post_id, amount, currency, kind))
        facets = [("country", c) for c in d.countries] + [("leg", leg) for leg in legs(d.route)]
        facets += [("platform", d.platform)]
        for f, v in set(facets):
            self.db.execute("INSERT OR IGNORE INTO idx_facets(post_id, field, value) VALUES (?,?,?)", (d.post_id, f, v))
        self._trend_add(d.post_id, +1)

    def clear(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        for t in ("idx_units", "idx_posts", "idx_costs", "idx_facets", "idx_trend"):
            self.db.execute(f"DELETE FROM {t}")  # noqa: S608 - fixed table names
        self.db.execute("COMMIT")
        self.db.execute("INSERT INTO idx_units_cjk(idx_units_cjk) VALUES ('rebuild')")
        self.db.execute("INSERT INTO idx_units_latin(idx_units_latin) VALUES ('rebuild')")

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM idx_posts").fetchone()[0]

    def unit_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM idx_units").fetchone()[0]

    # ---- filters ---------------------------------------------------------------------------------------
    def _filters(self, q: Query, alias: str = "p") -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if q.country and not re.fullmatch(r"[A-Za-z]{2}", q.country):
            raise RouteWatchError(Code.E903, f"--country expects an ISO 3166-1 alpha-2 code like PA, got {q.country!r}")
        if q.currency and not re.fullmatch(r"[A-Za-z]{3}", q.currency):
            raise RouteWatchError(Code.E903, f"--currency expects an ISO 4217 code like USD, got {q.currency!r}")
        if q.country:
            where.append(f"{alias}.countries LIKE ?")
            params.append(f"%|{q.country.upper()}|%")
        if q.route:
            where.append(f"{alias}.route LIKE ?")
            params.append("%>" + "%".join(f"{c}>" for c in q.route) + "%")
        if q.platform:
            where.append(f"{alias}.platform = ?")
            params.append(q.platform.lower())
        if q.lang:
            where.append(f"{alias}.lang = ?")
            params.append(q.lang.lower())
        if q.since:
            where.append(f"{alias}.posted_at >= ?")
            params.append(q.since)
        if q.until:
            where.append(f"{alias}.posted_at < ?")
            params.append(q.until + "T99")  # inclusive of the whole day
        if q.has_bribe:
            where.append(f"{alias}.has_bribe = 1")
        if q.min_cost is not None or q.max_cost is not None or q.currency:
            sub = f"SELECT 1 FROM idx_costs c WHERE c.post_id = {alias}.post_id"  # noqa: S608 - alias is a fixed name
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
    def search(self, q: Query) -> list[SearchHit]:
        terms = [to_simplified(t).lower() for t in parse_query_text(q.text)]
        fwhere, fparams = self._filters(q)
        limit = max(1, min(int(q.limit), 1000))
        if not terms:
            rows = self.db.execute(
                f"SELECT p.* FROM idx_posts p WHERE {fwhere} ORDER BY p.posted_at DESC LIMIT ?",  # noqa: S608
                (*fparams, limit),
            ).fetchall()
            return [self._post_hit(r) for r in rows]
        conds: list[str] = []
        params: list[Any] = []
        latin = [t for t in terms if not has_cjk(t)]
        cjk = [t for t in terms if has_cjk(t)]
        long_cjk = [t for t in cjk if len(t) >= 3]
        for t in cjk:
            if len(t) < 3:  # below the trigram length: a scan of the candidate units
                conds.append("instr(u.norm, ?) > 0")
                params.append(t)
        # One full-text MATCH drives the query (joined, not a per-row subquery: a correlated
        # subquery re-ran the MATCH for every candidate and grew with the square of the matches).
        density = "(-1.0 * (length(u.norm) - length(replace(u.norm, ?, ''))) / max(length(u.norm), 1))"
        if latin:
            source = "idx_units_latin f JOIN idx_units u ON u.rowid = f.rowid"
            match = ["idx_units_latin MATCH ?"]
            match_params: list[Any] = [" ".join(_fts_phrase(t) for t in latin)]
            if long_cjk:
                match.append("u.rowid IN (SELECT rowid FROM idx_units_cjk WHERE idx_units_cjk MATCH ?)")
                match_params.append(" ".join(_fts_phrase(t) for t in long_cjk))
            rank_expr, rank_params = "f.rank", []
        elif long_cjk:
            source = "idx_units_cjk f JOIN idx_units u ON u.rowid = f.rowid"
            match = ["idx_units_cjk MATCH ?"]
            match_params = [" ".join(_fts_phrase(t) for t in long_cjk)]
            rank_expr, rank_params = density, [cjk[0]]
        else:
            source = "idx_units u"
            match, match_params = [], []
            rank_expr, rank_params = density, [cjk[0]]
        where = " AND ".join([*match, *conds, fwhere])
        sql = (
            f"SELECT u.unit_id, u.post_id, u.kind, u.text, u.norm, u.segments_json, {rank_expr} AS score, "  # noqa: S608
            f"p.platform, p.url, p.posted_at FROM {source} JOIN idx_posts p ON p.post_id = u.post_id "
            f"WHERE {where} ORDER BY score ASC, p.posted_at ASC LIMIT ?"
        )
        params = [*match_params, *params]
        try:
            rows = self.db.execute(sql, (*rank_params, *params, *fparams, limit * 4)).fetchall()
        except sqlite3.OperationalError as e:
            raise RouteWatchError(Code.E502, f"query could not be run: {e}") from e
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for r in rows:
            # One hit per post: its best-ranked unit.
            if r["post_id"] in seen:
                continue
            seen.add(r["post_id"])
            hits.append(self._unit_hit(r, terms))
            if len(hits) >= limit:
                break
        return hits

    def _post_hit(self, r: sqlite3.Row) -> SearchHit:
        u = self.db.execute("SELECT unit_id, kind, text FROM idx_units WHERE post_id=? ORDER BY kind LIMIT 1",
                            (r["post_id"],)).fetchone()
        text = u["text"] if u else ""
        return SearchHit(post_id=r["post_id"], url=r["url"], platform=r["platform"], posted_at=r["posted_at"],
                         snippet=text[:160], source=(u["kind"] if u else "caption"), unit_id=(u["unit_id"] if u else ""),
                         score=0.0)

    def _unit_hit(self, r: sqlite3.Row, terms: list[str]) -> SearchHit:
        text, norm = r["text"], r["norm"]
        span = _first_span(norm, terms)
        snippet = make_snippet(text, span)
        start_sec = end_sec = None
        if r["kind"] in ("transcript", "subtitle") and span:
            segs = tuple(Segment(s, e, t) for s, e, t in json.loads(r["segments_json"]))
            unit = TextUnit(unit_id=r["unit_id"], post_id=r["post_id"], kind=r["kind"], text=text, segments=segs)
            secs = unit.seconds_for(*span)
            if secs:
                start_sec, end_sec = secs
        return SearchHit(post_id=r["post_id"], url=r["url"], platform=r["platform"], posted_at=r["posted_at"],
                         snippet=snippet, source=r["kind"], unit_id=r["unit_id"], score=float(r["score"] or 0.0),
                         start_sec=start_sec, end_sec=end_sec, span=span)

    # ---- trends ----------------------------------------------------------------------------------------
    def _trends_from_counts(self, field: str, by: str) -> list[dict[str, Any]]:
        totals = {r[0]: r[1] for r in self.db.execute(
            "SELECT period, n FROM idx_trend WHERE by = ? AND field = ''", (by,))}
        rows = self.db.execute(
            "SELECT period, value, n FROM idx_trend WHERE by = ? AND field = ? AND n > 0 "
            "ORDER BY period, n DESC, value", (by, field)).fetchall()
        return [{"period": r[0], "value": r[1], "count": r[2], "total": totals.get(r[0], 0)} for r in rows]

    def trends(self, field: str, by: str = "week", q: Query | None = None) -> list[dict[str, Any]]:
        if by not in ("week", "day", "month"):
            raise RouteWatchError(Code.E903, f"--by must be week, day or month, not {by!r}")
        if (q is None or q == Query()) and field in ("country", "leg", "platform"):
            return self._trends_from_counts(field, by)
        q = q or Query()
        fwhere, fparams = self._filters(q)
        totals = {r[0]: r[1] for r in self.db.execute(
            f"SELECT p.{by}, COUNT(*) FROM idx_posts p WHERE p.relevant = 1 AND {fwhere} GROUP BY p.{by}",  # noqa: S608
            fparams)}
        if field in ("country", "leg", "platform"):
            rows = self.db.execute(
                f"SELECT p.{by} AS period, f.value AS value, COUNT(*) AS n FROM idx_facets f "  # noqa: S608
                f"JOIN idx_posts p ON p.post_id = f.post_id WHERE f.field = ? AND p.relevant = 1 AND {fwhere} "
                "GROUP BY period, value ORDER BY period, n DESC, value",
                (field, *fparams),
            ).fetchall()
        elif field == "term":
            from index.terms import trend_terms

            rows = []
            for term in trend_terms():
                t = to_simplified(term).lower()
                cond = ("u.rowid IN (SELECT rowid FROM idx_units_cjk WHERE idx_units_cjk MATCH ?)" if len(t) >= 3
                        else "instr(u.norm, ?) > 0") if has_cjk(t) else \
                    "u.rowid IN (SELECT rowid FROM idx_units_latin WHERE idx_units_latin MATCH ?)"
                arg = _fts_phrase(t) if (not has_cjk(t) or len(t) >= 3) else t
                for r in self.db.execute(
                    f"SELECT p.{by} AS period, COUNT(DISTINCT p.post_id) AS n FROM idx_units u "  # noqa: S608
                    f"JOIN idx_posts p ON p.post_id = u.post_id WHERE {cond} AND p.relevant = 1 AND {fwhere} "
                    "GROUP BY period", (arg, *fparams)):
                    rows.append({"period": r["period"], "value": term, "n": r["n"]})
            rows.sort(key=lambda r: (r["period"], -r["n"], r["value"]))
        else:
            raise RouteWatchError(Code.E903, f"--field must be country, leg, term or platform, not {field!r}")
        return [{"period": r["period"], "value": r["value"], "count": r["n"], "total": totals.get(r["period"], 0)}
                for r in rows]


_CJK_CHAR = re.compile(r"[\u3000-\u9fff\uf900-\ufaff\uff00-\uffef]")


def latin_only(norm: str) -> str:
    """The text with CJK characters blanked (same length, so offsets still hold)."""
    return _CJK_CHAR.sub(" ", norm)


def _fts_phrase(t: str) -> str:
    return '"' + t.replace('"', '""') + '"'


def _first_span(norm: str, terms: list[str]) -> tuple[int, int] | None:
    import unicodedata

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
