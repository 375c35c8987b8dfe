"""The whole demo through the real CLI: crawl, fetch, transcribe, extract, index, search."""

import json
import sqlite3

import pytest

from routewatch.demo.server import Corpus
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def q(data, sql, *a):
    con = sqlite3.connect(data / "catalog.sqlite")
    try:
        return con.execute(sql, a).fetchall()
    finally:
        con.close()


def test_summary_counts(demo_run):
    data, s = demo_run
    corpus = Corpus.load()
    assert s["posts_crawled"] == len(corpus.posts)
    assert s["media_fetched"] == len([p for p in corpus.posts if p.get("media")])
    assert s["minutes_transcribed"] > 2.0
    assert s["facts_extracted"] > 50
    assert s["index_documents"] == len(corpus.posts)
    assert s["index_backend"] == "sqlite.v1"


def test_search_chinese_hits_transcripts_with_seconds(demo_run):
    data, _ = demo_run
    hits = json.loads(run_cli("search", "厄瓜多尔", "--json", data_dir=data).stdout)["hits"]
    assert len({h["post_id"] for h in hits}) >= 5
    tr = [h for h in hits if h["source"] == "transcript"]
    assert len(tr) >= 2
    for h in tr:
        assert 0 <= h["start_sec"] < h["end_sec"]
        assert "[" in h["snippet"]


def test_search_darien_finds_spanish_and_english(demo_run):
    data, _ = demo_run
    hits = json.loads(run_cli("search", "Darién", "--json", data_dir=data).stdout)["hits"]
    langs = {r[0] for h in hits for r in q(data, "SELECT lang FROM idx_posts WHERE post_id=?", h["post_id"])}
    assert {"es", "en"} <= langs


@pytest.mark.parametrize("query", ['"厄瓜多尔', "(", "厄瓜多尔 (", "field:", "\\", "'"])
def test_broken_queries_answer_without_traceback(demo_run, query):
    data, _ = demo_run
    cp = run_cli("search", query, "--json", data_dir=data, check=False)
    assert "Traceback" not in cp.stderr
    if cp.returncode == 0:
        assert isinstance(json.loads(cp.stdout)["hits"], list)
    else:
        assert cp.stderr.strip().startswith("E")


def test_corrupt_media_is_a_failure_row_and_the_rest_completes(demo_run):
    data, _ = demo_run
    corpus = Corpus.load()
    bad = [p for p in corpus.posts if p.get("corrupt")]
    assert len(bad) == 1
    fails = q(data, "SELECT stage, code FROM failures")
    assert ("transcribe", "E204") in [tuple(f) for f in fails]
    assert len(fails) == 1
    # every other post with media has a transcript; every post is extracted and indexed
    n_media = len([p for p in corpus.posts if p.get("media")])
    assert q(data, "SELECT COUNT(*) FROM post_transcripts")[0][0] == n_media - 1
    assert q(data, "SELECT COUNT(*) FROM stage_status WHERE stage='index' AND status='done'")[0][0] == len(corpus.posts)


def test_reposted_clip_transcribed_once(demo_run):
    data, _ = demo_run
    corpus = Corpus.load()
    group = [p for p in corpus.posts if p["repost_of"]]
    assert group
    # Copies share one transcript. A subtitled original's transcript is its own subtitles (captions-first),
    # which stand for that post alone: its copies without subtitles share one model transcript among them.
    by_id = {p["id"]: p for p in corpus.posts}
    own_run = len({p["repost_of"] for p in group if by_id[p["repost_of"]].get("subtitles")})
    reused = q(data, "SELECT SUM(value) FROM counters WHERE name='transcribe/reused'")[0][0]
    assert reused == len(group) - own_run
    n_media = len([p for p in corpus.posts if p.get("media")])
    assert q(data, "SELECT COUNT(*) FROM transcripts")[0][0] == n_media - 1 - reused


def test_status_json(demo_run):
    data, _ = demo_run
    st = json.loads(run_cli("status", "--json", data_dir=data).stdout)
    assert st["stages"]["index"]["done"] == st["posts"]
    assert st["failures"] == [{"stage": "transcribe", "code": "E204", "count": 1, "example": st["failures"][0]["example"]}]
    # channels are named as every output names them: keyed pseudonyms (routewatch.view), as on the web Status page
    from routewatch.privacy import install_secret, pseudonym

    key = install_secret(data)
    assert set(st["sources"]) == {f"telegram:{pseudonym('zouxian_notes', key)}", f"telegram:{pseudonym('ruta_norte', key)}",
                                  "feed:demo", "seeds:demo"}
    assert st["privacy"]["mode"] == "pseudonymised"


def test_trends_weekly(demo_run):
    data, _ = demo_run
    rows = json.loads(run_cli("trends", "--by", "week", "--field", "country", "--json", data_dir=data).stdout)["rows"]
    assert rows
    for r in rows:
        assert r["period"].startswith("2026-W")
        assert 0 < r["count"] <= r["total"]
