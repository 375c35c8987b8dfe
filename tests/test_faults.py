"""Fault injection across the whole pipeline, with real processes and a real server (bounded in time).

- SIGKILL at eleven points spread over every stage of `routewatch run` (failpoints), each followed by
  a resumed run: the final catalog and index equal those of an uninterrupted run.
- The demo platform answering 500s, 429s, stalls and truncated bodies for a share of requests.
- The media dir read-only (immutable) or full (a 16 KiB tmpfs).
- Two processes on one data dir.
Every run ends with each item done or recorded as a failure with its code; a later run completes
what was recoverable.
"""

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from routewatch.demo.server import Corpus, DemoServer
from tests.conftest import run_cli, write_demo_config

pytestmark = pytest.mark.slow

SUBSET = ["p01", "p02", "p03", "p04", "p05", "p06", "p10", "p20", "p22", "p28"]


def small_corpus() -> Corpus:
    full = Corpus.load()
    return Corpus(posts=[p for p in full.posts if p["id"] in SUBSET], media_dir=full.media_dir)


def q(data: Path, sql: str):
    con = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


STATE = {
    "posts": "SELECT post_id, platform, url, caption, posted_at, media_url, forwarded_from, views FROM posts ORDER BY 1",
    "media": "SELECT post_id, sha256, size FROM media ORDER BY 1",
    "transcripts": "SELECT audio_sha256, model, language, text FROM transcripts ORDER BY 1",
    "links": "SELECT p.post_id, t.audio_sha256 FROM post_transcripts p JOIN transcripts t USING (transcript_id) ORDER BY 1",
    "units": "SELECT unit_id, kind, text FROM units ORDER BY 1",
    "facts": "SELECT post_id, gold_json FROM extractions ORDER BY 1",
    "index_posts": "SELECT post_id, countries, route, has_bribe, week FROM idx_posts ORDER BY 1",
    "index_units": "SELECT unit_id, text FROM idx_units ORDER BY 1",
    "failures": "SELECT stage, item_id, code FROM failures ORDER BY 1, 2",
    "status": "SELECT item_id, stage, status FROM stage_status ORDER BY 1, 2",
}


def state(data: Path) -> dict:
    return {k: q(data, sql) for k, sql in STATE.items()}


def run(cfg: Path, data: Path, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "routewatch", "run", "--config", str(cfg), "--json",
                           "--data-dir", str(data)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, check=False)


@pytest.fixture(scope="module")
def server():
    with DemoServer(corpus=small_corpus()) as srv:
        yield srv


@pytest.fixture(scope="module")
def reference(server, tmp_path_factory):
    d = tmp_path_factory.mktemp("ref")
    cfg = write_demo_config(d / "rw.toml", server)
    cp = run(cfg, d / "data")
    assert cp.returncode == 0, cp.stderr[-2000:]
    return state(d / "data")


FAILPOINTS = [
    "crawl:3:before", "crawl:6:before", "fetch:1:before", "fetch:2:after", "transcribe:0:before",
    "transcribe:1:after", "transcribe:1:before", "extract:1:before", "extract:3:after", "index:0:before",
    "index:0:after",
]


def test_sigkill_at_eleven_points_then_resume_equals_uninterrupted(server, reference, tmp_path):
    cfg = write_demo_config(tmp_path / "rw.toml", server)
    data = tmp_path / "data"
    for fp in FAILPOINTS:
        cp = run(cfg, data, env={"ROUTEWATCH_FAILPOINT": fp})
        assert cp.returncode == -9, f"failpoint {fp} was not reached (exit {cp.returncode}): {cp.stderr[-1500:]}"
    cp = run(cfg, data)
    assert cp.returncode == 0, cp.stderr[-2000:]
    got = state(data)
    for key in STATE:
        assert got[key] == reference[key], f"{key} differs after resumed runs"
    con = sqlite3.connect(data / "catalog.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_faulty_platform_then_recovery(reference, tmp_path):
    n = {"i": 0}

    def faults(path: str) -> str | None:
        if path == "/robots.txt":
            return None
        n["i"] += 1
        i = n["i"]
        if path.startswith("/media/"):
            return "truncate" if i % 3 == 0 else ("500" if i % 4 == 0 else None)
        return "500" if i % 5 == 0 else ("429" if i % 4 == 0 else ("stall" if i % 7 == 0 else None))

    corpus = small_corpus()
    with DemoServer(corpus=corpus, faults=faults) as srv:
        srv.httpd.stall_seconds = 4.0
        cfg = write_demo_config(tmp_path / "rw.toml", srv, timeout_seconds=2.0, retry_times=1)
        data = tmp_path / "data"
        t0 = time.monotonic()
        cp = run(cfg, data)
        assert cp.returncode == 0, cp.stderr[-2000:]
        assert time.monotonic() - t0 < 300
        # every post got through each stage it could reach: done, skipped, or failed with a code
        status = {(i, st): v for i, st, v in q(data, "SELECT item_id, stage, status FROM stage_status")}
        for (pid,) in q(data, "SELECT post_id FROM posts"):
            assert status.get((pid, "fetch")) in ("done", "failed", "skipped"), pid
            if status[(pid, "fetch")] == "done":
                assert status.get((pid, "transcribe")) in ("done", "failed"), pid
            assert status.get((pid, "extract")) == "done", pid
            assert status.get((pid, "index")) == "done", pid
        failed = {(i, st) for (i, st), v in status.items() if v == "failed"}
        recorded = {(i, st) for st, i, code in q(data, "SELECT stage, item_id, code FROM failures") if len(code) == 4}
        assert failed == recorded, "every failed item has a failure row with its code"
        faulted = len(q(data, "SELECT 1 FROM failures"))
        assert faulted > 0, "the faults did not cause any recorded failure"
        # the platform recovers: later runs complete what was recoverable
        srv.httpd.faults = None
    with DemoServer(corpus=corpus) as srv2:
        cfg2 = write_demo_config(tmp_path / "rw2.toml", srv2)
        for _ in range(2):
            cp = run(cfg2, data)
            assert cp.returncode == 0, cp.stderr[-2000:]
        # retry what failed in fetch (failed items are kept failed until retried explicitly)
        run_cli("fetch", "--config", str(cfg2), "--retry-failed", data_dir=data)
        cp = run(cfg2, data)
        assert cp.returncode == 0
    got = state(data)
    assert got["posts"] == reference["posts"]
    assert got["media"] == reference["media"]
    assert got["failures"] == reference["failures"]
    assert got["facts"] == reference["facts"]


def _immutable(path: Path, on: bool) -> bool:
    r = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True, check=False)
    return r.returncode == 0


