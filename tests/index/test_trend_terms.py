"""The trend terms' case table (nlp/packs/<default pack>/trend_terms.yaml `cases:`): text -> the terms the SQLite
index counts in it for `trends --field term`, through the index's own matcher."""

from __future__ import annotations

import pytest

from index.sqlite_fts import SqliteIndex, normalise
from routewatch.core.packs import pack_data

CASES = pack_data("trend_terms")["cases"]


@pytest.fixture(scope="module")
def idx(tmp_path_factory):
    ix = SqliteIndex(tmp_path_factory.mktemp("terms") / "index.sqlite")
    yield ix
    ix.close()


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:20] for c in CASES])
def test_trend_term_case(idx, case):
    assert idx._terms_in([normalise(case["text"])]) == case["terms"]


def test_every_case_term_is_a_trend_term():
    terms = set(pack_data("trend_terms")["terms"])
    assert {t for c in CASES for t in c["terms"]} <= terms
