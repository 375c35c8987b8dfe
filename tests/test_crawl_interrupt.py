"""A crawl interrupted by SIGINT and by SIGKILL, then resumed, ends exactly like an uninterrupted one."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from routewatch.core.catalog import Catalog
from tests.conftest import run_cli, write_demo_config

pytestmark = pytest.mark.slow


def rows(db, sql):
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def interrupt(cfg, data, sig, at_posts):
    db = data / "catalog.sqlite"
    before = len(rows(db, "SELECT post_id FROM posts"))
    proc = subprocess.Popen([sys.executable, "-m", "routewatch", "crawl", "--config", str(cfg), "--data-dir", str(data)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(rows(db, "SELECT post_id FROM posts")) >= before + at_posts:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the crawl ended before it could be interrupted"
    os.kill(proc.pid, sig)
    proc.wait(60)
    return len(rows(db, "SELECT post_id FROM posts"))


def test_interrupted_crawl_resumes_to_the_same_posts_and_media(tmp_path, demo_server):
    fast = write_demo_config(tmp_path / "fast.toml", demo_server)
    slow = write_demo_config(tmp_path / "slow.toml", demo_server, download_delay=0.4, autothrottle=False)
    # reference: one uninterrupted crawl + fetch
    ref = tmp_path / "ref"
    run_cli("crawl", "--config", str(fast), data_dir=ref)
    run_cli("fetch", "--config", str(fast), data_dir=ref)
    # interrupted twice, then resumed
    data = tmp_path / "data"
    n1 = interrupt(slow, data, signal.SIGINT, at_posts=3)
    n2 = interrupt(slow, data, signal.SIGKILL, at_posts=3)
    total = len(rows(ref / "catalog.sqlite", "SELECT post_id FROM posts"))
    assert 0 < n1 < n2 < total
    run_cli("crawl", "--config", str(fast), data_dir=data)
    run_cli("fetch", "--config", str(fast), data_dir=data)
    q_posts = "SELECT post_id, url, posted_at, caption FROM posts ORDER BY post_id"
    q_media = "SELECT post_id, sha256, size FROM media ORDER BY post_id"
    assert rows(data / "catalog.sqlite", q_posts) == rows(ref / "catalog.sqlite", q_posts)
    assert rows(data / "catalog.sqlite", q_media) == rows(ref / "catalog.sqlite", q_media)
    # a second crawl + fetch makes no media request
    mark = len(demo_server.requests)
    run_cli("crawl", "--config", str(fast), data_dir=data)
    out = json.loads(run_cli("fetch", "--config", str(fast), "--json", data_dir=data).stdout)[0]
    assert out["done"] == 0
    assert [r for r in demo_server.requests[mark:] if r.startswith("/media/")] == []


def test_collector_health_flags_zero_and_far_fewer(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    for n in (10, 12, 11, 0, 3):
        cat.start_run("crawl")
        cat.count("crawl/discovered", n, source="tg")
        cat.count("crawl/discovered", 5, source="feed")
    h = cat.collector_health()
    cat.close()
    assert h["tg"]["discovered"] == 3
    assert h["tg"]["median_previous"] == 10.5
    assert h["tg"]["flag"].startswith("far fewer")
    assert h["feed"]["flag"] == ""


def test_collector_health_flags_zero(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    for n in (4, 0):
        cat.start_run("crawl")
        cat.count("crawl/discovered", n, source="tg")
    h = cat.collector_health()
    cat.close()
    assert h["tg"]["flag"] == "returned zero posts"
