"""Running a pack's case tables: the sentence in, what the rule file promises out.

In: an extractor built on the pack, a rule-file key (countries, places, ...) and one case's text.
Out: the component's result in the same shape as the case's `expect` (or `relevant` / `route`), so a
parametrised test (and a pack author) can compare them. Must never change what the extractor does.
"""

from __future__ import annotations

from typing import Any

from .analysis import Analysis
from .extractor import Extractor


def _num(x: float | None) -> float | int | None:
    if x is None:
        return None
    return int(x) if float(x).is_integer() else x


def outcome(extractor: Extractor, file_key: str, text: str) -> Any:
    an: Analysis = extractor.analyse(text)
    if file_key == "countries":
        return [[text[m.start : m.end], m.iso] for m in an.mentions if m.journey and m.place is None]
    if file_key == "places":
        return [[text[m.start : m.end], m.place.canonical] for m in an.mentions if m.journey and m.place is not None]
    if file_key in ("currency", "numbers"):
        return [[text[a.start : a.end], _num(a.value), a.currency] for a in an.amounts]
    if file_key == "costs":
        return [[text[c.amount.start : c.amount.end], _num(c.amount.value), c.amount.currency, c.kind] for c in an.costs]
    if file_key == "bribes":
        return [
            [b.payer, b.country, _num(b.amount.value) if b.amount else None, b.amount.currency if b.amount else None]
            for b in an.bribes
        ]
    if file_key == "relevance":
        return an.relevant
    if file_key == "route":
        return list(an.route)
    raise ValueError(f"no case runner for rule file {file_key!r}")


def expected(file_key: str, case: dict[str, Any]) -> Any:
    """The case's promise, normalised for comparison (YAML may read a numeric span as a number)."""
    if file_key == "relevance":
        return bool(case["relevant"])
    if file_key == "route":
        return [str(x) for x in case["route"]]
    rows = case.get("expect") or []
    if file_key in ("countries", "places"):
        return [[str(r[0]), str(r[1])] for r in rows]
    if file_key in ("currency", "numbers", "costs"):
        return [[str(r[0]), _num(float(r[1])), *r[2:]] for r in rows]
    if file_key == "bribes":
        return [[r[0], r[1], _num(float(r[2])) if r[2] is not None else None, r[3]] for r in rows]
    raise ValueError(f"no case runner for rule file {file_key!r}")
