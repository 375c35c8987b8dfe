import sqlite3

import pytest

from routewatch.core.catalog import MIGRATIONS, Catalog, DataDirLocked
from routewatch.core.records import Failure, Segment, Transcript
from tests.conftest import make_post


def test_wal_and_schema_version(fresh_catalog):
    assert fresh_catalog.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert fresh_catalog.schema_version() == len(MIGRATIONS)


def test_reopen_does_not_rerun_migrations(tmp_path):
    Catalog(tmp_path / "c.sqlite").close()
    c = Catalog(tmp_path / "c.sqlite")
    rows = c.db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
    c.close()
    assert rows == len(MIGRATIONS)


def test_same_post_twice_is_one_record(fresh_catalog):
    p = make_post()
    assert fresh_catalog.upsert_post(p) is True
    assert fresh_catalog.upsert_post(make_post(source="other", discovered_via="page2")) is False
    assert fresh_catalog.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 1
    # both sightings kept: the sampling statement knows it was found twice
    assert fresh_catalog.db.execute("SELECT COUNT(*) FROM post_sightings").fetchone()[0] == 2


def test_refresh_never_erases_collected_fields(fresh_catalog):
    fresh_catalog.upsert_post(make_post(caption="原文"))
    fresh_catalog.upsert_post(make_post(caption=""))
    assert fresh_catalog.get_post(make_post().post_id).caption == "原文"


def test_second_writer_refused_with_E901(tmp_path):
    a = Catalog(tmp_path / "c.sqlite")
    try:
        with pytest.raises(DataDirLocked) as ei:
            Catalog(tmp_path / "c.sqlite", lock_timeout=0.3)
        assert ei.value.code.value == "E901"
        # readers are not blocked
        r = Catalog(tmp_path / "c.sqlite", write=False)
        r.close()
    finally:
        a.close()
    Catalog(tmp_path / "c.sqlite").close()  # lock released


def test_failure_row_and_status(fresh_catalog):
    p = make_post()
    fresh_catalog.upsert_post(p)
    fresh_catalog.record_failure(Failure("fetch", p.post_id, "E204", "truncated"))
    fresh_catalog.record_failure(Failure("fetch", p.post_id, "E204", "truncated again"))
    assert fresh_catalog.status_of(p.post_id, "fetch") == "failed"
    rows = fresh_catalog.db.execute("SELECT code, attempts FROM failures").fetchall()
    assert [tuple(r) for r in rows] == [("E204", 2)]
    assert fresh_catalog.pending("fetch") == []
    assert fresh_catalog.pending("fetch", retry_failed=True) == [p.post_id]


def test_shared_transcript_stored_once(fresh_catalog):
    a, b = make_post(platform_id="c/1"), make_post(platform_id="c/2")
    fresh_catalog.upsert_post(a)
    fresh_catalog.upsert_post(b)
    t = Transcript(audio_sha256="ab" * 32, language="zh", text="厄瓜多尔 免签",
                   segments=(Segment(0.0, 1.5, "厄瓜多尔"), Segment(1.5, 3.0, "免签")), model="base", seconds=3.0)
    tid = fresh_catalog.save_transcript_for_post(a.post_id, t)
    fresh_catalog.save_transcript_for_post(b.post_id, t, reuse_id=tid)
    assert fresh_catalog.db.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0] == 1
    assert fresh_catalog.db.execute("SELECT COUNT(*) FROM post_transcripts").fetchone()[0] == 2
    unit = fresh_catalog.units(b.post_id)[0]
    assert unit.kind == "transcript"
    assert unit.seconds_for(unit.text.index("免签"), unit.text.index("免签") + 2) == (1.5, 3.0)


def test_writes_are_atomic(fresh_catalog):
    p = make_post()
    with pytest.raises(sqlite3.IntegrityError), fresh_catalog.tx():
        fresh_catalog._upsert_post(p)
        fresh_catalog.db.execute("INSERT INTO stage_status(item_id, stage, status, updated_at) VALUES ('x','y','bad','')")
    assert fresh_catalog.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0
