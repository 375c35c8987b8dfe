"""The crawl and fetch stages against the real demo platform over HTTP (scrapy + yt-dlp)."""

import json
import sqlite3

from routewatch.demo.server import Corpus
from tests.conftest import run_cli, write_demo_config


def _q(db, sql, *a):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, a).fetchall()
    finally:
        con.close()


def test_crawl_then_fetch_demo_platform(tmp_path, demo_server):
    corpus = Corpus.load()
    cfg = write_demo_config(tmp_path / "rw.toml", demo_server)
    data = tmp_path / "data"
    cp = run_cli("crawl", "--config", str(cfg), "--json", data_dir=data)
    rep = json.loads(cp.stdout)[0]
    assert rep["stage"] == "crawl"
    db = data / "catalog.sqlite"
    n_posts = _q(db, "SELECT COUNT(*) FROM posts")[0][0]
    assert n_posts == len(corpus.posts)
    # Telegram messages keep their id, date, views and forward provenance
    tg = [p for p in corpus.posts if p["channel"] == "telegram"]
    rows = _q(db, "SELECT platform_id, posted_at, views, forwarded_from FROM posts WHERE platform='telegram'")
    got = {r[0]: r[1:] for r in rows}
    for p in tg:
        pid = f"{p['tg_channel']}/{p['msg_id']}"
        assert got[pid][0] == p["posted_at"]
        assert got[pid][1] == p["views"]
        assert got[pid][2] == (p["forwarded_from"] or "")
    # every page kept as a snapshot with its hash
    snaps = _q(db, "SELECT COUNT(*), COUNT(DISTINCT sha256) FROM snapshots")[0]
    assert snaps[0] >= 3 + len([p for p in corpus.posts if p["channel"] in ("feed", "seed")])
    # a second crawl finds the same posts and adds none
    cp2 = run_cli("crawl", "--config", str(cfg), "--json", data_dir=data)
    assert json.loads(cp2.stdout)[0]["extra"]["new"] == 0
    assert _q(db, "SELECT COUNT(*) FROM posts")[0][0] == n_posts

    # fetch: every post with media gets a content-addressed file; posts without media are skipped
    before = len(demo_server.requests)
    cp = run_cli("fetch", "--config", str(cfg), "--json", data_dir=data)
    rep = json.loads(cp.stdout)[0]
    with_media = [p for p in corpus.posts if p.get("media")]
    assert rep["done"] == len(with_media)
    assert rep["skipped"] == len(corpus.posts) - len(with_media)
    for path, sha, size in _q(db, "SELECT path, sha256, size FROM media"):
        f = data / path
        assert f.stat().st_size == size
        assert sha in f.name
    subs = _q(db, "SELECT COUNT(*) FROM units WHERE kind='subtitle'")[0][0]
    assert subs == len([p for p in corpus.posts if p.get("subtitles")])
    # a second fetch makes no media request
    media_reqs = len([r for r in demo_server.requests[before:] if r.startswith("/media/")])
    assert media_reqs >= len(with_media)
    before = len(demo_server.requests)
    run_cli("fetch", "--config", str(cfg), data_dir=data)
    assert [r for r in demo_server.requests[before:] if r.startswith("/media/")] == []
