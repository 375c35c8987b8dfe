"""Issue 15: the extract stage keeps every fact (with its confidence) in the facts JSON, but the gold
schema that trends, the route map and the digest read leaves out facts below
extract.aggregate_min_confidence, so no leg rests on a low-confidence ASR word alone."""

from __future__ import annotations

from routewatch.core.catalog import Catalog
from routewatch.core.records import Post, Segment, TextUnit, Transcript
from routewatch.pipeline import Context, build_doc, stage_extract
from routewatch.settings import load_settings


def _post(cat: Catalog, key: str, caption: str) -> str:
    from routewatch.core.records import post_id_for

    pid = post_id_for("web", key)
    cat.upsert_post(Post(post_id=pid, platform="web", platform_id=key, url="https://example.org/p/" + key,
                         source="feed:test", posted_at="2026-11-02T08:00:00Z", captured_at="2026-11-03T00:00:00Z",
                         lang="zh", author_handle="@someone", caption=caption))
    with cat.tx():
        cat.set_status(pid, "crawl", "done")
    return pid


def test_low_confidence_asr_leg_stays_out_of_aggregates(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    cat = Catalog(data / "catalog.sqlite")
    try:
        pid = _post(cat, "asr", "#走线 第十二天")
        # "Nicaragua" in a segment the recogniser was unsure of (very low log-probability, likely no speech)
        segs = (Segment(0.0, 3.0, "从墨西哥蒂华纳过去到了美国", avg_logprob=-0.1, no_speech_prob=0.0),
                Segment(3.0, 6.0, "之前在尼加拉瓜等了两天", avg_logprob=-2.5, no_speech_prob=0.6))
        cat.save_transcript_for_post(pid, Transcript("ab" * 32, "zh", TextUnit.join_segments(segs), segs, "test-model", 6.0))
        settings = load_settings(data_dir=data)
        rep = stage_extract(Context(settings, cat))
        assert rep.done == 1 and rep.failed == 0
        facts = cat.get_facts(pid)
        gold = cat.get_extraction_gold(pid)
        ni = next(c for c in facts["countries"] if c["iso"] == "NI")
        assert ni["confidence"] < settings.extract.aggregate_min_confidence
        assert "NI" in facts["route"]  # the catalog keeps it
        assert gold["relevant"] is True and "NI" not in gold["route"] and "NI" not in gold["countries"]
        assert gold["route"] == [iso for iso in facts["route"] if iso != "NI"]
        doc = build_doc(cat, pid)  # what the index (trends) counts
        assert "NI" not in doc.route and "NI" not in doc.countries
    finally:
        cat.close()


def test_threshold_zero_keeps_every_fact(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    cat = Catalog(data / "catalog.sqlite")
    try:
        pid = _post(cat, "asr0", "#走线")
        segs = (Segment(0.0, 3.0, "之前在尼加拉瓜等了两天 然后到了墨西哥", avg_logprob=-2.5, no_speech_prob=0.6),)
        cat.save_transcript_for_post(pid, Transcript("cd" * 32, "zh", TextUnit.join_segments(segs), segs, "test-model", 3.0))
        settings = load_settings(data_dir=data)
        settings = settings.model_copy(update={"extract": settings.extract.model_copy(update={"aggregate_min_confidence": 0.0})})
        stage_extract(Context(settings, cat))
        assert cat.get_extraction_gold(pid)["route"] == cat.get_facts(pid)["route"] == ["NI", "MX"]
    finally:
        cat.close()
