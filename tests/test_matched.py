"""A search with filters and no words says why each post matched: the fact and its words / seconds."""

from __future__ import annotations

import json
import sqlite3

import pytest

from index.base import Query
from routewatch.matched import describe, filter_matches, is_filter_only
from tests.conftest import run_cli

EV = {"unit_id": "u1", "unit_kind": "transcript", "start": 4, "end": 12, "text": "警察要了两百美金",
      "start_sec": 12.0, "end_sec": 15.5}
FACTS = {
    "countries": [{"iso": "MX", "evidence": [EV]}],
    "places": [{"name": "Necoclí", "canonical": "Necoclí", "country": "CO",
                "evidence": [{**EV, "unit_kind": "caption", "text": "Necoclí", "start_sec": None, "end_sec": None}]}],
    "costs": [{"amount": 20000, "currency": "CNY", "kind": "total", "text": "两万", "evidence": [{**EV, "text": "两万"}]},
              {"amount": 85, "currency": "USD", "kind": "transport", "text": "85美金", "evidence": [{**EV, "text": "85美金"}]}],
    "bribes": [{"text": "警察要了两百美金", "payer_context": "police", "amount": 200, "currency": "USD", "evidence": [EV]}],
}


def test_filter_only_is_filters_without_words():
    assert is_filter_only(Query(has_bribe=True))
    assert is_filter_only(Query(text="NOT tapachula", country="MX"))  # a NOT shows no word either
    assert not is_filter_only(Query(text="darien", has_bribe=True))
    assert not is_filter_only(Query())


def test_each_filter_names_its_fact_and_evidence():
    rows = filter_matches(FACTS, Query(has_bribe=True, min_cost=50, max_cost=100, currency="USD",
                                       country="MX", route=("CO", "MX")))
    got = [(r["filter"], r["fact"], r["value"], r["evidence"]["text"]) for r in rows]
    assert got == [("has_bribe", "bribe", "police 200 USD", "警察要了两百美金"),
                   ("cost", "cost", "85 USD (transport)", "85美金"),  # the cost in range, not the first cost
                   ("country", "country", "MX", "警察要了两百美金"),
                   ("route", "place", "CO", "Necoclí"),  # no country mention of CO: the place in CO
                   ("route", "country", "MX", "警察要了两百美金")]
    assert describe(rows[0]) == "bribe police 200 USD: \u201c警察要了两百美金\u201d (transcript 12.0–15.5 s)"


def test_no_reason_is_invented():
    assert filter_matches({"bribes": [{"payer_context": "police", "evidence": []}]}, Query(has_bribe=True)) == []
    assert filter_matches(FACTS, Query(min_cost=1, max_cost=10)) == []
    assert filter_matches({"costs": "broken"}, Query(min_cost=1)) == []


@pytest.mark.slow
def test_cli_filter_only_search_shows_why(demo_run):
    data, _ = demo_run
    cp = run_cli("search", "", "--has-bribe", "--json", data_dir=data)
    hits = json.loads(cp.stdout)["hits"]
    assert hits
    con = sqlite3.connect(data / "catalog.sqlite")
    for h in hits:
        assert h["matched"] and h["matched"][0]["fact"] == "bribe", h
        ev = h["matched"][0]["evidence"]
        unit = con.execute("SELECT text FROM units WHERE unit_id=?", (ev["unit_id"],)).fetchone()
        assert unit is not None and ev["text"] in unit[0]  # the words shown are the post's own words
    con.close()
    human = run_cli("search", "", "--has-bribe", data_dir=data, env={"COLUMNS": "80"}).stdout
    assert human.count("matched: bribe") == len(hits)
    words = run_cli("search", "policía", "--has-bribe", "--json", data_dir=data)
    assert all("matched" not in h for h in json.loads(words.stdout)["hits"])  # words are their own snippet


def test_a_fact_below_the_asked_confidence_is_not_the_one_shown():
    facts = {**FACTS, "countries": [{"iso": "MX", "confidence": 0.4, "evidence": [EV]}],
             "places": [{"name": "Tijuana", "canonical": "Tijuana", "country": "MX", "confidence": 0.9,
                         "evidence": [{**EV, "text": "Tijuana"}]}]}
    assert [(r["fact"], r["evidence"]["text"]) for r in filter_matches(facts, Query(country="MX"))] == [
        ("country", "警察要了两百美金")]
    assert [(r["fact"], r["evidence"]["text"]) for r in filter_matches(facts, Query(country="MX", min_confidence=0.5))] == [
        ("place", "Tijuana")]
    assert filter_matches(facts, Query(country="MX", min_confidence=0.95)) == []
