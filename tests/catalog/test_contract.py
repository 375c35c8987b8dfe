"""The catalog contract, run against both backends (an SQLite file and a PostgreSQL database).

Every write method and the main reads of `routewatch.core.catalog.Catalog`, with the exact values a stage or a
person reads back; both backends must give these same answers.
"""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

from routewatch.core.catalog import MIGRATIONS, Catalog
from routewatch.core.errors import RouteWatchError
from routewatch.core.records import (
    CountryMention,
    Extraction,
    Failure,
    Media,
    OnscreenLine,
    OnscreenText,
    Provenance,
    Segment,
    TextUnit,
    Transcript,
)
from tests.conftest import make_post

SEGS = (Segment(0.0, 1.25, "厄瓜多尔", -0.123456789012, 0.01), Segment(1.25, 3.5, "免签 100%", None, None))


def count(cat: Catalog, table: str) -> int:
    return cat.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# ---- schema -------------------------------------------------------------------------------------------------
def test_fresh_catalog_has_every_migration_once(open_cat):
    open_cat().close()
    cat = open_cat()
    assert cat.schema_version() == len(MIGRATIONS)
    assert count(cat, "schema_version") == len(MIGRATIONS)
    tables = {r[0] for r in cat.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"posts", "media", "units", "transcripts", "extractions", "saved_alerts", "onscreen"} <= tables


def test_newer_schema_refuses_writers_and_reads_read_only(open_cat):
    cat = open_cat()
    cat.upsert_post(make_post())
    cat.db.execute("INSERT INTO schema_version(version) VALUES (?)", (len(MIGRATIONS) + 1,))
    cat.close()
    with pytest.raises(RouteWatchError) as ei:
        open_cat()
    assert ei.value.code.value == "E921"
    ro = open_cat(write=False)
    assert [p.post_id for p in ro.posts()] == [make_post().post_id]
    with pytest.raises(sqlite3.Error):
        ro.db.execute("DELETE FROM posts")


# ---- posts --------------------------------------------------------------------------------------------------
def test_post_round_trip_and_sightings(cat):
    p = make_post(views=3_000_000_000, extra_json='{"channel": "路线", "n": 1}', author_handle="@a")
    assert cat.upsert_post(p) is True
    assert cat.upsert_post(make_post(source="other", discovered_via="page2")) is False
    assert cat.get_post(p.post_id) == p
    assert cat.get_post("nope") is None
    assert count(cat, "posts") == 1 and count(cat, "post_sightings") == 2
    assert cat.posts() == [p]


def test_refresh_fills_empty_fields_completes_cut_caption_never_erases(cat):
    cat.upsert_post(make_post(caption="先飞土耳其…", posted_at="", lang=""))
    cat.upsert_post(make_post(caption="", posted_at="2026-11-05T00:00:00Z", lang="zh", views=7))
    cat.upsert_post(make_post(caption="先飞土耳其再到厄瓜多尔", posted_at="2026-01-01T00:00:00Z"))
    got = cat.get_post(make_post().post_id)
    assert (got.caption, got.posted_at, got.lang, got.views) == ("先飞土耳其再到厄瓜多尔", "2026-11-05T00:00:00Z", "zh", 7)


def test_youtube_short_address_replaces_watch_address(cat):
    watch = make_post(platform="youtube", platform_id="abc123", url="https://www.youtube.com/watch?v=abc123")
    cat.upsert_post(watch)
    cat.upsert_post(make_post(platform="youtube", platform_id="abc123", url="https://www.youtube.com/shorts/abc123"))
    got = cat.get_post(watch.post_id)
    assert (got.url, got.page_url) == ("https://www.youtube.com/shorts/abc123", "https://www.youtube.com/shorts/abc123")


def test_post_extra_fields_and_capture(cat):
    p = make_post(extra_json='{"a": 1}')
    cat.upsert_post(p)
    assert cat.post_extra(p.post_id) == {"a": 1}
    assert cat.post_extra("nope") is None
    cat.set_post_extra(p.post_id, {"b": "两"})
    cat.set_post_fields(p.post_id, {"caption": "新", "views": 5})
    assert cat.capture_of(p.post_id) == ("2026-11-03T00:00:00Z", '{"b": "两"}', "新")
    assert cat.get_post(p.post_id).views == 5
    with pytest.raises(ValueError):
        cat.set_post_fields(p.post_id, {"nope": 1})


