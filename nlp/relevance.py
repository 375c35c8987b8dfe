"""Relevance step: is this text about irregular migration routes?

In: an `Analysis` after gazetteer, money, bribes and costs; the pack's weighted cues and signals.
Out: `analysis.relevance_score` and `analysis.relevant`. A sum of evidence: slang and route words,
migrant-route places, a bribe, a guide's price, minus the hard negatives (sewing or PCB 走线, VPN
翻墙, lip balm, tourism, football, trade, Columbia University). Must never call a text relevant on
country names alone: travel through the same countries is not migration.
"""

from __future__ import annotations

from .analysis import Analysis
from .pack import Rules


def score(an: Analysis, rules: Rules) -> float:
    hits = rules.relevance.find(an.norm)
    an.relevance_hits = hits
    seen: dict[str, float] = {}
    for h in hits:
        weight = max(float(p) for p in h.payloads)
        seen[h.key] = weight  # each distinct cue counts once
    total = sum(seen.values())
    places: dict[str, float] = {}
    for m in an.mentions:
        if m.place is not None and m.place.signal:
            places[m.place.canonical] = m.place.signal
    total += sum(places.values())
    journey = {m.iso for m in an.mentions if m.journey}
    for src, dst, weight in rules.spans:
        if journey & src and journey & dst:
            total += weight  # e.g. Ecuador ... the US: the corridor itself
    sig = rules.signals
    if an.bribes:
        total += sig.get("bribe", 0.0)
    if any(c.kind == "guide" for c in an.costs):
        total += sig.get("guide_cost", 0.0)
    an.relevance_score = round(total, 3)
    an.relevant = total >= rules.relevance_threshold
    return an.relevance_score
