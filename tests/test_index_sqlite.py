import pytest

from index.base import IndexDoc, Query, parse_query_text, parse_route
from index.sqlite_fts import SqliteIndex
from routewatch.core.errors import RouteWatchError
from routewatch.core.records import Segment, TextUnit


def unit(pid, kind, text, segs=()):
    return TextUnit(unit_id=f"{pid}:{kind}", post_id=pid, kind=kind, text=text, segments=tuple(segs))


def doc(pid, caption, route=(), posted="2026-11-02T08:00:00Z", platform="telegram", lang="zh",
        transcript=None, costs=(), bribe=False):
    units = [unit(pid, "caption", caption)]
    if transcript:
        segs = [Segment(float(i * 3), float(i * 3 + 3), t) for i, t in enumerate(transcript)]
        units.append(unit(pid, "transcript", TextUnit.join_segments(segs), segs))
    return IndexDoc(post_id=pid, platform=platform, url=f"https://x/{pid}", posted_at=posted, captured_at=posted,
                    lang=lang, source="t", units=tuple(units), relevant=True, countries=tuple(sorted(set(route))),
                    route=tuple(route), costs=tuple(costs), has_bribe=bribe)


@pytest.fixture
def idx(tmp_path):
    i = SqliteIndex(tmp_path / "c.sqlite")
    i.upsert([
        doc("a", "先飞土耳其再到厄瓜多尔", route=("CN", "TR", "EC")),
        doc("b", "哥倫比亞到巴拿馬，厄瓜多爾出發", route=("EC", "CO", "PA"), posted="2026-10-01T00:00:00Z"),
        doc("c", "cruzamos el Darién en cinco días", route=("EC", "CO", "CR", "PA"), lang="es", platform="web",
            costs=((300.0, "USD", "guide"),)),
        doc("d", "the Darien gap took three days", route=("CO", "EC", "PA"), lang="en",
            costs=((1200.0, "USD", "guide"),), bribe=True),
        doc("e", "视频", transcript=["我们从上海出发", "然后到了厄瓜多尔的基多"], route=("CN", "EC")),
    ])
    yield i
    i.close()


def ids(hits):
    return sorted(h.post_id for h in hits)


def test_chinese_substring_and_traditional_input(idx):
    assert ids(idx.search(Query("厄瓜多尔"))) == ["a", "b", "e"]
    assert ids(idx.search(Query("厄瓜多爾"))) == ["a", "b", "e"]  # Traditional query finds both scripts
    assert ids(idx.search(Query("瓜多"))) == ["a", "b", "e"]  # two characters: below the trigram length


def test_latin_with_and_without_accents(idx):
    assert ids(idx.search(Query("Darién"))) == ["c", "d"]
    assert ids(idx.search(Query("darien"))) == ["c", "d"]
    assert ids(idx.search(Query('"three days"'))) == ["d"]


def test_transcript_hit_has_seconds_and_span(idx):
    (hit,) = [h for h in idx.search(Query("基多")) if h.post_id == "e"]
    assert hit.source == "transcript"
    assert (hit.start_sec, hit.end_sec) == (3.0, 6.0)
    assert "[基多]" in hit.snippet


def test_route_subsequence_order(idx):
    assert ids(idx.search(Query(route=parse_route("EC>CO>PA")))) == ["b", "c"]
    assert ids(idx.search(Query(route=parse_route("CO>PA")))) == ["b", "c", "d"]  # d: CO, EC, PA
    assert ids(idx.search(Query(route=parse_route("PA>CO")))) == []


def test_filters(idx):
    assert ids(idx.search(Query(platform="web"))) == ["c"]
    assert ids(idx.search(Query(lang="en"))) == ["d"]
    assert ids(idx.search(Query(has_bribe=True))) == ["d"]
    assert ids(idx.search(Query(min_cost=500, currency="USD"))) == ["d"]
    assert ids(idx.search(Query(max_cost=500, currency="USD"))) == ["c"]
    assert ids(idx.search(Query(since="2026-10-15"))) == ["a", "c", "d", "e"]
    assert ids(idx.search(Query(until="2026-10-01"))) == ["b"]
    assert ids(idx.search(Query(country="TR"))) == ["a"]


