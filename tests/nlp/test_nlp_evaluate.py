"""The scorer implements SPEC §5 exactly: micro P/R/F1 over (post, item) pairs and the shares."""

from __future__ import annotations

from nlp import evaluate


def _row(pid, **kw):
    base = {"id": pid, "relevant": True, "countries": [], "route": [], "places": [], "costs": [], "bribes": []}
    base.update(kw)
    return base


def test_micro_scores_and_missing_prediction_counts_as_empty() -> None:
    gold = [
        _row("a", countries=["EC", "CO"], route=["EC", "CO", "PA"],
             places=[{"name": "Necoclí", "canonical": "Necoclí", "country": "CO"}],
             costs=[{"amount": 55, "currency": "USD", "text": "55 dólares", "kind": "transport"}],
             bribes=[{"text": "x", "payer_context": "police", "country": "CO", "amount": 10, "currency": "USD"}]),
        _row("b", countries=["MX"], route=["MX"]),
        _row("c", relevant=False),
    ]
    pred = [
        _row("a", countries=["EC", "PA"], route=["EC", "CO"],
             places=[{"name": "Necocli", "canonical": "necocli", "country": "CO"}],
             costs=[{"amount": 55.001, "currency": "USD", "text": "55", "kind": "guide"}],
             bribes=[]),
        _row("c", relevant=True),
    ]
    s = evaluate.score(gold, pred)
    assert s["relevant"] == {"p": 0.5, "r": 0.5, "f1": 0.5, "tp": 1, "fp": 1, "fn": 1}
    assert (s["countries"]["tp"], s["countries"]["fp"], s["countries"]["fn"]) == (1, 1, 2)
    assert s["places"]["f1"] == 1.0  # accents and case folded
    assert (s["legs"]["tp"], s["legs"]["fp"], s["legs"]["fn"]) == (1, 0, 1)
    assert s["route_exact"] == {"score": 0.0, "n": 2}
    assert s["costs"]["f1"] == 1.0 and s["cost_kind"] == {"score": 0.0, "n": 1}
    assert (s["bribes"]["tp"], s["bribes"]["fn"]) == (0, 1)
    assert s["bribe_amounts"]["fn"] == 1


def test_report_lists_misses_per_post() -> None:
    gold = [_row("dev-x", countries=["CO"], route=["EC", "CO"])]
    pred = [_row("dev-x", countries=["PA"], route=["CO", "EC"])]
    text = evaluate.report(evaluate.score(gold, pred), evaluate.misses(gold, pred))
    assert "dev-x" in text
    assert "countries -['CO']" in text and "countries +['PA']" in text
    assert "route: gold EC>CO pred CO>EC" in text


def test_scores_per_category_and_misses_grouped_by_cause() -> None:
    gold = [
        _row("p1", countries=["EC", "CO"], route=["EC", "CO"],
             costs=[{"amount": 25, "currency": "USD", "text": "25", "kind": "transport"}]),
        _row("p2", countries=["MX"], route=["MX"]),
        _row("n1", relevant=False),
    ]
    pred = [
        _row("p1", countries=["EC", "CO"], route=["CO", "EC"],
             costs=[{"amount": 25, "currency": "USD", "text": "25", "kind": "guide"}]),
        _row("p2", relevant=False),
        _row("n1", countries=["PA"], route=["PA"]),
    ]
    groups = evaluate.by_category(gold, pred, {"p1": "plain", "p2": "plain", "n1": "hard_negative"})
    assert list(groups) == ["plain", "hard_negative"]
    assert groups["plain"]["n_posts"] == 2 and groups["plain"]["countries"]["f1"] == 0.8
    assert groups["hard_negative"]["relevant"] == {"p": 0.0, "r": 1.0, "f1": 0.0, "tp": 0, "fp": 1, "fn": 0}
    causes = evaluate.causes(gold, pred)
    assert causes["post judged irrelevant (its facts lost)"] == ["p2"]
    assert causes["irrelevant post judged relevant (its facts added)"] == ["n1"]
    assert causes["cost kind"] == ["p1: cost kind 25 USD: gold transport pred guide"]
    assert causes["route order or extent"] == ["p1: route: gold EC>CO pred CO>EC"]
    text = evaluate.report(evaluate.score(gold, pred), None, groups, causes)
    assert "per category" in text and "  hard_negative    1 " in text and "misses by cause:" in text
