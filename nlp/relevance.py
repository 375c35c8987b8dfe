"""Relevance step: is this text about irregular migration routes? A score with the reasons that decided it.

In: an `Analysis` after gazetteer, money, bribes, costs and route; the pack's weighted cues, signals
and story rules (relevance.yaml). Out: `analysis.relevance_score`, `analysis.relevant` and
`analysis.relevance_reasons` ("+1.5 cue 走线", "+0.5 overland leg EC>CO", "-3.0 against 阻抗"). The
story counts as much as the words: legs told between corridor countries, a long-haul flight into the
corridor, route places, a guide's price or a bribe; the hard negatives (units like 欧/Ω, tolls, tourism,
trade, football, sewing / PCB, 一带一路, 蛇头鱼) are counter-evidence. Must never call a text relevant
on country names alone: travel through the same countries is not migration.
"""

from __future__ import annotations

from .analysis import Analysis
from .pack import Rules


def _fmt(weight: float) -> str:
    return f"{weight:+.1f}"


def score(an: Analysis, rules: Rules) -> float:
    hits = rules.relevance.find(an.norm)
    an.relevance_hits = hits
    reasons: list[tuple[float, str]] = []
    seen: dict[str, float] = {}
    for h in hits:
        weight = max(float(p) for p in h.payloads)
        if h.key not in seen:
            seen[h.key] = weight  # each distinct cue counts once
            label = "cue" if weight > 0 else "against"
            heard = f" (sounds like {h.key})" if h.phonetic else ""
            reasons.append((weight, f"{label} {an.text[h.start:h.end]}{heard}"))
    total = sum(seen.values())
    places: dict[str, float] = {}
    for m in an.mentions:
        if m.place is not None and m.place.signal and m.journey:
            places[m.place.canonical] = m.place.signal
    for canon, w in places.items():
        reasons.append((w, f"route place {canon}"))
    total += sum(places.values())
    journey = {m.iso for m in an.mentions if m.journey}
    for src, dst, weight in rules.spans:
        if journey & src and journey & dst:
            total += weight  # e.g. Ecuador ... the US: the corridor itself
            reasons.append((weight, f"corridor {'/'.join(sorted(journey & src))}>{'/'.join(sorted(journey & dst))}"))
    total += _story(an, rules, reasons)
    sig = rules.signals
    if an.bribes and sig.get("bribe"):
        total += sig["bribe"]
        reasons.append((sig["bribe"], "bribe event"))
    if any(c.kind == "guide" for c in an.costs) and sig.get("guide_cost"):
        total += sig["guide_cost"]
        reasons.append((sig["guide_cost"], "price paid to a guide"))
    an.relevance_score = round(total, 3)
    an.relevant = total >= rules.relevance_threshold
    an.relevance_reasons = [f"{_fmt(w)} {why}" for w, why in sorted(reasons, key=lambda r: -abs(r[0]))]
    return an.relevance_score


def _story(an: Analysis, rules: Rules, reasons: list[tuple[float, str]]) -> float:
    """Evidence from the journey told (relevance.yaml `story`): walking for days, a stretch of the route
    named by its country, overland legs between corridor countries, a long-haul arrival into the corridor."""
    st = rules.story
    if not st:
        return 0.0
    total = 0.0
    if st.walk is not None:
        m = st.walk.search(an.norm.fold)
        if m:
            reasons.append((st.walk_weight, f"walking for days: {an.text[m.start():m.end()]}"))
            total += st.walk_weight
    if st.stretch_after:
        fold = an.norm.fold
        for m in an.mentions:
            if m.place is None and m.journey and fold.startswith(st.stretch_after, m.end):
                reasons.append((st.stretch_weight, f"a stretch of the route: {an.text[m.start:m.end]}"))
                total += st.stretch_weight
                break
    if len(an.route) < 2:
        return total
    legs = list(zip(an.route, an.route[1:], strict=False))
    overland = [(a, b) for a, b in legs if a in st.americas and b in st.americas]
    counted = overland[: st.max_legs]
    for a, b in counted:
        reasons.append((st.leg_weight, f"overland leg {a}>{b}"))
    total += st.leg_weight * len(counted)
    if any(a in st.hubs and b in st.americas for a, b in legs):
        reasons.append((st.long_haul_weight, "long-haul flight into the corridor"))
        total += st.long_haul_weight
    return total