def test_account_names(cat):
    extra = {"channel": "频道", "uploader_id": 5, "comments": {"1": {"author": "c1", "author_name": "甲"}, "2": "x"}}
    cat.upsert_post(make_post(author_handle=" @h ", forwarded_from="fw", extra_json=json.dumps(extra)))
    cat.upsert_post(make_post(platform_id="c/2", source="telegram:chan", extra_json="not json"))
    assert cat.account_names() == {"@h", "fw", "频道", "c1", "甲", "chan"}


# ---- snapshots ----------------------------------------------------------------------------------------------
def test_snapshots_once_per_url_and_hash(cat):
    a, b = make_post(platform_id="c/1"), make_post(platform_id="c/2")
    s1 = cat.add_snapshot("https://t.me/s/c", 200, "aa", "snapshots/aa.html", "src", "scrapy", [a.post_id])
    s2 = cat.add_snapshot("https://t.me/s/c", 200, "aa", "snapshots/aa.html", "src", "scrapy", [a.post_id])
    s3 = cat.add_snapshot("https://t.me/s/c", 200, "bb", "snapshots/bb.html", "src", "scrapy")
    assert s1 == s2 == 1 and s3 not in (0, 1)
    cat.link_snapshot(b.post_id, "https://t.me/s/c")
    assert cat.has_snapshot(a.post_id, "https://t.me/s/c") and cat.has_snapshot(b.post_id, "https://t.me/s/c")
    assert not cat.has_snapshot(b.post_id, "https://t.me/s/other")
    assert {tuple(r) for r in cat.db.execute("SELECT post_id, snapshot_id FROM post_snapshots")} == \
        {(a.post_id, 1), (b.post_id, s3)}


# ---- media --------------------------------------------------------------------------------------------------
def test_media_round_trip_replace_and_lookups(cat):
    p = make_post(media_url="https://cdn/x.mp4")
    cat.upsert_post(p)
    m = Media(p.post_id, "media/ab/ab.mp4", "ab" * 32, 5_000_000_000, 12.345678901234, "video/mp4", '{"id": "x"}',
              Provenance("yt-dlp", "1"))
    cat.put_media(m, source="feed:demo")
    assert cat.get_media(p.post_id) == Media(p.post_id, m.path, m.sha256, m.size, m.duration, m.mime, m.info_json)
    cat.put_media(Media(p.post_id, "media/cd/cd.mp4", "cd" * 32, 10, None))
    assert cat.get_media(p.post_id) == Media(p.post_id, "media/cd/cd.mp4", "cd" * 32, 10, None)
    assert count(cat, "media") == 1
    assert cat.media_by_sha("cd" * 32).post_id == p.post_id and cat.media_by_sha("ab" * 32) is None
    assert cat.post_with_media_url("https://cdn/x.mp4") == p.post_id and cat.post_with_media_url("x") is None
    assert cat.status_of(p.post_id, "fetch") == "done"
    assert cat.run_counters()["fetch/fetched"] == 2


# ---- units and transcripts ----------------------------------------------------------------------------------
def test_units_replace_and_order(cat):
    p = make_post()
    cat.upsert_post(p)
    cap = TextUnit(f"{p.post_id}:caption", p.post_id, "caption", "旧", "zh")
    sub = TextUnit(f"{p.post_id}:subtitle", p.post_id, "subtitle", "厄瓜多尔 免签 100%", "zh", SEGS)
    cat.put_unit(cap)
    cat.put_unit(sub)
    cat.put_unit(TextUnit(f"{p.post_id}:caption", p.post_id, "caption", "新", "zh"))
    assert cat.units(p.post_id) == [TextUnit(f"{p.post_id}:caption", p.post_id, "caption", "新", "zh"), sub]
    assert list(cat.all_units()) == cat.units(p.post_id)
    assert sorted(cat.dated_unit_texts()) == [(p.post_id, "厄瓜多尔 免签 100%"), (p.post_id, "新")]


