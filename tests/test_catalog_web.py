"""The catalog's reads for the web (`routewatch/core/catalog_web.py`) on a real SQLite catalog: what each returns for
a small hand-made set of posts, so a second catalog backend can be held to the same answers."""

from __future__ import annotations

import json
from dataclasses import asdict

from routewatch.core.records import (
    CountryMention,
    Extraction,
    Failure,
    Media,
    Provenance,
    Segment,
    TextUnit,
    Transcript,
)
from tests.conftest import make_post

SHA = "ab" * 32


def _extraction(cat, post_id: str, relevant: bool, route: tuple[str, ...]) -> None:
    ex = Extraction(post_id=post_id, unit_id="", relevant=relevant, route=route,
                    countries=tuple(CountryMention(iso=c) for c in route))
    cat.save_extraction(ex, json.dumps(asdict(ex), ensure_ascii=False, default=str))


def _world(cat):
    a = make_post(platform_id="chan/1", caption="先飞土耳其再到厄瓜多尔 走线", posted_at="2026-11-02T08:00:00Z")
    b = make_post(platform="youtube", platform_id="vid1", url="https://youtube.com/watch?v=vid1", lang="es",
                  caption="先飞土耳其再到厄瓜多尔 走线", posted_at="2026-11-09T08:00:00Z")
    c = make_post(platform_id="chan/3", caption="其他", posted_at="", lang="")
    for p in (a, b, c):
        cat.upsert_post(p)
    cat.put_media(Media(post_id=a.post_id, path="media/ab/x.mp4", sha256=SHA, size=10, mime="video/mp4",
                        provenance=Provenance(tool="yt-dlp", version="1")))
    cat.put_media(Media(post_id=b.post_id, path="media/ab/x.mp4", sha256=SHA, size=10, mime="video/mp4"))
    t = Transcript(audio_sha256="cd" * 32, language="zh", text="走线", segments=(Segment(0.0, 1.0, "走线"),),
                   model="test", seconds=1.0)
    cat.save_transcript_for_post(a.post_id, t)
    cat.save_transcript_for_post(c.post_id, t, reuse_id=cat.find_transcript("cd" * 32, "test"))
    with cat.tx():
        cat.put_unit(TextUnit(unit_id=f"{a.post_id}:caption", post_id=a.post_id, kind="caption", text=a.caption))
    _extraction(cat, a.post_id, True, ("EC", "CO", "PA"))
    _extraction(cat, b.post_id, True, ("TR", "EC"))
    _extraction(cat, c.post_id, False, ())
    cat.record_failure(Failure(stage="fetch", item_id=c.post_id, code="E210", reason="too slow", at="2026-11-10"))
    return a, b, c


def test_one_posts_parts(fresh_catalog):
    cat = fresh_catalog
    a, _b, c = _world(cat)
    assert cat.unit_text(f"{a.post_id}:caption") == a.caption and cat.unit_text("nope") is None
    (tr,) = cat.transcripts_of(a.post_id)
    assert (tr["model"], tr["language"], tr["seconds"], tr["reused"]) == ("test", "zh", 1.0, False)
    assert cat.transcripts_of(c.post_id)[0]["reused"] is True
    tid = tr["transcript_id"]
    assert set(cat.unit_transcripts(a.post_id).values()) == {tid}
    m = cat.media_detail(a.post_id)
    assert (m["sha256"], m["size"], m["mime"], m["path"], m["provenance"]["tool"]) == (SHA, 10, "video/mp4",
                                                                                        "media/ab/x.mp4", "yt-dlp")
    assert cat.media_detail(c.post_id) is None
    assert [s["source"] for s in cat.sightings_of(a.post_id)] == ["test"]
    assert cat.post_stages(a.post_id)["fetch"]["status"] == "done"
    assert [(f.stage, f.code, f.reason) for f in cat.post_failures(c.post_id)] == [("fetch", "E210", "too slow")]
    assert cat.post_failures(a.post_id) == []


def test_related_post_candidates(fresh_catalog):
    cat = fresh_catalog
    a, b, c = _world(cat)
    assert cat.same_media_posts(a.post_id) == [b.post_id]
    assert cat.same_audio_posts([a.post_id], exclude=a.post_id) == [c.post_id]
    assert cat.caption_candidates(a.post_id, a.caption) == [(b.post_id, b.caption)]  # same caption; no index built
    assert [p.post_id for p in cat.posts_by_ids([c.post_id, b.post_id, a.post_id, "unknown"])] == [
        c.post_id, a.post_id, b.post_id]  # by posting time ("" first), then id


def test_facets_weeks_and_route_facts(fresh_catalog):
    cat = fresh_catalog
    a, b, _c = _world(cat)
    assert cat.facet_values() == {"platforms": ["telegram", "youtube"], "langs": ["es", "zh"],
                                  "countries": ["CO", "EC", "PA", "TR"]}
    assert cat.posting_times() == ["2026-11-09T08:00:00Z", "2026-11-02T08:00:00Z"]
    rows = cat.route_facts()
    assert [(pid, gold["route"]) for pid, _, gold, _ in rows] == [(a.post_id, ["EC", "CO", "PA"]),
                                                                  (b.post_id, ["TR", "EC"])]
    assert rows[0][3]["route"] == ["EC", "CO", "PA"]  # the facts, decoded
    assert [r[0] for r in cat.route_facts(platform="youtube")] == [b.post_id]
    assert [r[0] for r in cat.route_facts(since="2026-11-03", until="2026-11-09")] == [b.post_id]  # until inclusive
    assert [r[0] for r in cat.route_facts(until="2026-11-08")] == [a.post_id]
    assert len(cat.route_facts(relevant_only=False)) == 3
    assert [r[0] for r in cat.route_facts(state="")] == [a.post_id, b.post_id]  # never rechecked
    assert cat.route_facts(state="deleted") == []


def test_what_the_app_checks(fresh_catalog):
    cat = fresh_catalog
    before = cat.posts_stamp()
    cat.upsert_post(make_post(platform_id="chan/9"))
    assert cat.posts_stamp() != before
    assert cat.has_saved_searches() is True
