"""The ocr stage in the pipeline: a caption-only video becomes a timed `onscreen` unit that extraction and
search use like a transcript; a repost's file is read once; an audio-only file is skipped (E703)."""

from __future__ import annotations

import json
import shutil
import subprocess

from routewatch import pipeline
from routewatch.catalog import Catalog
from routewatch.records import Media
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
        from index.base import Query, build_index

        idx = build_index(settings, data / "catalog.sqlite")
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
