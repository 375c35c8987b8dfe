"""The whole demo through the real CLI: crawl, fetch, transcribe, extract, index, search."""

import json
import sqlite3

import pytest

from routewatch.demo.server import DEMO_BASE, Corpus
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
    from routewatch.core.privacy import install_secret, pseudonym

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


def test_caption_only_clips_are_read_searchable_with_seconds_and_keep_the_uploader_id_out(demo_run, tmp_path):
    """p29 and p30 say nothing and carry no subtitles: their words are only burned into the picture."""
    data, _ = demo_run
    corpus = Corpus.load()
    clips = {p["id"]: p for p in corpus.posts if p.get("onscreen")}
    assert sorted(clips) == ["p29", "p30"]
    pid = {k: q(data, "SELECT post_id FROM posts WHERE url = ?", f"{DEMO_BASE}/watch/{k}")[0][0] for k in clips}
    for k, p in clips.items():
        assert p["speech"] is None and p["subtitles"] is None
        units = dict(q(data, "SELECT kind, segments_json FROM units WHERE post_id = ?", pid[k]))
        assert q(data, "SELECT text FROM units WHERE post_id = ? AND kind = 'transcript'", pid[k]) == [("",)]  # no voice
        segs = json.loads(units["onscreen"])
        lines = [c["text"].replace(" ", "") for c in p["onscreen"]["captions"]]
        banner = [p["onscreen"]["banner"]] if p["onscreen"]["banner"] else []
        assert [s["text"].replace(" ", "") for s in segs] == banner + lines  # a title once, then each caption line
        for s, c in zip(segs[len(banner):], p["onscreen"]["captions"], strict=True):
            assert abs(s["start"] - c["start"]) <= 1.0
    # only they show words: the other videos (64×64 colour or test pattern with its clock) have none
    assert sorted(r[0] for r in q(data, "SELECT post_id FROM units WHERE kind = 'onscreen' AND text != ''")) == sorted(
        pid.values())
    # search finds the words on screen, with the second they show
    for query, k, start in (("图尔坎", "p29", 0.5), ("船票八十五美金", "p30", 3.1), ("向导每人三百美金", "p30", 5.7)):
        hits = json.loads(run_cli("search", query, "--json", data_dir=data).stdout)["hits"]
        hit = next(h for h in hits if h["post_id"] == pid[k])
        assert hit["source"] == "onscreen"
        assert abs(hit["start_sec"] - start) <= 1.0 and hit["end_sec"] > hit["start_sec"]
    # facts read on screen count like spoken ones
    gold = json.loads(q(data, "SELECT gold_json FROM extractions WHERE post_id = ?", pid["p30"])[0][0])
    assert gold["relevant"] is True and gold["route"] == ["CO", "PA"]
    assert sorted((c["amount"], c["currency"], c["kind"]) for c in gold["costs"]) == [
        (85, "USD", "transport"), (300, "USD", "guide")]
    # p30's watermark "抖音号：yulin_xw0917" is an overlay: kept as a kind, its id in no text, index or export
    assert json.loads(q(data, "SELECT overlays_json FROM onscreen WHERE text LIKE '内科克利%'")[0][0])[0]["kind"] == "handle"
    out = tmp_path / "all.jsonl"
    run_cli("export", "--format", "jsonl", "-o", str(out), data_dir=data)
    handle = clips["p30"]["onscreen"]["watermark"].split("：")[1]
    assert pid["p30"] in out.read_text(encoding="utf-8")
    assert handle not in out.read_text(encoding="utf-8")
    assert not [f for f in data.rglob("*") if f.is_file() and handle.encode() in f.read_bytes()]
