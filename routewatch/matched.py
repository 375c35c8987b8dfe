"""Why a post matched a search that has no words to show (`--has-bribe`, `--min-cost`, `--country`, `--route`).

In: a search `Query` and one post's stored facts (the extraction with its evidence, `Catalog.get_facts`).
Out: per filter, the fact that satisfied it with its evidence (text unit kind, the words, their seconds).
Never invents a reason: a filter whose fact cannot be found in the stored facts is left out, not guessed.
"""

from __future__ import annotations

from typing import Any

from index import query as query_lang
from index.base import Query


def is_filter_only(q: Query) -> bool:
    """True when the search has filters but no word that a snippet could show."""
    node = query_lang.parse(q.text)
    has_words = node is not None and query_lang.has_positive(node)
    has_filters = bool(q.country or q.route or q.has_bribe or q.min_cost is not None or q.max_cost is not None)
    return has_filters and not has_words


def _evidence(fact: dict[str, Any]) -> dict[str, Any] | None:
    ev = (fact.get("evidence") or [None])[0]
    if not isinstance(ev, dict) or not isinstance(ev.get("text"), str):
        return None
    return {"unit_id": ev.get("unit_id", ""), "unit_kind": ev.get("unit_kind", ""), "text": ev["text"],
            "span": [ev.get("start"), ev.get("end")], "start_sec": ev.get("start_sec"), "end_sec": ev.get("end_sec")}


def _cost_in_range(c: dict[str, Any], q: Query) -> bool:
    try:
        amount = float(c.get("amount"))
    except (TypeError, ValueError):
        return False
    if q.currency and c.get("currency") != q.currency:
        return False
    return (q.min_cost is None or amount >= q.min_cost) and (q.max_cost is None or amount <= q.max_cost)


def _country_fact(facts: dict[str, Any], iso: str) -> tuple[str, dict[str, Any]] | None:
    for m in facts.get("countries") or []:
        if isinstance(m, dict) and m.get("iso") == iso and _evidence(m):
            return "country", m
    for p in facts.get("places") or []:
        if isinstance(p, dict) and p.get("country") == iso and _evidence(p):
            return "place", p
    return None


def filter_matches(facts: dict[str, Any], q: Query) -> list[dict[str, Any]]:
    """One row per filter of `q` that a stored fact satisfies: {"filter", "fact", "value", "evidence"}."""
    rows: list[dict[str, Any]] = []
    if q.min_confidence is not None:  # the fact shown is one the search counted
        facts = {k: [x for x in v if not (isinstance(x, dict) and isinstance(x.get("confidence"), int | float)
                                          and x["confidence"] < q.min_confidence)] if isinstance(v, list) else v
                 for k, v in facts.items()}

    def add(filt: str, kind: str, value: str, fact: dict[str, Any]) -> None:
        ev = _evidence(fact)
        if ev is not None:
            rows.append({"filter": filt, "fact": kind, "value": value, "evidence": ev})

    if q.has_bribe:
        for b in facts.get("bribes") or []:
            if isinstance(b, dict) and _evidence(b):
                amount = f" {b['amount']:g} {b.get('currency') or ''}".rstrip() if isinstance(
                    b.get("amount"), int | float) else ""
                add("has_bribe", "bribe", f"{b.get('payer_context', 'other')}{amount}", b)
                break
    if q.min_cost is not None or q.max_cost is not None:
        for c in facts.get("costs") or []:
            if isinstance(c, dict) and _cost_in_range(c, q) and _evidence(c):
                add("cost", "cost", f"{float(c['amount']):g} {c.get('currency', '')} ({c.get('kind', 'other')})", c)
                break
    if q.country:
        found = _country_fact(facts, q.country)
        if found:
            add("country", found[0], q.country, found[1])
    for iso in dict.fromkeys(q.route):  # each step of the route, once
        found = _country_fact(facts, iso)
        if found:
            add("route", found[0], iso, found[1])
    return rows


def describe(row: dict[str, Any]) -> str:
    """One line for people: `bribe police 200 USD: "…" (transcript 12.0–15.5 s)`."""
    ev = row["evidence"]
    where = ev.get("unit_kind") or ""
    if ev.get("start_sec") is not None and ev.get("end_sec") is not None:
        where += f" {ev['start_sec']:.1f}–{ev['end_sec']:.1f} s"
    return f"{row['fact']} {row['value']}: \u201c{ev['text']}\u201d ({where.strip()})"
