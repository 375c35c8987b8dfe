"""Issue 15: every fact carries a confidence with its reasons (source kind, ASR word confidence, the
rule that made it), facts told by two units of a post rise, and irrelevant posts keep their facts
with the reasons of the decision."""

from __future__ import annotations

import json
from dataclasses import asdict

from nlp_helpers import make_unit

from routewatch.core.records import Segment


def test_caption_fact_confidence_and_why(extractor) -> None:
    ex = extractor.extract(make_unit("从基多坐大巴到图尔坎，车票十五美金 #走线"))
    quito = next(p for p in ex.places if p.canonical == "Quito")
    assert quito.confidence == 0.9 and quito.why == ("caption 0.90",)
    cost = ex.costs[0]
    assert (cost.amount, cost.currency, cost.confidence) == (15.0, "USD", 0.9)


def test_transcript_confidence_uses_asr_words_and_sound_alikes(extractor) -> None:
    segs = [Segment(0.0, 3.0, "走线第二天到了威迪马拉城", avg_logprob=-0.2, no_speech_prob=0.0),
            Segment(3.0, 6.0, "大巴一人一百五十格查尔", avg_logprob=-1.2, no_speech_prob=0.1)]
    ex = extractor.extract(make_unit(kind="transcript", segments=segs))
    city = next(p for p in ex.places if p.canonical == "Guatemala City")
    # 0.75 (transcript) x sqrt(exp(-0.2)) = 0.679 (ASR words) x 0.6 (sounds like 危地马拉城)
    assert city.confidence == 0.407
    assert city.why == ("transcript 0.75", "ASR words 0.90", "sounds like 危地马拉城 x0.60")
    cost = ex.costs[0]
    assert (cost.amount, cost.currency) == (150.0, "GTQ")
    assert cost.confidence == round(0.75 * (0.3012 * 0.95) ** 0.5, 3) and cost.why[1] == "ASR words 0.53"


def test_fact_told_by_two_units_rises(extractor) -> None:
    caption = make_unit("到内科克利了，船票八十五美金 #走线", kind="caption", unit_id="p9:c", post_id="p9")
    transcript = make_unit("今天到了内科克利 明天坐船", kind="transcript", unit_id="p9:t", post_id="p9")
    post = extractor.extract_post([caption, transcript])
    place = next(p for p in post.places if p.canonical == "Necoclí")
    # 1 - (1 - 0.9)(1 - 0.75)
    assert place.confidence == 0.975 and place.why[-1] == "corroborated by 2 units"
    cost = post.costs[0]
    assert cost.confidence == 0.9 and not any("corroborated" in w for w in cost.why)


def test_facts_json_holds_confidence_and_relevance_reasons(extractor) -> None:
    ex = extractor.extract_post([make_unit("我们从福州出发，飞到厄瓜多尔基多，然后坐大巴到哥伦比亚，一共花了三万。")])
    facts = json.loads(json.dumps(asdict(ex), ensure_ascii=False, default=str))
    assert facts["relevant"] is True and facts["route"] == ["CN", "EC", "CO"]
    assert "+0.5 overland leg EC>CO" in facts["relevance_reasons"]
    assert "+0.3 long-haul flight into the corridor" in facts["relevance_reasons"]
    assert [(c["amount"], c["currency"], c["kind"], c["confidence"]) for c in facts["costs"]] == [
        (30000.0, "CNY", "total", 0.765)
    ]
    assert facts["costs"][0]["why"] == ["caption 0.90", "currency CNY by default x0.85"]


def test_post_page_facts_carry_confidence_why_and_relevance_reasons(extractor) -> None:
    from routewatch.web.public import Scrubber
    from routewatch.web.queries import _public_facts

    segs = [Segment(0.0, 3.0, "走线第二天到了威迪马拉城", avg_logprob=-0.2, no_speech_prob=0.0)]
    ex = extractor.extract_post([make_unit(kind="transcript", segments=segs)])
    facts = json.loads(json.dumps(asdict(ex), ensure_ascii=False, default=str))
    pub = _public_facts(Scrubber(b"k" * 32), facts, {})
    place = pub["places"][0]
    assert (place["canonical"], place["confidence"]) == ("Guatemala City", 0.41)
    assert place["why"] == ["transcript 0.75", "ASR words 0.90", "sounds like 危地马拉城 x0.60"]
    assert pub["relevance_reasons"][0] == "+1.5 cue 走线"


def test_post_template_shows_confidence() -> None:
    from pathlib import Path

    import jinja2

    src = (Path(__file__).resolve().parents[2] / "routewatch" / "web" / "templates" / "post.html").read_text(encoding="utf-8")
    jinja2.Environment().parse(src)  # the page still compiles
    assert "confidence {{" in src and 'fct.item.why|join("; ")' in src and "p.facts.relevance_reasons" in src


def test_ambiguous_place_name_confirmed_by_context_is_less_sure(extractor) -> None:
    ex = extractor.extract(make_unit("飞到玻利维亚的圣克鲁斯，落地签 #走线"))
    place = ex.places[0]
    assert (place.canonical, place.confidence) == ("Santa Cruz de la Sierra", 0.81)
    assert place.why == ("caption 0.90", "ambiguous name, confirmed by context x0.90")


def test_aggregates_leave_out_a_leg_only_a_misheard_word_supports(extractor) -> None:
    from nlp.confidence import LOW, for_aggregates

    # "Nicaragua" heard by mistake in one segment: the NI legs rest on that low-confidence word alone
    segs = [Segment(0.0, 3.0, "走线从墨西哥蒂华纳过去", avg_logprob=-0.1, no_speech_prob=0.0),
            Segment(3.0, 6.0, "之前在尼加拉瓜等了两天", avg_logprob=-2.5, no_speech_prob=0.6)]
    post = extractor.extract_post([make_unit(kind="transcript", segments=segs)])
    ni = next(c for c in post.countries if c.iso == "NI")
    assert ni.confidence < LOW and ni.why[1].startswith("ASR words")
    assert "NI" in post.route
    agg = for_aggregates(post)
    assert "NI" not in agg.route and [c.iso for c in agg.countries] == [c.iso for c in post.countries if c.iso != "NI"]
    assert agg.to_gold()["route"] == [iso for iso in post.route if iso != "NI"]
    assert for_aggregates(post, 0.0) is post
