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
