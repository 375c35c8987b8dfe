"""sqlite.v1 parts that exist for speed at 1M posts: the per-character table for short Chinese terms,
bm25 among the newest RANK_WINDOW matches with a total and its relation, and trends from per-day counts.
Each is checked against the slow answer it replaces."""

from __future__ import annotations

import dataclasses

import pytest
from index_helpers import doc, synthetic_corpus

import index.sqlite_fts as sqlite_fts
from index.base import Query
from index.sqlite_fts import SqliteIndex


@pytest.fixture
def lite(tmp_path):
    i = SqliteIndex(tmp_path / "c.sqlite")
    yield i
    i.close()


def ids(hits):
    return sorted(h.post_id for h in hits)


def chars_rows(idx, phrase):
    return idx.db.execute("SELECT COUNT(*) FROM idx_units_chars WHERE idx_units_chars MATCH ?", (phrase,)).fetchone()[0]


def test_short_chinese_terms_are_phrases_of_characters(lite):
    lite.upsert([doc("a", "走线第三天到了达连"), doc("b", "达 连"), doc("c", "达x连"), doc("d", "連达"),
                 doc("e", "偷渡笔记\0从达连出发", route=("PA",))])
    assert ids(lite.search(Query("达连"))) == ["a", "e"]  # characters of other runs are not adjacent
    assert ids(lite.search(Query("達連"))) == ["a", "e"]  # Traditional input
    assert ids(lite.search(Query("连"))) == ["a", "b", "c", "d", "e"]  # one character
    assert ids(lite.search(Query('"达连" 走线'))) == ["a"]  # two terms in one unit
    assert ids(lite.search(Query("达连", country="PA"))) == ["e"]
    (hit,) = lite.search(Query("达连", country="PA"))
    assert hit.snippet == "偷渡笔记\0从[达连]出发"


def test_replaced_and_cleared_units_leave_the_character_table(lite):
    lite.upsert([doc("a", "到了达连"), doc("b", "Darién")])
    assert chars_rows(lite, '"达 连"') == 1
    lite.upsert([doc("a", "到了巴拿马")])  # a new version of a
    assert chars_rows(lite, '"达 连"') == 0
    assert ids(lite.search(Query("巴拿"))) == ["a"]
    lite.clear()
    assert chars_rows(lite, "巴") == 0


def test_total_is_exact_below_the_window_and_a_lower_bound_above(lite, monkeypatch):
    docs = [doc(f"p{k}", f"cruzamos el Darién día {k}", lang="es", route=("CO", "PA") if k % 2 else ("PA",))
            for k in range(10)]
    lite.upsert(docs)
    hits = lite.search(Query("darien", limit=3))
    assert (len(hits), hits.total, hits.relation) == (3, 10, "eq")
    hits = lite.search(Query("darien", route=("CO", "PA")))
    assert (ids(hits), hits.total, hits.relation) == (["p1", "p3", "p5", "p7", "p9"], 5, "eq")
    monkeypatch.setattr(sqlite_fts, "RANK_WINDOW", 4)
    hits = lite.search(Query("darien", limit=20))
    # ranked among the newest 4 matching units only (rowid order = indexing order), total "at least 4"
    assert (ids(hits), hits.total, hits.relation) == (["p6", "p7", "p8", "p9"], 4, "gte")
    monkeypatch.setattr(sqlite_fts, "TOTAL_CAP", 6)
    hits = lite.search(Query(country="PA", limit=2))
    assert (len(hits), hits.total, hits.relation) == (2, 6, "gte")
    hits = lite.search(Query(route=("CO", "PA"), limit=2))
    assert (len(hits), hits.total, hits.relation) == (2, 5, "eq")
    assert lite.search(Query("nothing")).total == 0


FILTERS = [Query(), Query(country="PA"), Query(country="ec"), Query(since="2026-10-01"), Query(until="2026-10-20"),
           Query(since="2026-10-01", until="2026-11-15", country="CO"), Query(since="2027-05-01")]


