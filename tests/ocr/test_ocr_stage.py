"""The ocr stage in the pipeline: a caption-only video becomes a timed `onscreen` unit that extraction and
search use like a transcript; a repost's file is read once; an audio-only file is skipped (E703)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from routewatch import pipeline
from routewatch.core.catalog import Catalog
from routewatch.core.records import Media
from routewatch.settings import load_settings
from tests.conftest import make_post


def _add(cat: Catalog, data, platform_id: str, src, name: str) -> str:
    import hashlib

    post = make_post(platform_id=platform_id, caption="", lang="")
    cat.upsert_post(post)
    (data / "media").mkdir(exist_ok=True)
    dest = data / "media" / name
    shutil.copyfile(src, dest)
    sha = hashlib.sha256(dest.read_bytes()).hexdigest()
    cat.put_media(Media(post_id=post.post_id, path=f"media/{name}", sha256=sha, size=dest.stat().st_size))
    cat.set_status(post.post_id, "crawl", "done")
    cat.set_status(post.post_id, "fetch", "done")
    return post.post_id


def _counter(cat: Catalog, name: str) -> int:
    row = cat.db.execute("SELECT SUM(value) FROM counters WHERE name=?", (name,)).fetchone()
    return int(row[0] or 0)


def test_caption_only_video_is_read_once_extracted_and_searchable(tmp_path, ocr_manifest):
    clip = ocr_manifest["dev-021"]  # 請問從香港轉機去伊斯坦堡再到瓜亞基爾… banner 路上的故事, uploader id
    data = tmp_path / "data"
    data.mkdir()
    tone = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=2", str(tone)],
                   check=True, timeout=60)
    settings = load_settings(data_dir=data)
    cat = Catalog(data / "catalog.sqlite")
    try:
        first = _add(cat, data, "chan/1", clip["path"], "a.mp4")
        repost = _add(cat, data, "chan/2", clip["path"], "b.mp4")  # the same bytes under another post
        audio = _add(cat, data, "chan/3", tone, "c.m4a")
        ctx = pipeline.Context(settings=settings, catalog=cat)
        rep = pipeline.stage_ocr(ctx)
        assert (rep.done, rep.reused, rep.skipped, rep.failed) == (1, 1, 1, 0)
        assert cat.status_of(audio, "ocr") == "skipped"
        assert _counter(cat, "ocr/read") == 1 and _counter(cat, "ocr/reused") == 1
        units = {pid: [u for u in cat.units(pid) if u.kind == "onscreen"] for pid in (first, repost, audio)}
        assert units[audio] == []
        (unit,) = units[first]
        assert units[repost][0].text == unit.text
        assert unit.segments[0].text == "路上的故事"  # the title once, first
        assert "请问从香港转机去伊斯坦堡再到瓜亚基尔" in unit.text.replace(" ", "")  # Simplified for search
        assert unit.seconds_for(unit.text.index("瓜亚基尔"), unit.text.index("瓜亚基尔") + 4)[0] < 3.0
        # the uploader id is nowhere in the catalog; its overlay row holds a pseudonym
        dump = "\n".join(cat.db.iterdump())
        assert clip["watermark_handle"] not in dump
        (overlays,) = cat.db.execute("SELECT overlays_json FROM onscreen").fetchone()
        assert [o["kind"] for o in json.loads(overlays)] == ["handle"]
        assert json.loads(overlays)[0]["handle"].startswith("user-")
        # extraction and search read the onscreen unit like a transcript, with seconds
        pipeline.stage_extract(ctx)
        gold = cat.get_extraction_gold(first)
        assert gold["countries"] == ["HK", "TR", "EC"]
        assert [c["amount"] for c in gold["costs"]] == [8000]
        pipeline.stage_index(ctx)
        from index.base import Query
        from index.build import build_index

        idx = build_index(settings.index, data / "catalog.sqlite")
        try:
            hits = [h for h in idx.search(Query("伊斯坦堡")) if h.post_id == first]
        finally:
            idx.close()
        assert hits and hits[0].source == "onscreen" and hits[0].start_sec is not None
        assert clip["watermark_handle"] not in json.dumps([h.snippet for h in hits], ensure_ascii=False)
    finally:
        cat.close()


def test_ocr_command_reports_the_stage(tmp_path):
    from typer.testing import CliRunner

    from routewatch.cli import app

    res = CliRunner().invoke(app, ["ocr", "--data-dir", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    (report,) = json.loads(res.stdout)
    assert (report["stage"], report["done"], report["failed"]) == ("ocr", 0, 0)


def test_said_and_shown_facts_count_once_with_both_evidences(tmp_path, make_video):
    """A clip whose burned-in captions repeat what is said: each fact is one fact with a transcript and an
    on-screen evidence (each with its seconds), and trends, routes and the digest count it once per post.
    A = the demo's p21 (speech only, 64×64: nothing on screen); B = the same voice under captions."""
    from routewatch.digest import build_digest
    from routewatch.settings import load_settings
    from tests.ocr.conftest import caption
    from tests.web.helpers import client_for

    media = Path(__file__).resolve().parents[2] / "routewatch" / "demo" / "corpus" / "media"
    cues = [(2.0, 4.6, "全程一共花了十八万左右。"), (4.8, 6.4, "墨西哥那段最贵，"),
            (6.6, 9.4, "国民警卫队查车，每人要一百美金。"), (9.6, 14.0, "最后过美墙，给蛇头交了一千五美金。")]
    shown = make_video("said_and_shown.mp4", "-f", "lavfi", "-i", "color=c=0x3c6e71:s=540x960:r=4",
                       "-i", str(media / "p21_total_cost.mp4"), "-map", "0:v", "-map", "1:a", "-shortest",
                       "-vf", ",".join(caption(t, size=28, enable=f"between(t,{a},{b})") for a, b, t in cues),
                       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "copy")
    data = tmp_path / "data"
    data.mkdir()
    # exact counts on every surface: this test is about counting a post once, not about the small-count rule
    (data / "routewatch.toml").write_text("[privacy]\nmin_count = 1\n", encoding="utf-8")
    settings = load_settings(data_dir=data)
    cat = Catalog(data / "catalog.sqlite")
    try:
        said = _add(cat, data, "chan/1", media / "p21_total_cost.mp4", "a.mp4")
        both = _add(cat, data, "chan/2", shown, "b.mp4")
        ctx = pipeline.Context(settings=settings, catalog=cat)
        for stage in (pipeline.stage_transcribe, pipeline.stage_ocr, pipeline.stage_extract, pipeline.stage_index):
            assert stage(ctx).failed == 0
        assert {u.kind for u in cat.units(both) if u.text} == {"transcript", "onscreen"}
        assert [u for u in cat.units(said) if u.kind == "onscreen"] == []  # 64×64 colour: nothing on screen
        gold = {pid: cat.get_extraction_gold(pid) for pid in (said, both)}
        # the same facts as the spoken-only post: captions add evidence, not facts
        for key in ("countries", "route", "costs"):
            assert gold[both][key] == gold[said][key], key
        assert [(c["amount"], c["currency"], c["kind"]) for c in gold[both]["costs"]] == [
            (180000, "CNY", "total"), (100, "USD", "bribe"), (1500, "USD", "guide")]
        assert [(b["country"], b["payer_context"], b["amount"]) for b in gold[both]["bribes"]] == [("MX", "military", 100)]
        facts = cat.get_facts(both)
        cue_of = {"十八万": 2.0, "一百美金": 6.6, "一千五美金": 9.6}
        for fact in (*facts["costs"], *facts["bribes"], *facts["countries"]):
            kinds = [e["unit_kind"] for e in fact["evidence"]]
            assert sorted(kinds) == ["onscreen", "transcript"], fact
            assert all(e["start_sec"] is not None and e["end_sec"] > e["start_sec"] for e in fact["evidence"])
        for cost in facts["costs"]:
            ev = next(e for e in cost["evidence"] if e["unit_kind"] == "onscreen")
            assert abs(ev["start_sec"] - cue_of[ev["text"]]) <= 1.0
        # aggregates: one post is one post
        week = "2026-W45"  # make_post's date
        api = client_for(data)
        legs = {(g["from"], g["to"]): g for g in api.get("/api/routes").json()["legs"]}
        assert list(legs) == [("MX", "US")] and legs[("MX", "US")]["posts"] == 2
        trends = api.get("/api/trends", params={"field": "country", "by": "week"}).json()
        assert trends["periods"] == [week] and trends["totals"] == [2]
        assert {s["value"]: s["counts"] for s in trends["series"]} == {"MX": [2], "US": [2]}
        dg = build_digest(cat, settings, week)
        assert [(x["country"], x["n"]) for x in dg["top_countries"]] == [("MX", 2), ("US", 2)]
        assert [(x["key"], x["n"]) for x in dg["top_legs"]] == [("MX>US", 2)]
        # one row per (country, payer), one bribe per post
        assert [(x["country"], x["payer"], x["count"]) for x in dg["bribes"]] == [("MX", "military", "2")]
        assert sorted((x["kind"], x["currency"], x["median"]) for x in dg["costs"]) == [
            ("bribe", "USD", "100"), ("guide", "USD", "1,500"), ("total", "CNY", "180,000")]
    finally:
        cat.close()
