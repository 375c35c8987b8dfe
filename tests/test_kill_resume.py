"""`routewatch run` killed with SIGKILL mid-transcription, then resumed: no duplicates, nothing lost."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from routewatch.demo.server import Corpus
from tests.conftest import run_cli, write_demo_config

pytestmark = pytest.mark.slow


def count(db, sql):
    if not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        con.close()


def test_sigkill_during_transcription_then_resume(tmp_path, demo_server):
    corpus = Corpus.load()
    cfg = write_demo_config(tmp_path / "rw.toml", demo_server)
    data = tmp_path / "data"
    db = data / "catalog.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "routewatch", "run", "--config", str(cfg), "--json",
                             "--data-dir", str(data)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            if count(db, "SELECT COUNT(*) FROM transcripts") >= 3:
                break
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            time.sleep(0.2)
        else:
            pytest.fail("transcription did not start in time")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    n_media = len([p for p in corpus.posts if p.get("media")])
    done_before = count(db, "SELECT COUNT(*) FROM stage_status WHERE stage='transcribe' AND status='done'")
    assert 3 <= done_before < n_media - 1, "the kill did not land in the middle of transcription"

    run_cli("run", "--config", str(cfg), "--json", data_dir=data, timeout=900)

    assert count(db, "SELECT COUNT(*) FROM posts") == len(corpus.posts)
    assert count(db, "SELECT COUNT(*) FROM (SELECT platform, platform_id FROM posts GROUP BY 1, 2 HAVING COUNT(*) > 1)") == 0
    assert count(db, "SELECT COUNT(*) FROM media") == n_media
    # one transcript link per post with decodable media, one transcript text unit per post
    assert count(db, "SELECT COUNT(*) FROM post_transcripts") == n_media - 1
    assert count(db, "SELECT COUNT(*) FROM (SELECT post_id FROM units WHERE kind='transcript' "
                     "GROUP BY post_id HAVING COUNT(*) > 1)") == 0
    assert count(db, "SELECT COUNT(*) FROM (SELECT audio_sha256, model FROM transcripts GROUP BY 1, 2 "
                     "HAVING COUNT(*) > 1)") == 0
    # the index holds each post once, and each unit once
    assert count(db, "SELECT COUNT(*) FROM idx_posts") == len(corpus.posts)
    assert count(db, "SELECT COUNT(*) FROM idx_units") == count(db, "SELECT COUNT(*) FROM units WHERE text != ''")
    assert count(db, "SELECT COUNT(*) FROM failures WHERE code != 'E204'") == 0
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