def test_transcript_saved_once_reused_and_found(cat):
    a, b = make_post(platform_id="c/1"), make_post(platform_id="c/2")
    for p in (a, b):
        cat.upsert_post(p)
        cat.put_media(Media(p.post_id, "media/x.mp4", "ee" * 32, 10))
    prov = Provenance("faster-whisper", "1.2", "base", (("wall_time_s", "1.5"),))
    t = Transcript("ab" * 32, "zh", "厄瓜多尔 免签 100%", SEGS, "base", 3.5, prov, "厄瓜多爾 免簽 100%")
    tid = cat.save_transcript_for_post(a.post_id, t, fingerprint="fp1")
    assert cat.save_transcript_for_post(b.post_id, t, reuse_id=tid) == tid
    assert tid == f"tr-{'ab' * 8}-base"
    assert cat.get_transcript(tid) == Transcript("ab" * 32, "zh", t.text, SEGS, "base", 3.5, None, t.raw_text)
    assert cat.get_transcript("nope") is None
    assert cat.find_transcript("ab" * 32, "base") == tid and cat.find_transcript("ab" * 32, "small") is None
    assert cat.transcript_for_media("ee" * 32, "base") == tid
    assert list(cat.fingerprints("base")) == [(tid, "fp1", 3.5)]
    assert (count(cat, "transcripts"), count(cat, "post_transcripts")) == (1, 2)
    assert [u.kind for u in cat.units(b.post_id)] == ["transcript"]
    assert cat.status_of(b.post_id, "transcribe") == "done"
    c = cat.run_counters()
    assert (c["transcribe/transcribed"], c["transcribe/seconds"], c["transcribe/reused"]) == (1, 4, 1)
    ov = cat.transcripts_overview()
    assert (sorted(ov["posts"]), ov["model_wall_s"], ov["audio_s"], ov["from_subtitles"]) == \
        (sorted([a.post_id, b.post_id]), 1.5, 3.5, [])


def test_onscreen_read_once_per_file_and_model(cat):
    p = make_post()
    cat.upsert_post(p)
    line = OnscreenLine(0.5, 2.0, "厄瓜多尔", 0.9876)
    res = OnscreenText("厄瓜多尔", (line,), (line,), (), "rapidocr", 9.5, 19, "厄瓜多爾")
    unit = TextUnit(f"{p.post_id}:onscreen", p.post_id, "onscreen", "厄瓜多尔", "zh", (Segment(0.5, 2.0, "厄瓜多尔"),))
    cat.save_onscreen_for_post(p.post_id, "ff" * 32, "rapidocr", unit, res, [{"kind": "handle", "start": 0.0}])
    cat.save_onscreen_for_post(p.post_id, "ff" * 32, "rapidocr", unit, res)
    got = cat.find_onscreen("ff" * 32, "rapidocr")
    assert (got.text, got.segments) == ("厄瓜多尔", (Segment(0.5, 2.0, "厄瓜多尔"),))
    assert cat.find_onscreen("ff" * 32, "other") is None
    row = cat.db.execute("SELECT persistent_json, overlays_json, seconds FROM onscreen").fetchone()
    assert (json.loads(row["persistent_json"])[0]["confidence"], row["overlays_json"], row["seconds"]) == (0.9876, "[]", 9.5)
    assert count(cat, "onscreen") == 1 and cat.status_of(p.post_id, "ocr") == "done"


# ---- extractions --------------------------------------------------------------------------------------------
def test_extraction_saved_replaced_and_read(cat):
    p = make_post()
    cat.upsert_post(p)
    cat.set_status(p.post_id, "index", "done")
    ex = Extraction(p.post_id, "", True, (CountryMention("EC"),), ("TR", "EC"))
    cat.save_extraction(ex, '{"facts": 1}')
    assert cat.get_extraction_gold(p.post_id) == ex.to_gold()
    assert cat.get_facts(p.post_id) == {"facts": 1}
    assert cat.status_of(p.post_id, "index") is None and cat.status_of(p.post_id, "extract") == "done"
    assert [(i, d) for i, d, _ in cat.relevant_dated()] == [(p.post_id, "2026-11-02T08:00:00Z")]
    assert list(cat.relevant_dated("2026-11-01")) == []
    cat.save_extraction(Extraction(p.post_id, "", False), "{}")
    assert cat.get_extraction_gold(p.post_id)["relevant"] is False and count(cat, "extractions") == 1
    assert list(cat.relevant_dated()) == [] and cat.gold_summaries() == [cat.get_extraction_gold(p.post_id)]
    assert cat.get_extraction_gold("nope") is None and cat.run_counters()["extract/extracted"] == 2


