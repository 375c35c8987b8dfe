"""`routewatch migrate-catalog --to postgresql://…`: the SQLite catalog copied into PostgreSQL, resumable, verified.

A small catalog written through the catalog's own methods (every table that has rows), and the demo's catalog:
after the copy every table has the same rows and content hash on both sides and the PostgreSQL catalog reads
the same records; a second run copies nothing; a copy that differs exits 2 with E962.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from pg_helpers import create_database, drop_database

from routewatch.core.catalog import Catalog
from routewatch.core.catalog_copy import TABLES, copy_catalog
from routewatch.core.records import Extraction, Failure, Media, Segment, TextUnit, Transcript
from tests.conftest import make_post, run_cli

pytestmark = pytest.mark.pg


@pytest.fixture
def pg_db():
    dsn = create_database("migrate")
    yield dsn
    drop_database(dsn)


def small_catalog(path) -> None:
    with Catalog(path) as cat:
        cat.start_run("test")
        for i in range(5):
            p = make_post(platform_id=f"c/{i}", views=i, extra_json=json.dumps({"channel": "频道"}))
            cat.upsert_post(p)
            cat.put_media(Media(p.post_id, f"media/{i}.mp4", f"{i:02d}" * 32, 100 + i, 1.5 * i), source="test")
            t = Transcript(f"{i:02d}" * 32, "zh", "厄瓜多尔 免签", (Segment(0.0, 0.333333333333, "厄瓜多尔"),), "base", 3.25)
            cat.save_transcript_for_post(p.post_id, t, fingerprint=f"fp{i}")
            cat.put_unit(TextUnit(f"{p.post_id}:caption", p.post_id, "caption", p.caption, "zh"))
            cat.save_extraction(Extraction(p.post_id, "", i % 2 == 0, route=("TR", "EC")), f'{{"n": {i}}}')
        cat.add_snapshot("https://t.me/s/c", 200, "aa", "snapshots/aa.html", "test", "scrapy", [make_post().post_id])
        cat.record_failure(Failure("fetch", "gone", "E203", "404"))
        cat.add_saved_search({"name": "ec", "query": "厄瓜多尔", "filters_json": "{}", "webhook": "", "changes": 0,
                              "created_at": "t0", "checked_at": None}, [make_post().post_id], "t0")
        cat.finish_run()


def table_counts(path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        db.close()


def migrate(data_dir, dsn, *extra, check=True):
    return run_cli("migrate-catalog", "--to", dsn, "--json", *extra, data_dir=data_dir, check=check, timeout=600)


def same_records(sqlite_path, dsn, tmp_path) -> None:
    with Catalog(sqlite_path, write=False) as a, Catalog(dsn=dsn, data_dir=tmp_path, write=False) as b:
        assert b.posts() == a.posts()
        for p in a.posts():
            assert (b.get_media(p.post_id), b.units(p.post_id), b.get_extraction_gold(p.post_id), b.get_facts(p.post_id)) \
                == (a.get_media(p.post_id), a.units(p.post_id), a.get_extraction_gold(p.post_id), a.get_facts(p.post_id))
        assert b.status() == a.status()
        assert b.failures() == a.failures() and b.saved_search_rows() == a.saved_search_rows()


def test_copy_is_verified_resumable_and_reads_the_same(tmp_path, pg_db):
    data = tmp_path / "data"
    small_catalog(data / "catalog.sqlite")
    counts = table_counts(data / "catalog.sqlite")
    assert all(counts[t] > 0 for t in ("posts", "media", "units", "transcripts", "post_transcripts", "extractions",
                                         "stage_status", "failures", "runs", "counters", "snapshots", "saved_alerts"))
    first = json.loads(migrate(data, pg_db, "--batch", "2").stdout)
    assert first["ok"] is True
    assert {t["table"]: (t["copied"], t["source_rows"], t["copy_rows"]) for t in first["tables"]} == \
        {t: (n, n, n) for t, n in counts.items()}
    again = json.loads(migrate(data, pg_db).stdout)
    assert again["ok"] is True and sum(t["copied"] for t in again["tables"]) == 0
    same_records(data / "catalog.sqlite", pg_db, tmp_path)
    with Catalog(dsn=pg_db, data_dir=tmp_path) as pg:  # generated ids go on after the copied ones
        assert pg.start_run("after") == counts["runs"] + 1
        assert pg.add_snapshot("https://t.me/s/new", 200, "bb", "p", "s", "t") == counts["snapshots"] + 1


def test_an_interrupted_copy_resumes(tmp_path, pg_db):
    data = tmp_path / "data"
    small_catalog(data / "catalog.sqlite")
    with Catalog(data / "catalog.sqlite") as src, Catalog(dsn=pg_db, data_dir=tmp_path) as dst:
        # a copy stopped after two rows of posts: those rows are there, nothing else
        rows = [tuple(r) for r in src.db.execute("SELECT * FROM posts ORDER BY post_id LIMIT 2")]
        dst.db.executemany(f"INSERT INTO posts VALUES ({', '.join('?' * len(rows[0]))})", rows)
        checks = {c.table: c for c in copy_catalog(src, dst, batch=3)}
    assert (checks["posts"].copied, checks["posts"].copy_rows) == (3, 5)
    assert all(c.ok for c in checks.values())


def test_a_differing_copy_exits_2_with_E962(tmp_path, pg_db):
    data = tmp_path / "data"
    small_catalog(data / "catalog.sqlite")
    migrate(data, pg_db)
    with Catalog(dsn=pg_db, data_dir=tmp_path) as pg:
        pg.db.execute("UPDATE units SET text = text || '!' WHERE unit_id = (SELECT MIN(unit_id) FROM units)")
    cp = migrate(data, pg_db, check=False)
    out = json.loads(cp.stdout)
    assert cp.returncode == 2 and cp.stderr.startswith("E962 ")
    assert [t["table"] for t in out["tables"] if not t["ok"]] == ["units"]


def test_to_must_be_postgresql(tmp_path):
    small_catalog(tmp_path / "catalog.sqlite")
    cp = run_cli("migrate-catalog", "--to", f"sqlite:///{tmp_path}/x.sqlite", data_dir=tmp_path, check=False)
    assert cp.returncode == 2 and cp.stderr.startswith("E960 ")


@pytest.mark.slow
def test_the_demo_catalog(demo_run, tmp_path, pg_db):
    """The demo's whole catalog: every table the same on both sides, and the same records read back."""
    demo_dir, _ = demo_run
    data = tmp_path / "data"
    data.mkdir()
    src = sqlite3.connect(f"file:{demo_dir / 'catalog.sqlite'}?mode=ro", uri=True)
    dst = sqlite3.connect(data / "catalog.sqlite")
    src.backup(dst)
    src.close()
    dst.close()
    res = json.loads(migrate(data, pg_db).stdout)
    assert res["ok"] is True
    rows = {t["table"]: t["copy_rows"] for t in res["tables"]}
    assert rows == {t: n for t, n in table_counts(data / "catalog.sqlite").items()}
    assert rows["posts"] >= 30 and rows["transcripts"] > 0 and rows["extractions"] > 0
    same_records(data / "catalog.sqlite", pg_db, tmp_path)
