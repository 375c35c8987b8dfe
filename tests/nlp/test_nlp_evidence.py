"""Evidence: every fact points at its unit, an exact character span, and audio seconds for transcripts."""

from __future__ import annotations

import pytest
from nlp_helpers import make_unit, read_jsonl

import nlp
from routewatch.core.records import Segment


def test_every_span_is_an_exact_substring_of_its_unit(extractor, data_dir) -> None:
    for g in read_jsonl(data_dir / "gold_dev.jsonl"):
        unit = make_unit(g["text"], post_id=g["id"])
        ex = extractor.extract(unit)
        facts = [*ex.countries, *ex.places, *ex.costs, *ex.bribes]
        for fact in facts:
            assert fact.evidence, (g["id"], fact)
            for ev in fact.evidence:
                assert ev.unit_id == unit.unit_id and ev.unit_kind == "caption"
                assert g["text"][ev.start : ev.end] == ev.text
                assert ev.start_sec is None and ev.end_sec is None
        for p in ex.places:
            assert p.name in g["text"] and p.evidence[0].text == p.name
        for c in ex.costs:
            assert c.text in g["text"] and c.evidence[0].text == c.text
        for b in ex.bribes:
            assert b.text in g["text"] and b.evidence[0].text == b.text


def test_transcript_facts_carry_the_seconds_they_were_spoken(extractor) -> None:
    segs = [
        Segment(0.0, 3.2, "我们先飞到基多"),
        Segment(3.2, 7.5, "然后坐大巴到伊皮亚莱斯"),
        Segment(7.5, 12.0, "车票四十美金 走线真的累"),
    ]
    unit = make_unit(kind="transcript", segments=segs, lang="zh")
    ex = extractor.extract(unit)
    assert ex.relevant
    places = {p.canonical: p.evidence[0] for p in ex.places}
    assert (places["Quito"].start_sec, places["Quito"].end_sec) == (0.0, 3.2)
    assert (places["Ipiales"].start_sec, places["Ipiales"].end_sec) == (3.2, 7.5)
    cost = ex.costs[0]
    assert (cost.amount, cost.currency, cost.kind, cost.text) == (40, "USD", "transport", "四十美金")
    ev = cost.evidence[0]
    assert unit.text[ev.start : ev.end] == "四十美金"
    assert (ev.unit_kind, ev.start_sec, ev.end_sec) == ("transcript", 7.5, 12.0)
    assert list(ex.route) == ["EC", "CO"]


def test_merge_keeps_all_evidence_and_dedupes_the_same_fact(extractor) -> None:
    caption = make_unit("到了 Necoclí，船票 160 mil pesos #走线", kind="caption", unit_id="p1:c")
    transcript = make_unit(
        kind="transcript", unit_id="p1:t",
        segments=[Segment(0.0, 4.0, "我们从基多坐大巴到了内科克利"), Segment(4.0, 9.0, "船票一百六十比索 不对 是160 mil pesos")],
    )
    merged = nlp.merge("p1", [extractor.extract(caption), extractor.extract(transcript)])
    assert merged.unit_id == "" and merged.post_id == "p1" and merged.relevant
    assert list(merged.route) == ["EC", "CO"]
    necocli = [p for p in merged.places if p.canonical == "Necoclí"]
    assert len(necocli) == 1
    assert {(e.unit_id, e.text) for e in necocli[0].evidence} == {("p1:c", "Necoclí"), ("p1:t", "内科克利")}
    big = [c for c in merged.costs if c.amount == 160000]
    assert len(big) == 1 and {e.unit_id for e in big[0].evidence} == {"p1:c", "p1:t"}
    assert any(c.amount == 160 for c in merged.costs)  # a different amount stays a separate fact
    co = next(c for c in merged.countries if c.iso == "CO")
    assert {e.unit_id for e in co.evidence} == {"p1:c", "p1:t"}


def test_extract_post_pools_relevance_across_units(extractor) -> None:
    caption = make_unit("day 12 #走线", kind="caption", unit_id="p2:c", post_id="p2")
    transcript = make_unit("从香港转机去伊斯坦布尔再到瓜亚基尔", kind="transcript", unit_id="p2:t", post_id="p2")
    alone = extractor.extract(transcript)
    # judged alone it is not relevant: its facts stay in the record but not in the gold schema / aggregates
    assert alone.relevant is False and alone.route == ("HK", "TR", "EC") and alone.to_gold()["route"] == []
    post = extractor.extract_post([caption, transcript])
    assert post.relevant and list(post.route) == ["HK", "TR", "EC"]
    assert post.provenance is not None and post.provenance.tool == "routewatch.nlp"


def test_irrelevant_unit_has_no_facts_but_keeps_provenance(extractor) -> None:
    ex = extractor.extract(make_unit("缝纫机走线歪歪扭扭，底线总打结，针距调到3"))
    assert ex.relevant is False
    assert (ex.countries, ex.route, ex.places, ex.costs, ex.bribes) == ((), (), (), (), ())
    assert ex.provenance.params_dict() == {"pack": "zouxian", "pack_version": "1.0.0"}
    assert ex.relevance_reasons[0].startswith("-3.0 against ")


def test_irrelevant_post_keeps_facts_in_record_not_in_gold(extractor) -> None:
    ex = extractor.extract(make_unit("公司派我去蒂华纳审厂，从洛杉矶开车过境，酒店一晚一千八比索"))
    assert ex.relevant is False
    assert sorted(c.iso for c in ex.countries) == ["MX", "US"] and {p.canonical for p in ex.places} == {"Tijuana", "Los Angeles"}
    assert [(c.amount, c.currency) for c in ex.costs] == [(1800.0, "MXN")]
    gold = ex.to_gold()
    assert (gold["countries"], gold["route"], gold["places"], gold["costs"], gold["bribes"]) == ([], [], [], [], [])
    assert any(r.startswith("-3.0 against 审厂") for r in ex.relevance_reasons)


def test_counters_say_what_was_kept_and_dropped() -> None:
    ex = nlp.build_extractor()
    ex.extract(make_unit("先飞土耳其再去厄瓜多尔，机票七千八 #走线", unit_id="c1"))
    ex.extract(make_unit("美洲杯厄瓜多尔对哥伦比亚，门票两百美金，进球太精彩", unit_id="c2"))
    assert ex.counters["nlp/units"] == 2
    assert (ex.counters["nlp/relevant"], ex.counters["nlp/irrelevant"]) == (1, 1)
    assert (ex.counters["nlp/facts/countries"], ex.counters["nlp/facts/costs"]) == (2, 1)
    assert ex.counters["nlp/dropped/facts_in_irrelevant"] == 3  # EC, CO and the ticket price


def test_a_failing_unit_raises_e401(monkeypatch) -> None:
    from routewatch.core.errors import Code, RouteWatchError

    ex = nlp.build_extractor()

    def boom(text, lang_hint=""):
        raise ValueError("bad input")

    monkeypatch.setattr(ex, "analyse", boom)
    with pytest.raises(RouteWatchError) as err:
        ex.extract(make_unit("x", unit_id="bad"))
    assert err.value.code == Code.E401 and ex.counters["nlp/failed"] == 1