# ---- status, failures, counters -----------------------------------------------------------------------------
def test_failures_attempts_and_retry(cat):
    p = make_post()
    cat.upsert_post(p)
    cat.start_run("run")
    cat.record_failure(Failure("fetch", p.post_id, "E204", "truncated", "2026-11-03T00:00:00Z"), source="feed")
    cat.record_failure(Failure("fetch", p.post_id, "E204", "truncated again", "2026-11-03T00:01:00Z"), source="feed")
    assert [tuple(r) for r in cat.db.execute("SELECT code, attempts FROM failures")] == [("E204", 2)]
    assert cat.failures() == [Failure("fetch", p.post_id, "E204", "truncated again", "2026-11-03T00:01:00Z")]
    assert cat.failures("transcribe") == []
    assert cat.status_of(p.post_id, "fetch") == "failed"
    assert cat.pending("fetch") == [] and cat.pending("fetch", retry_failed=True) == [p.post_id]
    assert cat.run_counters()["fetch/failed/E204"] == 2
    cat.set_status(p.post_id, "fetch", "done")
    assert cat.failures() == []
    cat.record_failure(Failure("extract", p.post_id, "E401", "x"))
    cat.clear_failures(p.post_id, "extract")
    assert cat.failures() == []


def test_run_failures_only_of_this_run(cat):
    cat.start_run("old")
    cat.record_failure(Failure("fetch", "a", "E204", "old", "2000-01-01T00:00:00Z"))
    cat.start_run("new")
    cat.record_failure(Failure("fetch", "b", "E205", "no audio"))
    assert cat.run_failures() == [{"stage": "fetch", "code": "E205", "count": 1, "example": "no audio"}]


def test_runs_and_counters(cat):
    assert cat.start_run("one") == 1
    cat.count("crawl/pages", 2, source="s")
    cat.count("crawl/pages", 3, source="s")
    cat.count("crawl/pages", 1, source="t")
    cat.finish_run()
    assert cat.start_run("two") == 2
    cat.count("crawl/new")
    assert cat.run_counters(1) == {"crawl/pages": 6} and cat.run_counters() == {"crawl/new": 1}
    assert cat.db.execute("SELECT finished_at IS NOT NULL FROM runs WHERE run_id = 1").fetchone()[0] in (1, True)


def test_statuses_and_pending(cat):
    ids = []
    for i, when in enumerate(["2026-11-03", "2026-11-01", "2026-11-02"]):
        p = make_post(platform_id=f"c/{i}", posted_at=when)
        cat.upsert_post(p)
        ids.append(p.post_id)
    a, b, c = ids
    cat.set_status(a, "fetch", "done")
    cat.set_status(b, "fetch", "skipped", "E207")
    cat.set_status(c, "recheck", "done", "gone", at="2026-11-04T00:00:00Z")
    assert cat.pending("fetch") == [c]
    assert cat.pending("transcribe", after="fetch") == [a]
    assert cat.pending("transcribe", after="fetch", after_status=("done", "skipped")) == [b, a]
    # a distributed job's subset: only these ids, still in catalog order; an empty subset is nothing
    assert cat.pending("transcribe", after="fetch", after_status=("done", "skipped"), only=[a, b, "nope"]) == [b, a]
    assert cat.pending("fetch", only=[a, c]) == [c] and cat.pending("fetch", only=[]) == []
    cat.set_status(c, "fetch", "failed", "E203")
    assert cat.pending("fetch", retry_failed=True, only=[c]) == [c] and cat.pending("fetch", only=[c]) == []
    cat.invalidate(c, "fetch")
    assert cat.items_done_with("recheck", ("gone", "private")) == [c]
    assert cat.done_code(c, "recheck") == "gone" and cat.done_code(a, "recheck") is None
    assert cat.items_with_status("fetch") == sorted([a, b])
    assert cat.due_for("recheck", "2026-11-04T00:00:00Z") == sorted([a, b]) + [c]
    assert cat.due_for("recheck", "2026-11-03T00:00:00Z") == sorted([a, b])
    counts = cat.stage_counts()
    assert counts["fetch"] == {"done": 1, "failed": 0, "skipped": 1, "pending": 1}
    assert counts["crawl"]["done"] == 3
    cat.invalidate(a, "fetch")
    assert cat.status_of(a, "fetch") is None
    with cat.tx():
        cat.forget_stage("fetch")
    assert cat.items_with_status("fetch") == []
    assert cat.latest_posted_at() == "2026-11-03"
    assert sorted(cat.posted_at_of([a, b, "nope"])) == ["2026-11-01", "2026-11-03"]