def test_read_only_media_dir_fails_items_with_E209_then_recovers(server, reference, tmp_path):
    cfg = write_demo_config(tmp_path / "rw.toml", server)
    data = tmp_path / "data"
    (data / "media").mkdir(parents=True)
    if not _immutable(data / "media", True):
        pytest.fail("chattr +i is not available: cannot make a read-only media dir for root")
    try:
        cp = run(cfg, data)
        assert cp.returncode == 0, cp.stderr[-2000:]
        codes = {r[0] for r in q(data, "SELECT code FROM failures WHERE stage='fetch'")}
        assert codes == {"E209"}
        n_media_posts = len([p for p in small_corpus().posts if p.get("media")])
        assert len(q(data, "SELECT 1 FROM failures WHERE stage='fetch'")) == n_media_posts
        # captions are still extracted and indexed
        assert len(q(data, "SELECT 1 FROM idx_posts")) == len(SUBSET)
    finally:
        _immutable(data / "media", False)
    run_cli("fetch", "--config", str(cfg), "--retry-failed", data_dir=data)
    cp = run(cfg, data)
    assert cp.returncode == 0
    got = state(data)
    assert got["media"] == reference["media"]
    assert got["transcripts"] == reference["transcripts"]
    assert got["index_posts"] == reference["index_posts"]


def test_full_media_disk_is_E209(server, tmp_path):
    cfg = write_demo_config(tmp_path / "rw.toml", server)
    data = tmp_path / "data"
    media = data / "media"
    media.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(media)], capture_output=True, check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.decode().strip()}")
    try:
        cp = subprocess.run([sys.executable, "-m", "routewatch", "crawl", "--config", str(cfg), "--data-dir", str(data)],
                            capture_output=True, text=True, timeout=120, check=False)
        assert cp.returncode == 0
        cp = subprocess.run([sys.executable, "-m", "routewatch", "fetch", "--config", str(cfg), "--json",
                             "--data-dir", str(data)], capture_output=True, text=True, timeout=300, check=False)
        assert cp.returncode == 0, cp.stderr[-1500:]
        rep = json.loads(cp.stdout)[0]
        codes = [r[0] for r in q(data, "SELECT code FROM failures WHERE stage='fetch'")]
        assert codes and set(codes) == {"E209"}
        assert rep["done"] + rep["failed"] + rep["skipped"] == len(SUBSET)
        stored = {r[0] for r in q(data, "SELECT path FROM media")}
        on_disk = {str(p.relative_to(data)) for p in media.rglob("*") if p.is_file()}
        assert on_disk == stored, "no partial file is left behind"
    finally:
        subprocess.run(["umount", str(media)], check=False)


def test_second_process_on_the_same_data_dir_is_refused(server, tmp_path):
    cfg = write_demo_config(tmp_path / "rw.toml", server)
    data = tmp_path / "data"
    first = subprocess.Popen([sys.executable, "-m", "routewatch", "run", "--config", str(cfg), "--data-dir", str(data)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (data / ".routewatch.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        second = run_cli("fetch", "--config", str(cfg), data_dir=data, check=False)
        assert second.returncode == 2
        assert second.stderr.strip().startswith("E901")
        assert "Traceback" not in second.stderr
        waiting = subprocess.run([sys.executable, "-m", "routewatch", "extract", "--config", str(cfg), "--wait", "600",
                                  "--data-dir", str(data)], capture_output=True, text=True, timeout=700, check=False)
        assert waiting.returncode == 0, waiting.stderr[-1000:]
    finally:
        first.wait(600)
    assert first.returncode == 0
    con = sqlite3.connect(data / "catalog.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