@pytest.mark.parametrize("q", ["text:厄瓜多尔", "厄瓜多尔\x00", "*", "'; DROP TABLE idx_posts; --", "厄瓜多尔 *^~",
                               "{厄瓜多尔}", "厄瓜多尔 ()"])
def test_odd_characters_are_searched_as_text(idx, q):
    hits = idx.search(Query(q))
    assert isinstance(hits, list)
    if "厄瓜多尔" in q:
        assert ids(hits) == ["a", "b", "e"]
    assert idx.count() == 5


@pytest.mark.parametrize(("q", "code"), [('"厄瓜多尔', "E505"), ('"', "E505"), ("厄瓜多尔 (", "E506"), ("((", "E506"),
                                         ("NEAR(", "E506"), ("厄瓜多尔)", "E506"), ("厄瓜多尔 AND", "E507"),
                                         ("厄瓜多尔 OR", "E507"), ("NOT", "E507"), ("OR 厄瓜多尔", "E507"),
                                         ("(" * 20 + "a" + ")" * 20, "E508")])
def test_malformed_query_is_a_coded_error_not_reinterpreted(idx, q, code):
    with pytest.raises(RouteWatchError) as e:
        idx.search(Query(q))
    assert e.value.code == code
    assert idx.count() == 5


def test_parse_query_text():
    assert parse_query_text('"three days" darien -tapachula (a OR b)') == ["three days", "darien", "a", "b"]
    assert parse_query_text("") == []
    with pytest.raises(RouteWatchError) as e:
        parse_query_text('"unbalanced phrase')
    assert e.value.code == "E505"


def test_bad_route_is_E903():
    with pytest.raises(RouteWatchError) as ei:
        parse_route("EC>Colombia")
    assert ei.value.code.value == "E903"


def test_reindex_is_idempotent(idx):
    idx.upsert([doc("a", "先飞土耳其再到厄瓜多尔", route=("CN", "TR", "EC"))])
    assert idx.count() == 5
    assert idx.unit_count() == 6


def test_weekly_trends_with_totals(idx):
    rows = idx.trends("country", "week")
    w = {(r["period"], r["value"]): (r["count"], r["total"]) for r in rows}
    assert w[("2026-W45", "EC")] == (4, 4)
    assert w[("2026-W40", "PA")] == (1, 1)
    legs = {(r["period"], r["value"]): r["count"] for r in idx.trends("leg", "week")}
    assert legs[("2026-W45", "CO>CR")] == 1
    assert legs[("2026-W45", "EC>PA")] == 1
    assert ("2026-W45", "CO>PA") not in legs  # not adjacent in any W45 route
    assert legs[("2026-W40", "EC>CO")] == 1


def test_old_index_layout_is_dropped_and_flagged(tmp_path):
    import sqlite3

    db = tmp_path / "c.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE idx_units (rowid INTEGER PRIMARY KEY, unit_id TEXT, post_id TEXT, kind TEXT, lang TEXT,"
                " text TEXT, norm TEXT, segments_json TEXT)")
    con.commit()
    con.close()
    i = SqliteIndex(db)
    assert i.schema_reset is True
    i.upsert([doc("z", "办visa签证", route=("EC",))])
    assert ids(i.search(Query("visa"))) == ["z"]
    i.close()
    again = SqliteIndex(db)
    assert again.schema_reset is False
    again.close()


def test_bad_date_is_dead_lettered_not_a_crash(idx):
    res = idx.upsert([doc("bad", "厄瓜多尔", posted="not-a-date"), doc("ok", "厄瓜多尔")])
    assert res.indexed == 1
    assert [(p, c) for p, c, _ in res.failed] == [("bad", "E504")]
    assert idx.db.in_transaction is False
