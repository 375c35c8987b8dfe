"""Every rule file of every corridor pack carries a table of cases; this one test runs them all."""

from __future__ import annotations

import pytest
from nlp_helpers import TEST_PACKS

import nlp
from nlp.pack import RULE_FILES, load_pack
from nlp.packcheck import expected, outcome

PACKS = ["zouxian", str(TEST_PACKS / "dunki")]


def _cases():
    for pack_ref in PACKS:
        pack = load_pack(pack_ref)
        for key in RULE_FILES:
            for i, case in enumerate(pack.cases(key)):
                yield pytest.param(pack_ref, key, case, id=f"{pack.name}-{key}-{i}")


_EXTRACTORS: dict[str, nlp.Extractor] = {}


def _extractor(pack_ref: str) -> nlp.Extractor:
    if pack_ref not in _EXTRACTORS:
        _EXTRACTORS[pack_ref] = nlp.build_extractor(pack=pack_ref)
    return _EXTRACTORS[pack_ref]


@pytest.mark.parametrize(("pack_ref", "file_key", "case"), list(_cases()))
def test_pack_case(pack_ref: str, file_key: str, case: dict) -> None:
    got = outcome(_extractor(pack_ref), file_key, case["text"])
    assert got == expected(file_key, case), case["text"]


def test_every_rule_file_has_cases() -> None:
    for pack_ref in PACKS:
        pack = load_pack(pack_ref)
        for key in RULE_FILES:
            assert pack.cases(key), f"{pack.name}/{key} has no cases"