def test_recheck_state(cat):
    extra = {"availability": [{"state": "up", "seen_at": "t1"}, {"state": "gone", "seen_at": "t2", "http_status": 404},
                              {"state": "gone", "seen_at": "t3", "http_status": 410, "words": "删除"}]}
    p = make_post(extra_json=json.dumps(extra))
    cat.upsert_post(p)
    assert cat.recheck_state(p.post_id) is None
    cat.set_status(p.post_id, "recheck", "done", "gone", at="t3")
    assert cat.recheck_state(p.post_id) == {"state": "gone", "seen_at": "t3", "since": "t2", "http_status": 410,
                                            "words": "删除"}


# ---- saved searches and alerts ------------------------------------------------------------------------------
def test_saved_search_alerts_once_then_marked(cat):
    row = {"name": "ec", "query": "厄瓜多尔", "filters_json": "{}", "webhook": "", "changes": True,
           "created_at": "t0", "checked_at": None}
    cat.add_saved_search(row, ["p1"], "t0")
    assert cat.saved_search_rows() == [{**row, "changes": 1}]
    assert cat.saved_search_rows("nope") == []
    assert cat.record_alerts("ec", ["p1", "p2", "p3"], [("2026-W45|EC|up", {"n": 3})], "t1") == ["p2", "p3"]
    assert cat.record_alerts("ec", ["p2", "p4"], [("2026-W45|EC|up", {"n": 4})], "t2") == ["p4"]
    assert cat.alerted_posts("ec") == {"p1", "p2", "p3", "p4"}
    waiting = cat.alerts_waiting("seen_at")
    assert [(a["post_id"], a["kind"], a["found_at"]) for a in waiting] == \
        [("2026-W45|EC|up", "change", "t1"), ("p2", "match", "t1"), ("p3", "match", "t1"), ("p4", "match", "t2")]
    assert json.loads(waiting[0]["detail_json"]) == {"n": 3}
    assert cat.mark_alerts(waiting[:2], "seen_at", "t3") == 2
    assert [a["post_id"] for a in cat.alerts_waiting("seen_at", "ec")] == ["p3", "p4"]
    assert len(cat.alerts_waiting("delivered_at")) == 4
    assert [(a["post_id"], a["seen_at"]) for a in cat.recent_alerts("ec", limit=2)] == [("p4", None), ("2026-W45|EC|up", "t3")]
    assert cat.saved_search_rows("ec")[0]["checked_at"] == "t2"
    cat.remove_saved_search("ec")
    assert cat.saved_search_rows() == [] and cat.alerted_posts("ec") == set()


# ---- what `status` shows ------------------------------------------------------------------------------------
def test_status_and_collector_health(cat):
    for run, found in enumerate([10, 12, 4], start=1):
        assert cat.start_run("crawl") == run
        cat.count("crawl/discovered", found, source="feed")
        cat.count("crawl/pages", 2, source="feed")
        cat.count("crawl/skipped/robots", 1, source="feed")
    cat.upsert_post(make_post(source="feed"))
    cat.put_media(Media(make_post().post_id, "m", "aa", 1), source="feed")
    cat.record_failure(Failure("transcribe", make_post().post_id, "E302", "boom"), source="feed")
    st = cat.status()
    assert (st["posts"], st["media"], st["transcripts"], st["transcribed_minutes"], st["schema_version"]) == \
        (1, 1, 0, 0.0, len(MIGRATIONS))
    assert st["sources"] == {"feed": {"posts": 1, "pages": 6}}
    assert st["failures"] == [{"stage": "transcribe", "code": "E302", "count": 1, "example": "boom"}]
    assert st["stages"]["transcribe"] == {"done": 0, "failed": 1, "skipped": 0, "pending": 0}
    h = st["health"]["feed"]
    assert (h["last_run"], h["discovered"], h["median_previous"], h["pages"], h["fetched"]) == (3, 4, 11, 2, 1)
    assert h["flag"] == "far fewer than its recent median (4 < 11)"
    assert h["skipped"] == {"robots": 1} and h["failed"] == {}  # a transcription failure is not the collector's
    json.dumps(st)  # every number is a plain int or float on both backends