@pytest.mark.parametrize("q", FILTERS, ids=lambda q: repr(q)[6:60])
def test_trends_from_counts_equal_the_scan(tmp_path, monkeypatch, q):
    docs = [*synthetic_corpus(300), doc("undated", "走线 sin fecha", route=("EC", "CO", "PA"), posted="")]
    lite = SqliteIndex(tmp_path / "t.sqlite")
    lite.upsert(docs)
    # new versions of some posts (other dates, routes, relevance) and the old ones again: counts go -1/+1
    changed = [dataclasses.replace(d, posted_at=docs[-1 - k].posted_at, route=docs[-1 - k].route,
                                   countries=docs[-1 - k].countries, relevant=not d.relevant) for k, d in enumerate(docs[:60])]
    lite.upsert(changed)
    lite.upsert(docs[:20])
    counted = {(f, by): lite.trends(f, by, q) for f in ("country", "leg", "platform", "term") for by in ("day", "week", "month")}
    monkeypatch.setattr(SqliteIndex, "_counts_answer", staticmethod(lambda q: False))
    scanned = {(f, by): lite.trends(f, by, q) for f in ("country", "leg", "platform", "term") for by in ("day", "week", "month")}
    lite.close()
    assert counted == scanned
    if q.since != "2027-05-01":  # after the corpus: nothing
        assert sum(len(v) for v in counted.values()) > 100


def test_counts_answer_only_date_and_country_filters(lite):
    assert lite._counts_answer(Query(country="PA", since="2026-01-01", until="2026-02-01"))
    assert not lite._counts_answer(Query(platform="tiktok"))
    assert not lite._counts_answer(Query(country="PA", has_bribe=True))
    # relevant posts at the index's default threshold only
    assert lite._counts_answer(Query(country="PA", min_confidence=0.5, relevant=True))
    assert not lite._counts_answer(Query(min_confidence=0.3))
    assert not lite._counts_answer(Query(relevant=False))
    assert not lite._counts_answer(Query(state="deleted"))


@pytest.mark.parametrize("m", [0.0, 0.35, 0.5, 0.62, 0.9, 1.0])
@pytest.mark.parametrize("relevant", [True, False])
def test_trends_at_a_threshold_equal_counting_each_posts_facts(lite, m, relevant):
    """The fact rows (idx_facts, legs as confidence spans) give what recomputing each post's route at m gives."""
    from collections import Counter

    from index_helpers import synthetic_confidence_corpus

    from index.base import legs, period_of

    docs = synthetic_confidence_corpus(300)
    lite.upsert(docs)
    for field in ("country", "leg"):
        want: Counter = Counter()
        totals: Counter = Counter()
        for d in docs:
            if relevant and not d.relevant:
                continue
            per = period_of(d.posted_at, "week")
            totals[per] += 1
            view = d.facts.at(m)
            for v in set(view.countries if field == "country" else legs(view.route)):
                want[(per, v)] += 1
        expected = sorted(((p, v, n, totals[p]) for (p, v), n in want.items()), key=lambda r: (r[0], -r[2], r[1]))
        got = [(r["period"], r["value"], r["count"], r["total"])
               for r in lite.trends(field, "week", Query(min_confidence=m, relevant=relevant))]
        assert got == expected, field
        assert len(got) > (20 if m <= 0.62 else 0 if m < 1.0 else -1)  # nothing is sure at 1.0 here


def test_datasette_finds_the_full_text_table_of_the_units(lite):
    """Datasette offers search on a table when an FTS virtual table names it as content="table" (or
    [table]); the trigram table does, so Chinese and Latin substrings can be searched there."""
    lite.upsert([doc("a", "到了厄瓜多尔"), doc("b", "cruzamos el Darién", lang="es")])
    found = [r[0] for r in lite.db.execute(
        "SELECT name FROM sqlite_master WHERE rootpage = 0 AND sql LIKE '%VIRTUAL TABLE%USING FTS%content=\"idx_units\"%'")]
    assert found[0] == "idx_units_cjk"
    search = "SELECT post_id FROM idx_units WHERE rowid IN (SELECT rowid FROM idx_units_cjk WHERE idx_units_cjk MATCH ?)"
    assert [r[0] for r in lite.db.execute(search, ('"厄瓜多尔"',))] == ["a"]
    assert [r[0] for r in lite.db.execute(search, ('"darién"',))] == ["b"]
