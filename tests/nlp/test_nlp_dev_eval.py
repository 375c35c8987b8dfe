"""The acceptance numbers: the extractor scored on the dev gold files (written and spoken)."""

from __future__ import annotations

import pytest
from nlp_helpers import read_jsonl

import nlp
from nlp import evaluate

WRITTEN = {
    ("relevant", "f1"): 0.95,
    ("countries", "f1"): 0.95,
    ("places", "f1"): 0.90,
    ("legs", "f1"): 0.85,
    ("route_exact", "score"): 0.75,
    ("costs", "f1"): 0.90,
    ("cost_kind", "score"): 0.85,
    ("bribes", "f1"): 0.85,
}
SPOKEN = {
    ("relevant", "f1"): 0.85,
    ("countries", "f1"): 0.85,
    ("legs", "f1"): 0.70,
    ("costs", "f1"): 0.70,
    ("bribes", "f1"): 0.70,
}


def _check(scores: dict, thresholds: dict, report: str) -> None:
    low = {f"{field}.{key}": scores[field][key] for (field, key), t in thresholds.items() if scores[field][key] < t}
    assert not low, f"below threshold: {low}\n{report}"


def test_written_dev_meets_thresholds(extractor, data_dir) -> None:
    gold = read_jsonl(data_dir / "gold_dev.jsonl")
    assert len(gold) == 30
    scores, misses, _ = evaluate.run(gold, lambda o: nlp.annotate_line(o, extractor))
    _check(scores, WRITTEN, evaluate.report(scores, misses))


def test_spoken_dev_meets_thresholds(extractor, data_dir) -> None:
    spoken = {r["id"]: r["spoken_text"] for r in read_jsonl(data_dir / "audio_dev" / "manifest.jsonl")}
    gold = read_jsonl(data_dir / "gold_dev_spoken.jsonl")
    for g in gold:
        g["text"] = spoken[g["id"]]  # what was synthesised, i.e. what a perfect ASR would return
    scores, misses, _ = evaluate.run(gold, lambda o: nlp.annotate_line(o, extractor))
    _check(scores, SPOKEN, evaluate.report(scores, misses))


@pytest.mark.parametrize("field", ["countries", "places", "costs", "bribes"])
def test_irrelevant_dev_posts_have_no_facts(extractor, data_dir, field) -> None:
    for g in read_jsonl(data_dir / "gold_dev.jsonl"):
        if not g["relevant"]:
            out = nlp.annotate_line(g, extractor)
            assert out["relevant"] is False, g["id"]
            assert out[field] == [], g["id"]


# Issue 15: the second dev set (no keywords, the 2024 route, negation, hard negatives, long posts).
WRITTEN_V2 = {
    ("relevant", "f1"): 0.95,
    ("countries", "f1"): 0.95,
    ("places", "f1"): 0.90,
    ("legs", "f1"): 0.90,
    ("route_exact", "score"): 0.80,
    ("costs", "f1"): 0.95,
    ("cost_kind", "score"): 0.85,
    ("bribes", "f1"): 0.90,
    ("bribes", "p"): 0.90,
}


def test_written_dev_v2_meets_thresholds(extractor, data_dir) -> None:
    gold = read_jsonl(data_dir / "gold_dev_v2.jsonl")
    assert len(gold) == 40
    scores, misses, _ = evaluate.run(gold, lambda o: nlp.annotate_line(o, extractor))
    _check(scores, WRITTEN_V2, evaluate.report(scores, misses))


def test_dev_v2_hard_negatives_are_irrelevant_with_no_facts(extractor, data_dir) -> None:
    import json

    groups = json.loads((data_dir / "gold_dev_v2.categories.json").read_text(encoding="utf-8"))
    negatives = [g for g in read_jsonl(data_dir / "gold_dev_v2.jsonl") if groups[g["id"]] == "hard_negative"]
    assert len(negatives) == 12
    for g in negatives:
        out = nlp.annotate_line(g, extractor)
        assert out["relevant"] is False, g["id"]
        assert [out[f] for f in ("countries", "route", "places", "costs", "bribes")] == [[]] * 5, g["id"]
