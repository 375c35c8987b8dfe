"""Money parser: number forms, currencies and what is not money (lexicon §4)."""

from __future__ import annotations

import pytest

import nlp


def _money(extractor: nlp.Extractor, text: str) -> list[tuple[str, float, str | None]]:
    an = extractor.analyse(text)
    return [(text[a.start : a.end], a.value, a.currency) for a in an.amounts]


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("机票两万五", [("两万五", 25000, "CNY")]),
        ("一共十八万", [("十八万", 180000, "CNY")]),
        ("车费1.1w", [("1.1w", 11000, "CNY")]),
        ("机票一万零五百", [("一万零五百", 10500, "CNY")]),
        ("机票八千二", [("八千二", 8200, "CNY")]),
        ("大巴两百块", [("两百块", 200, "CNY")]),
        ("船票90k", [("90k", 90000, "CNY")]),
        ("蛇头收了 3.5k 美金", [("3.5k 美金", 3500, "USD")]),
        ("蛇頭收了兩萬五人民幣", [("兩萬五人民幣", 25000, "CNY")]),
        ("给了一百五十 刀", [("一百五十 刀", 150, "USD")]),
        ("Pagamos cien dólares por persona", [("cien dólares", 100, "USD")]),
        ("nos cobraron doscientos cincuenta dólares", [("doscientos cincuenta dólares", 250, "USD")]),
        ("It was a hundred and fifty bucks", [("a hundred and fifty bucks", 150, "USD")]),
        ("El bus cuesta 300 a 500 dólares", [("300 a 500 dólares", 300, "USD"), ("300 a 500 dólares", 500, "USD")]),
        ("The bus to Costa Rica is US$40", [("US$40", 40, "USD")]),
        ("cost me $500 pesos in Tijuana", [("$500 pesos", 500, "MXN")]),
        ("el taxi en Bogotá 20 mil pesos", [("20 mil pesos", 20000, "COP")]),
        ("200 lucas en Necoclí", [("200 lucas", 200000, "COP")]),
        ("5千块左右", [("5千块", 5000, "CNY")]),
        ("大概要15000左右", [("15000", 15000, "CNY")]),
        ("2024年要签证，2-1赢了", []),
        ("3 hours and 40 km", []),
        ("四十个小时，八个同胞", []),
        ("上万块的手机", []),
    ],
)
def test_money_forms(extractor, text, want) -> None:
    got = _money(extractor, text)
    assert [(s, pytest.approx(v), c) for s, v, c in got] == [(s, v, c) for s, v, c in want]
