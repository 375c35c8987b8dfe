"""How sure a fact is: one number in [0, 1] with the reasons, from where and how it was found.

In: the text unit a fact came from (its kind and, for transcripts, the ASR segments' confidence), the
character span, and what the rule did (a pinyin sound-alike, a default currency, a bribe named by one
cue word). Out: (confidence, why) pairs; `corroborate` raises a fact found in two or more units of a
post; `for_aggregates` leaves out what is below the aggregates' threshold. Must never read anything but
its arguments: the numbers are the same for the same input.
"""

from __future__ import annotations

import math
from dataclasses import replace

from routewatch.core.records import Extraction, TextUnit

# Written by the poster > burned-in or uploaded subtitles > speech recognised by a model.
KIND_BASE = {"caption": 0.9, "subtitle": 0.85, "ocr": 0.75, "onscreen": 0.75, "transcript": 0.75, "comment": 0.6}
SOUNDS_LIKE = 0.6  # a name matched through its pinyin only (ASR homophone)
DEFAULT_CURRENCY = 0.85  # no currency written: the country / language default was used
CUE_ONLY_BRIBE = 0.85
AMBIGUOUS_NAME = 0.9  # a name that is also something else (Santa Cruz, Cali, 德州), kept by its context  # a bribe told by one idiom, with no actor and no amount
LOW = 0.5  # below this a fact is "low confidence": aggregates leave it out by default


def unit_base(unit: TextUnit) -> tuple[float, str]:
    base = KIND_BASE.get(unit.kind, 0.7)
    return base, f"{unit.kind} {base:.2f}"


def asr_factor(unit: TextUnit, start: int, end: int) -> tuple[float, str] | None:
    """The recogniser's own confidence for the words of the span (mean token probability of the
    segments covering it, and their no-speech probability), or None when the unit has none."""
    probs = []
    for s, e, seg in unit.segment_offsets():
        if s < end and e > start and seg.avg_logprob is not None:
            p = math.exp(min(0.0, seg.avg_logprob))
            if seg.no_speech_prob is not None:
                p *= 1.0 - 0.5 * max(0.0, min(1.0, seg.no_speech_prob))
            probs.append(p)
    if not probs:
        return None
    p = max(0.3, min(1.0, min(probs) ** 0.5))  # sqrt: whisper's avg prob of a clear sentence is ~0.7-0.8
    return p, f"ASR words {p:.2f}"


def fact_confidence(unit: TextUnit, start: int, end: int, rule: list[tuple[float, str]] | None = None) -> tuple[float, tuple[str, ...]]:
    conf, why = unit_base(unit)
    reasons = [why]
    asr = asr_factor(unit, start, end) if unit.segments else None
    if asr is not None:
        conf *= asr[0]
        reasons.append(asr[1])
    for factor, text in rule or ():
        conf *= factor
        reasons.append(f"{text} x{factor:.2f}")
    return round(conf, 3), tuple(reasons)


def corroborate(confs: list[float], n_units: int) -> tuple[float, str | None]:
    """Confidence of one fact told by several units: each unit is a separate witness."""
    if n_units < 2 or not confs:
        return (max(confs) if confs else 0.0), None
    miss = 1.0
    for c in confs:
        miss *= 1.0 - c
    c = round(min(0.99, 1.0 - miss), 3)
    return c, f"corroborated by {n_units} units"


def for_aggregates(ex: Extraction, min_confidence: float = LOW) -> Extraction:
    """The extraction as aggregates should count it: facts below `min_confidence` left out (a country
    only a mis-heard word supports leaves the route too, so no leg rests on it). The catalog keeps the
    full extraction; this is what its gold schema (trends, route map, digest) is made from."""
    if min_confidence <= 0:
        return ex
    low = {c.iso for c in ex.countries if c.confidence < min_confidence}
    return replace(
        ex,
        countries=tuple(c for c in ex.countries if c.iso not in low),
        route=tuple(iso for iso in ex.route if iso not in low),
        places=tuple(p for p in ex.places if p.confidence >= min_confidence and p.country not in low),
        costs=tuple(c for c in ex.costs if c.confidence >= min_confidence),
        bribes=tuple(b for b in ex.bribes if b.confidence >= min_confidence),
    )
