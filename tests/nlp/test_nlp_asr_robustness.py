"""ASR-like text: Traditional characters, homophones, no punctuation, numbers as digits or characters."""

from __future__ import annotations

import pytest

import nlp


def _gold(extractor, text: str) -> dict:
    return nlp.annotate_line({"id": "a", "text": text}, extractor)


@pytest.mark.parametrize(
    "text",
    [
        "麦德林去内科克利的路上，警察检查站要每人五万比索，说不给就送移民局。塞了钱立马放行。",
        "麥德林去內科克利的路上，警察檢查站要每人五萬比索，說不給就送移民局。塞了錢立馬放行。",  # Traditional
        "麦德林去内科克利的路上 警察检查站要每人五万比索 说不给就送移民局 塞了钱立马放行",  # segments, no punctuation
        "麦德林去内科克利的路上警察检查站要每人50000比索说不给就送移民局塞了钱立马放行",  # digits, one run
        "麦德林去内克克利的路上 警查检查站要每人五万比锁 说不给就送移民局 塞了钱立马放行",  # homophones
    ],
)
def test_same_bribe_whatever_the_transcript_looks_like(extractor, text) -> None:
    out = _gold(extractor, text)
    assert out["relevant"] is True
    assert out["countries"] == ["CO"] and out["route"] == ["CO"]
    assert [p["canonical"] for p in out["places"]] == ["Medellín", "Necoclí"]
    assert [(b["payer_context"], b["country"]) for b in out["bribes"]] == [("police", "CO")]
    for fact in out["places"] + out["costs"] + out["bribes"]:
        assert (fact.get("name") or fact["text"]) in text


@pytest.mark.parametrize(
    ("text", "countries", "places"),
    [
        ("俄瓜多尔落地以后坐大巴到哥轮比亚 达连与林走了三天", ["EC", "CO", "PA"], ["Darién Gap"]),
        ("從香港轉機去伊斯坦堡再到瓜亞基爾 走線第一天", ["HK", "TR", "EC"], ["Hong Kong", "Istanbul", "Guayaquil"]),
        ("终于到了哈坤巴温泉 边境巡逻队发了手环", ["US"], ["Jacumba Hot Springs"]),
        ("从特昆乌曼坐木筏过河到塔帕秋拉 五十比索", ["GT", "MX"], ["Tecún Umán", "Tapachula"]),
    ],
)
def test_homophones_and_traditional_names(extractor, text, countries, places) -> None:
    out = _gold(extractor, text)
    assert out["relevant"] is True
    assert out["countries"] == countries and out["route"] == countries
    assert [p["canonical"] for p in out["places"]] == places
    assert all(p["name"] in text for p in out["places"])


def test_spoken_amounts_in_digits_and_characters(extractor) -> None:
    out = _gold(extractor, "危地马拉城到边境特昆乌曼的大巴一人150格查尔 过河到墨西哥那边坐木筏 五十比索")
    assert [(c["amount"], c["currency"], c["kind"]) for c in out["costs"]] == [(150, "GTQ", "transport"), (50, "MXN", "transport")]


# Issue 15: sound-alikes around numbers and in longer names, each with a lower confidence.
@pytest.mark.parametrize(
    ("text", "costs"),
    [
        ("墨西哥那段被假警察拦车 每人要五百必索才放行", [(500, "MXN")]),  # 必索 ~ 比索 after a number
        ("在国内一个月挣六千 防带就要四千五 扛不住了", []),  # 防带 ~ 房贷: not a journey cost
        ("走线直接飞萨尔瓦多 基票两万三", [(23000, "CNY")]),  # 基票 ~ 机票 makes a bare amount a price
        ("小卡片上写着走线一条龙 九八零零美金 包到美墙", [(9800, "USD")]),  # digits read one by one
    ],
)
def test_sound_alike_money_words(extractor, text, costs) -> None:
    out = _gold(extractor, text)
    assert [(c["amount"], c["currency"]) for c in out["costs"]] == costs


def test_longer_names_survive_two_misheard_characters_with_lower_confidence(extractor) -> None:
    from tests.nlp.nlp_helpers import make_unit

    ex = extractor.extract(make_unit("走线到了威迪马拉城 又在哀尔帕所关了五天", kind="transcript"))
    got = {p.canonical: (p.name, p.confidence) for p in ex.places}
    assert got == {"Guatemala City": ("威迪马拉城", 0.45), "El Paso": ("哀尔帕所", 0.45)}
    # an exact name plus one odd character is that name and the next word, not a longer name
    assert _gold(extractor, "從宏都拉斯進瓜地馬拉以後走了三天")["places"] == []
