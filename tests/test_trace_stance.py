"""The stance cue table (the corridor pack's trace_stance.yaml `cases:`): claim + post text -> stance and deciding words,
through the real claim parser and the real extractor (CONVENTIONS §7: every rule file has its cases)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import yaml

from routewatch.core.records import TextUnit
from routewatch.trace import STANCE_FILE, fold, parse_claim, stance_of

CASES = yaml.safe_load(STANCE_FILE.read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module")
def extractor():
    import nlp

    return nlp.build_extractor()


@pytest.mark.parametrize("case", CASES, ids=[f"{c['stance']}:{c['text'][:24]}" for c in CASES])
def test_stance_case(case, extractor):
    unit = TextUnit(unit_id="p:caption", post_id="p", kind="caption", text=case["text"])
    facts = json.loads(json.dumps(asdict(extractor.extract_post([unit])), default=str))
    info = parse_claim(case["claim"], extractor)
    got = stance_of(info, [{"unit_id": unit.unit_id, "kind": "caption", "text": unit.text, "segments_json": None}],
                    facts)
    assert got["label"] == case["stance"], got
    assert [fold(w) for w in got["words"]] == [fold(w) for w in case["words"]], got
    # the deciding words are the post's own text at the spans given
    for w, (a, b) in zip(got["words"], got["spans"], strict=True):
        assert case["text"][a:b] == w
