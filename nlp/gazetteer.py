"""Gazetteer step: countries, places and nationality words, with canonical ids.

In: an `Analysis` (normalised text) and the pack's compiled `Rules`. Out: `analysis.mentions`
(countries and places, marked journey or not) and `analysis.adjectives` (nationality words).
Must never turn a nationality word, a trap (哥伦比亚大学, Darién National Park), an unconfirmed
ambiguous name, a policy's cause (因为厄瓜多尔不免签了) or a comparison (比以前直接飞基多) into a journey mention.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .analysis import Analysis, Mention
from .pack import Rules
from .spans import KindIndex
from .text import span_index

_RI_BASE = 0x1F1E6  # REGIONAL INDICATOR SYMBOL LETTER A
_ANY_RI = re.compile("[\U0001F1E6-\U0001F1FF]")


def _flags(text: str, known: dict) -> list[Mention]:
    if not _ANY_RI.search(text):
        return []  # most texts have no flag: skip the walk over every character
    out = []
    i = 0
    n = len(text)
    while i < n - 1:
        a, b = ord(text[i]) - _RI_BASE, ord(text[i + 1]) - _RI_BASE
        if 0 <= a < 26 and 0 <= b < 26:
            iso = chr(65 + a) + chr(65 + b)
            if iso in known:
                out.append(Mention(i, i + 2, iso))
            i += 2
        else:
            i += 1
    return out


def _near_cue(cues: KindIndex, kind: str, pos: int, before: bool, gap: int = 2) -> bool:
    """A route cue of `kind` ending just before `pos` (or starting just after it)."""
    if before:
        return bool(cues[kind].ending(pos - gap, pos))
    return cues[kind].any_starting(pos, pos + gap + 1)


def _contains(fold: str) -> Callable[[str], bool]:
    """`word in fold`, each word searched once per text (a dense text names the same place 1000s of times)."""
    seen: dict[str, bool] = {}

    def has(word: str) -> bool:
        got = seen.get(word)
        if got is None:
            got = seen[word] = word in fold
        return got

    return has


def find_mentions(an: Analysis, rules: Rules) -> None:
    norm = an.norm
    fold = norm.fold
    route_hits = rules.route.find(norm)
    an.route_hits = route_hits
    has_departure = any(p[0] == "origin_departure" for h in route_hits for p in h.payloads)
    cues = KindIndex(route_hits)
    has = _contains(fold) if len(fold) > 2000 else fold.__contains__
    mentions: list[Mention] = []
    adjectives: list[Mention] = []
    for hit in rules.geo.find(norm):
        kinds = {p[0] for p in hit.payloads}
        if "trap" in kinds:
            continue
        if "adj" in kinds:
            iso = next(p[1] for p in hit.payloads if p[0] == "adj")
            adjectives.append(Mention(hit.start, hit.end, iso, journey=False))
            continue
        place = next((p[1] for p in hit.payloads if p[0] == "place"), None)
        if place is not None:
            if place.requires and not any(has(t) for t in place.requires):
                continue
            if place.unless and any(has(t) for t in place.unless):
                continue
            mentions.append(Mention(hit.start, hit.end, place.country, place=place, journey=not place.journey_only,
                                    sounds_like=hit.key if hit.phonetic else ""))
            continue
        always = next((p[1] for p in hit.payloads if p[0] == "always"), None)
        if always:  # 遣返回国: a return / deportation landing
            mentions.append(Mention(hit.start, hit.end, always, deport=True, sounds_like=hit.key if hit.phonetic else ""))
            continue
        iso = next((p[1] for p in hit.payloads if p[0] == "country"), None)
        if iso is None:
            continue
        tail = fold[hit.end : hit.end + 6]
        if any(tail.startswith(s) for s in rules.modifier_suffixes):
            adjectives.append(Mention(hit.start, hit.end, iso, journey=False))
            continue
        cdef = rules.countries.get(iso)
        mentions.append(Mention(hit.start, hit.end, iso, journey=not (cdef and cdef.journey_only),
                                sounds_like=hit.key if hit.phonetic else ""))
    if rules.flags:
        mentions += _flags(norm.text, rules.countries)
        mentions.sort(key=lambda m: m.start)

    # A country named only as the cause of a policy ("因为厄瓜多尔不免签了", "after Ecuador brought back
    # visas"): not a journey country unless a travel word leads straight to it.
    if cues["policy_cause"].items:
        for m in mentions:
            if m.place is not None or not m.journey:
                continue
            cl = an.clauses[span_index(an.clauses, m.start)]
            if cues["policy_cause"].any_starting(cl[0], cl[1]) and not cues.any_of(("forward", "arrive", "from")).any_inside(
                max(cl[0], m.start - 4), m.start
            ):
                m.journey = False

    # "比以前直接飞基多贵了一倍": a place named only to compare with the old route is not on this journey.
    if cues["comparison"].items:
        for m in mentions:
            if m.journey and cues["comparison"].ending(m.start - 8, m.start):
                m.journey = False

    # "被遣返的那班飞机从德州直飞福州", "deported on a charter from El Paso to Guangzhou": in a sentence about
    # deportation, the home country or city a flight goes to is the landing.
    if cues["deport_context"].items:
        for m in mentions:
            home = (m.place is not None and m.place.journey_only) or (
                m.place is None and (cdef := rules.countries.get(m.iso)) is not None and cdef.journey_only
            )
            if not home or m.deport:
                continue
            sent = an.sents[span_index(an.sents, m.start)]
            if cues["deport_context"].any_starting(sent[0], sent[1]) and _near_cue(cues, "forward", m.start, before=True, gap=3):
                m.deport = True
                m.journey = True

    # Deportation landings, and departure points for journey_only names (China, Chinese cities).
    first_journey = True
    for m in mentions:
        if _near_cue(cues, "deport", m.start, before=True, gap=3):
            m.deport = True
            m.journey = True
        elif not m.journey:
            if _near_cue(cues, "origin_before", m.start, before=True) or _near_cue(
                cues, "origin_after", m.end, before=False
            ):
                m.journey = True
            elif first_journey and has_departure and m.place is None:
                # "在国内…下个月出发走线，先飞土耳其": the home country named before any other stop.
                m.journey = True
        if m.journey:
            first_journey = False
    an.mentions = mentions
    an.adjectives = adjectives
