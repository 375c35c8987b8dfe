"""A second corridor is a new pack folder, not new code: the tiny "dunki" pack in tests/data/packs."""

from __future__ import annotations

import nlp
from nlp.settings import ExtractSettings


def test_dunki_pack_extracts_its_own_corridor(dunki_extractor) -> None:
    text = (
        "Paid the agent 35 lakh rupees for the dunki: flew from Delhi to Dubai, then Managua, "
        "then by road to Mexico and finally the US border. Mexican police took a bribe of 200 dollars."
    )
    out = nlp.annotate_line({"id": "d1", "text": text}, dunki_extractor)
    assert out == {
        "id": "d1",
        "relevant": True,
        "countries": ["IN", "AE", "NI", "MX", "US"],
        "route": ["IN", "AE", "NI", "MX", "US"],
        "places": [
            {"name": "Delhi", "canonical": "Delhi", "country": "IN"},
            {"name": "Dubai", "canonical": "Dubai", "country": "AE"},
            {"name": "Managua", "canonical": "Managua", "country": "NI"},
        ],
        "costs": [
            {"amount": 3500000, "currency": "INR", "text": "35 lakh rupees", "kind": "guide"},
            {"amount": 200, "currency": "USD", "text": "200 dollars", "kind": "bribe"},
        ],
        "bribes": [
            {"text": "police took a bribe of 200 dollars", "payer_context": "police", "country": "MX",
             "amount": 200, "currency": "USD"},
        ],
    }
    assert dunki_extractor.extract.__func__ is nlp.Extractor.extract  # same code as zouxian


def test_packs_do_not_leak_into_each_other(dunki_extractor, extractor) -> None:
    zh = "下个月出发走线，先飞土耳其再去厄瓜多尔"
    assert nlp.annotate_line({"id": "z", "text": zh}, dunki_extractor)["relevant"] is False
    assert nlp.annotate_line({"id": "z", "text": zh}, extractor)["route"] == ["TR", "EC"]
    en = "Took the dunki route from Delhi to Dubai"
    assert nlp.annotate_line({"id": "e", "text": en}, extractor)["relevant"] is False


def test_pack_found_by_name_in_pack_dirs() -> None:
    from nlp_helpers import TEST_PACKS

    ex = nlp.build_extractor(settings=ExtractSettings(pack="dunki", pack_dirs=[str(TEST_PACKS)]))
    assert ex.pack.name == "dunki" and ex.pack.version == "0.1.0"
    assert ex.provenance().params_dict() == {"pack": "dunki", "pack_version": "0.1.0"}