# ---- transactions and writers -------------------------------------------------------------------------------
def test_a_failed_transaction_leaves_nothing(cat):
    with pytest.raises(sqlite3.IntegrityError), cat.tx():
        cat._upsert_post(make_post())
        cat.db.execute("INSERT INTO stage_status(item_id, stage, status, updated_at) VALUES ('x','y','bad','')")
    assert count(cat, "posts") == 0


def test_nested_transaction_rolls_back_alone(cat):
    with cat.tx():
        cat._upsert_post(make_post())
        with pytest.raises(RuntimeError), cat.tx():
            cat._upsert_post(make_post(platform_id="c/9"))
            raise RuntimeError("inner")
    assert [p.platform_id for p in cat.posts()] == ["chan/1"]


def test_second_writer(open_cat, backend):
    """SQLite keeps one writer per data dir (E901); PostgreSQL takes several, and two processes storing the same
    new post at once store it once."""
    first = open_cat()
    if backend == "sqlite":
        with pytest.raises(RouteWatchError) as ei:
            open_cat(lock_timeout=0.2)
        assert ei.value.code.value == "E901"
        return
    second = open_cat()
    errors: list[BaseException] = []
    go = threading.Barrier(2)

    def store(c: Catalog) -> None:
        try:
            go.wait()
            for i in range(30):
                c.upsert_post(make_post(platform_id=f"c/{i}"))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=store, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(first, "posts") == 30 and count(first, "post_sightings") == 30


def test_posts_stamp_changes_when_a_post_is_added(cat):
    empty = cat.posts_stamp()
    assert empty == (None, 0)
    cat.upsert_post(make_post())
    one = cat.posts_stamp()
    assert one[1] == 1 and one != empty
    cat.upsert_post(make_post())  # seen again, nothing new
    assert cat.posts_stamp()[1] == 1
    cat.upsert_post(make_post(platform_id="c/2"))
    assert cat.posts_stamp()[1] == 2 and cat.posts_stamp() != one


def test_sqlite_dialect_that_surfaces_still_send(cat):
    """SQL written for SQLite outside the catalog (web, CLI, evidence...) gives the same answers on both."""
    p = make_post(caption="Darien GAP 100%")
    cat.upsert_post(p)
    db = cat.db
    db.execute("INSERT OR REPLACE INTO extractions(post_id, relevant, gold_json, facts_json, created_at) "
               "VALUES (?, 1, '{}', '{}', 't1')", (p.post_id,))
    db.execute("INSERT OR REPLACE INTO extractions(post_id, relevant, gold_json, facts_json, created_at) "
               "VALUES (:id, 0, '{}', '{}', :at)", {"id": p.post_id, "at": "t2"})
    db.execute("INSERT OR IGNORE INTO post_sightings(post_id, source, discovered_via, seen_at) VALUES (?,?,?,?)",
               (p.post_id, p.source, p.discovered_via, "t"))
    assert [tuple(r) for r in db.execute("SELECT relevant, created_at FROM extractions")] == [(0, "t2")]
    assert count(cat, "post_sightings") == 1
    assert db.execute("SELECT COUNT(*) FROM posts WHERE caption LIKE ? AND caption LIKE '%100\\%%' ESCAPE '\\'",
                      ("darien gap%",)).fetchone()[0] == 1
    assert db.execute("SELECT IFNULL(views, -1) FROM posts").fetchone()[0] == -1
    assert db.execute("SELECT 1 FROM sqlite_master WHERE name='saved_alerts'").fetchone() is not None
    assert db.execute("SELECT 1 FROM sqlite_master WHERE name='idx_units_cjk'").fetchone() is None
    cur = db.executemany("UPDATE posts SET views=? WHERE post_id=?", [(1, p.post_id), (2, "nope")])
    assert cur.rowcount == 1
