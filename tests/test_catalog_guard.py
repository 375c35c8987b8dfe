"""Damaged or foreign catalogs and data dirs (issue 21 groups 3, 7, 10): a text file, a truncated copy, a newer
schema, one row of invalid JSON, a data dir that is a file or a device, a post whose extraction failed, and the
CLI's last-resort guard. Each ends in one coded line or keeps working, never in a traceback."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess

import pytest

from routewatch.core.catalog import MIGRATIONS, Catalog, StoredJSONError, stored_json
from routewatch.core.errors import RouteWatchError
from routewatch.core.records import Failure
from routewatch.pipeline import Context, stage_index
from routewatch.settings import load_settings
from tests.conftest import CLI, make_post, run_cli

GOLD = {"relevant": True, "countries": ["EC", "CO"], "route": ["EC", "CO"], "places": [], "costs": [], "bribes": []}


def _code(fn, *a, **kw) -> str:
    with pytest.raises(RouteWatchError) as ei:
        fn(*a, **kw)
    return ei.value.code.value


def _world(data_dir):
    """Three posts: two extracted, one whose extraction failed (E401) before its caption unit was stored;
    then `index` as the pipeline runs it."""
    s = load_settings(data_dir)
    cat = Catalog(data_dir / "catalog.sqlite")
    posts = [make_post(platform_id=f"chan/{i}", caption=cap, posted_at=f"2026-11-0{i + 2}T08:00:00Z")
             for i, cap in enumerate(["先飞土耳其再到厄瓜多尔 ruta uno", "哥伦比亚 selva ruta dos",
                                      "达连丛林 tapachula ruta tres"])]
    with cat.tx():
        for p in posts:
            cat._upsert_post(p)
            cat.set_status(p.post_id, "crawl", "done")
    for p in posts[:2]:
        with cat.tx():
            cat.db.execute("INSERT INTO units(unit_id, post_id, kind, text, lang) VALUES (?,?,?,?,?)",
                           (f"{p.post_id}:caption", p.post_id, "caption", p.caption, "zh"))
            cat.db.execute("INSERT INTO extractions(post_id, relevant, gold_json, facts_json, created_at) "
                           "VALUES (?,?,?,?,?)", (p.post_id, 1, json.dumps(GOLD), "{}", "2026-11-05T00:00:00Z"))
            cat.set_status(p.post_id, "extract", "done")
    cat.record_failure(Failure("extract", posts[2].post_id, "E401", "text over spaCy's max_length", "2026-11-05"))
    ctx = Context(settings=s, catalog=cat)
    rep = stage_index(ctx)
    return s, cat, posts, rep


def test_failed_extraction_is_indexed_on_its_text(tmp_path):
    s, cat, posts, rep = _world(tmp_path / "data")
    try:
        assert (rep.done, rep.failed) == (3, 0)
        assert cat.pending("index", after="extract", after_status=("done", "failed")) == []
        assert cat.status_of(posts[2].post_id, "extract") == "failed"  # the failure is still shown
    finally:
        cat.close()
    cp = run_cli("search", "tapachula", "--json", data_dir=tmp_path / "data")
    assert [h["post_id"] for h in json.loads(cp.stdout)["hits"]] == [posts[2].post_id]
    from fastapi.testclient import TestClient

    from routewatch.web import create_app
    from routewatch.web.settings import WebSettings

    client = TestClient(create_app(s, web=WebSettings(rate_limit_per_minute=0)))
    post = client.get(f"/api/posts/{posts[2].post_id}").json()  # the page and API show why it has no facts
    assert [(f["stage"], f["code"]) for f in post["failures"]] == [("extract", "E401")]
    assert post["stages"]["index"]["status"] == "done"


def test_bad_json_row_rebuild_keeps_everything(tmp_path):
    d = tmp_path / "data"
    s, cat, posts, _ = _world(d)
    try:
        cat.db.execute("UPDATE extractions SET gold_json='{not json' WHERE post_id=?", (posts[0].post_id,))
        cat.db.execute("UPDATE posts SET extra_json='[1, 2' WHERE post_id=?", (posts[1].post_id,))
        cat.db.execute("UPDATE units SET segments_json='{\"start\": 1}' WHERE post_id=?", (posts[1].post_id,))
        rep = stage_index(Context(settings=s, catalog=cat), rebuild=True)
        assert (rep.done, rep.failed, rep.extra["documents"]) == (3, 0, 3)
    finally:
        cat.close()
    for args in (["status", "--json"], ["search", "ruta", "--json"], ["export", "--format", "jsonl", "-o",
                 str(tmp_path / "x.jsonl")], ["trace", "厄瓜多尔"], ["digest", "--week", "2026-W45", "--out",
                 str(tmp_path / "dg")], ["evidence", posts[0].post_id, "-o", str(tmp_path / "e.zip")]):
        cp = run_cli(*args, data_dir=d, check=False)
        assert cp.returncode == 0, (args, cp.stderr[-800:])
        assert "Traceback" not in cp.stderr
        if args[0] in ("export", "evidence"):  # the bad value is named on stderr with its code
            assert f"E923 extractions.gold_json of {posts[0].post_id}: invalid stored JSON" in cp.stderr, cp.stderr
    lines = (tmp_path / "x.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    by_id = {json.loads(line)["post_id"]: json.loads(line) for line in lines}
    assert by_id[posts[0].post_id]["extraction"]["summary"] == {}  # the bad value, read as empty
    assert by_id[posts[1].post_id]["extraction"]["summary"] == GOLD
    assert by_id[posts[1].post_id]["extra"] == {}
    cp = run_cli("search", "ruta", "--json", data_dir=d)
    assert len(json.loads(cp.stdout)["hits"]) == 3


def test_stored_json_decoder():
    assert stored_json('{"a": 1}', {}, where="t") == {"a": 1}
    assert stored_json("", [], where="t") == []
    assert stored_json("{bad", {}, where="t") == {}
    assert stored_json("[1]", {}, where="t") == {}  # a list where an object belongs
    assert stored_json("[" * 100000, [], where="t") == []  # too deep: RecursionError
    with pytest.raises(StoredJSONError) as ei:
        stored_json("{bad", {}, where="extractions.gold_json of x", strict=True)
    assert ei.value.code.value == "E923" and "extractions.gold_json of x" in ei.value.reason


def test_damaged_catalogs_are_coded(tmp_path):
    text = tmp_path / "text" / "catalog.sqlite"
    text.parent.mkdir()
    text.write_text("id,caption\n1,hello\n" * 100)
    assert _code(Catalog, text) == "E920"
    assert _code(Catalog, text, write=False) == "E920"
    good = tmp_path / "good" / "catalog.sqlite"
    cat = Catalog(good)
    with cat.tx():
        for i in range(300):
            cat._upsert_post(make_post(platform_id=f"c/{i}", caption="走线" * 200))
    cat.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cat.close()
    cut = tmp_path / "cut" / "catalog.sqlite"
    cut.parent.mkdir()
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    assert _code(Catalog, cut, write=False) == "E920"
    for args in (["status"], ["search", "走线"], ["export", "--format", "csv", "-o", str(tmp_path / "o.csv")],
                 ["trace", "走线"], ["digest", "--week", "2026-W45", "--out", str(tmp_path / "d")],
                 ["index"], ["import", "zeeschuimer", str(tmp_path / "none.ndjson")]):
        for d in (text.parent, cut.parent):
            cp = run_cli(*args, data_dir=d, check=False)
            assert cp.returncode == 2 and cp.stderr.startswith(("E920", "E903")), (args, d, cp.stderr[-500:])
            assert "Traceback" not in cp.stderr


def test_newer_schema_is_read_only(tmp_path):
    d = tmp_path / "data"
    cat = Catalog(d / "catalog.sqlite")
    with cat.tx():
        cat._upsert_post(make_post())
        cat.db.execute("ALTER TABLE posts ADD COLUMN future TEXT")
        cat.db.execute("INSERT INTO schema_version(version) VALUES (?)", (len(MIGRATIONS) + 5,))
    cat.close()
    before = (d / "catalog.sqlite").read_bytes()
    assert _code(Catalog, d / "catalog.sqlite") == "E921"
    ro = Catalog(d / "catalog.sqlite", write=False)
    try:
        assert [p.caption for p in ro.posts()] == ["先飞土耳其再到厄瓜多尔"]
        with pytest.raises(sqlite3.OperationalError):
            ro.db.execute("DELETE FROM posts")
    finally:
        ro.close()
    (tmp_path / "one.ndjson").write_text("{}\n")
    cp = run_cli("import", "zeeschuimer", str(tmp_path / "one.ndjson"), data_dir=d, check=False)
    assert cp.returncode == 2 and cp.stderr.startswith("E921"), cp.stderr
    cp = run_cli("status", "--json", data_dir=d)
    assert json.loads(cp.stdout)["stages"]["crawl"]["done"] == 1
    assert (d / "catalog.sqlite").read_bytes() == before


def test_unusable_data_dirs_and_arguments(tmp_path):
    (tmp_path / "file").write_text("x")
    for d in (tmp_path / "file", "/dev/null", "/proc/self"):
        cp = run_cli("status", data_dir=d, check=False)
        assert cp.returncode == 2 and cp.stderr.startswith("E922"), (d, cp.stderr)
        cp = run_cli("export", "--format", "csv", "-o", str(tmp_path / "o.csv"), data_dir=d, check=False)
        assert cp.returncode == 2 and cp.stderr.startswith("E922"), (d, cp.stderr)
    cp = subprocess.run([*CLI, "search", b"\xff\xfeabc"], capture_output=True, check=False)
    assert cp.returncode == 2 and cp.stderr.startswith(b"E903 argument 2 is not valid UTF-8"), cp.stderr


def test_unexpected_exception_is_E906_with_a_log(tmp_path):
    code = ("import sys\n"
            "from routewatch.core.guard import run_guarded\n"
            "def app(args, prog_name):\n"
            "    raise ZeroDivisionError('boom')\n"
            "run_guarded(app, sys.argv[1:])\n")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    cp = subprocess.run([CLI[0], "-c", code], capture_output=True, text=True, env={**__import__("os").environ, **env},
                        check=False)
    assert cp.returncode == 2
    assert cp.stderr.startswith("E906 internal error (ZeroDivisionError: boom); traceback in "), cp.stderr
    log = next((tmp_path / "state" / "routewatch").iterdir())
    assert "ZeroDivisionError" in log.read_text()
    cp = subprocess.run([CLI[0], "-c", code, "--debug"], capture_output=True, text=True, check=False)
    assert "Traceback" in cp.stderr and "E906 internal error" in cp.stderr


def test_full_disk_rebuild_keeps_the_old_index(tmp_path):
    s, cat, posts, _ = _world(tmp_path / "data")
    try:
        from index.sqlite_fts import SqliteIndex

        idx = SqliteIndex(s.catalog_path)
        pages = idx.db.execute("PRAGMA page_count").fetchone()[0]
        idx.db.execute(f"PRAGMA max_page_count={pages + 2}")  # the disk fills up during the rebuild
        from routewatch.pipeline import iter_docs

        big = [posts[0].post_id] * 1  # the real documents, then many more: more than two free pages

        def docs():
            yield from iter_docs(cat, [p.post_id for p in posts])
            from dataclasses import replace

            base = next(iter_docs(cat, big))
            for i in range(2000):
                yield replace(base, post_id=f"extra-{i}", units=tuple(
                    replace(u, unit_id=f"extra-{i}:{u.kind}", text=u.text * 50) for u in base.units))

        with pytest.raises(RouteWatchError) as ei:
            idx.rebuild(docs())
        assert ei.value.code.value == "E924"
        assert idx.count() == 3
        idx.close()
    finally:
        cat.close()
    shutil.rmtree(tmp_path / "data")


def test_foreign_sqlite_file_is_never_migrated_into(tmp_path):
    other = tmp_path / "data" / "catalog.sqlite"
    other.parent.mkdir()
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE notes (body TEXT)")
    con.execute("INSERT INTO notes VALUES ('mine')")
    con.commit()
    con.close()
    before = other.read_bytes()
    assert _code(Catalog, other) == "E920"
    assert other.read_bytes() == before
    d = tmp_path / "v"
    cat = Catalog(d / "catalog.sqlite")
    cat.db.execute("INSERT INTO schema_version(version) VALUES ('two')")
    cat.close()
    assert _code(Catalog, d / "catalog.sqlite", write=False) == "E920"


def test_status_check_reads_every_page(tmp_path):
    d = tmp_path / "data"
    cat = Catalog(d / "catalog.sqlite")
    with cat.tx():
        for i in range(400):
            cat._upsert_post(make_post(platform_id=f"c/{i}", caption="走线 " * 100))
    cat.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    cat.close()
    assert run_cli("status", "--check", data_dir=d).returncode == 0
    raw = bytearray((d / "catalog.sqlite").read_bytes())
    page = int.from_bytes(raw[16:18], "big")
    for p in range(len(raw) // page // 2, len(raw) // page - 1):  # scribble over the second half's pages
        raw[p * page + 8: p * page + 64] = b"\xff" * 56
    (d / "catalog.sqlite").write_bytes(bytes(raw))
    cp = run_cli("status", "--check", data_dir=d, check=False)
    assert cp.returncode == 2 and cp.stderr.startswith("E920"), cp.stderr
    assert "Traceback" not in cp.stderr
