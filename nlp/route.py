"""Route step: the journey countries in the order the text tells them.

In: an `Analysis` with journey mentions and route-cue hits; the pack's corridor order and cues.
Out: `analysis.countries` (journey countries) and `analysis.route`. Explicit order in the text
(X到Y, from X to Y, desde X hasta Y, then, luego, 过X之前在Y) wins; where the text gives none, the
corridor's stage order, then order of mention. Must never put a country in the route that is not a
journey mention, and leaves the route empty for adverts, scam warnings and policy news. A sentence
opened by "before that" / 再往前 tells what came before the one preceding it (stories told backwards).
"""

from __future__ import annotations

from .analysis import Analysis, Mention
from .lexmatch import Hit
from .pack import Rules
from .spans import KindIndex
from .text import span_index

_GAP = 30  # max characters between two mentions for a connector to link them
_LEAD = {"zh": 5}  # the connector ends at most this many characters before the next country
_LEAD_DEFAULT = 14


def _cue_in(cues: KindIndex, kinds: tuple[str, ...], lo: int, hi: int) -> bool:
    return cues.any_of(kinds).any_inside(lo, hi)


def _cues(cues: KindIndex, kind: str, lo: int, hi: int) -> list[Hit]:
    return cues[kind].inside(lo, hi)


def _reaches(edges: dict[str, set[str]], a: str, b: str) -> bool:
    seen, stack = set(), [a]
    while stack:
        x = stack.pop()
        if x == b:
            return True
        if x in seen:
            continue
        seen.add(x)
        stack.extend(edges.get(x, ()))
    return False


def order(an: Analysis, rules: Rules) -> None:
    hits = an.route_hits if an.route_hits is not None else rules.route.find(an.norm)
    cues = KindIndex(hits)  # the cues in a window by bisection: dense texts have thousands
    journey = [m for m in an.mentions if m.journey]
    main = [m for m in journey if not m.deport]
    first_pos: dict[str, int] = {}
    for m in main:
        first_pos.setdefault(m.iso, m.start)
    deported = [m.iso for m in journey if m.deport]
    countries = list(dict.fromkeys([*first_pos, *deported]))

    # Candidate constraints (strength, before, after); the strongest are added first and one that
    # would close a cycle is dropped, so a topic mention ("因为厄瓜多尔的新政策，我们改飞玻利维亚…")
    # cannot overrule the legs told step by step.
    candidates: list[tuple[int, str, str]] = []
    reach = _LEAD.get(an.lang, _LEAD_DEFAULT)
    for x, y in zip(main, main[1:], strict=False):
        if x.iso == y.iso or y.start - x.end > _GAP:
            continue
        if span_index(an.sents, x.start) != span_index(an.sents, y.start):
            continue
        # The connector must introduce y ("X到Y", "X，再飞Y", "from X to Y", "X, then Y"): a word after
        # X that only dates something ("到了美国之后才知道，在墨西哥…") orders nothing.
        if _cue_in(cues, ("forward", "arrive"), max(x.end, y.start - reach), y.start):
            candidates.append((y.start - x.end, x.iso, y.iso))
    for i, x in enumerate(main):
        si = span_index(an.sents, x.start)
        sent = an.sents[si]
        # "过达林之前在哥伦比亚": the country before 之前 comes after the ones told next.
        after_before = any(
            not h.key.isascii() for h in _cues(cues, "before", x.end, min(x.end + 6, sent[1]))
        )  # 之前 / 以前 follow the country
        lead_before = any(
            h.key.isascii() for h in _cues(cues, "before", max(sent[0], x.start - 16), x.start)
        )  # "before" / "antes de" precede it
        if after_before or lead_before:
            for j in range(i + 1, len(main)):  # no slice: a copy of the rest per mention is quadratic
                y = main[j]
                if y.start >= sent[1]:
                    break
                candidates.append((0, y.iso, x.iso))
        # "Llegamos a Tapachula desde Tecún Umán": the country right after an arrival, introduced by
        # "from" in the same clause, came first ("然后从秘鲁进厄瓜多尔" is a plain forward leg).
        if i and _cue_in(cues, ("from",), max(sent[0], x.start - 6), x.start):
            y = main[i - 1]
            same_clause = span_index(an.clauses, y.start) == span_index(an.clauses, x.start)
            if y.iso != x.iso and same_clause and _cue_in(cues, ("arrive",), max(sent[0], y.start - reach - 4), y.start):
                candidates.append((0, x.iso, y.iso))
    # "Before that, Quito…" / "再往前是…": the countries of this sentence came before those of the last one.
    earlier = cues["earlier"]
    if earlier.items:
        for si in range(1, len(an.sents)):
            sent, prev = an.sents[si], an.sents[si - 1]
            here = [m for m in main if sent[0] <= m.start < sent[1]]
            if not here or not earlier.any_inside(sent[0], here[0].start):
                continue
            for y in here:
                for x in main:
                    if prev[0] <= x.start < prev[1] and x.iso != y.iso:
                        candidates.append((0, y.iso, x.iso))
    edges: dict[str, set[str]] = {}
    for _, a, b in sorted(candidates, key=lambda c: c[0]):
        if a != b and not _reaches(edges, b, a):
            edges.setdefault(a, set()).add(b)

    # A policy named as the cause of a journey ("desde que Ecuador exige visa… vuelan a Santa Cruz") is no
    # advert: it empties the route only when nothing at all is linked.
    kinds_of = [{p[0] for p in h.payloads} for h in hits]
    no_journey = any("no_journey" in k and "policy_cause" not in k for k in kinds_of)
    policy_only = not no_journey and any("no_journey" in k for k in kinds_of)
    an.countries = countries
    n_links = sum(len(v) for v in edges.values())
    # "到了蒂华纳…到了美国这边": arrivals told by the narrator are a journey even beside an advert word (包过)
    arrivals = cues["arrive"]
    narrated = sum(1 for m in main if arrivals.ending(m.start - 3, m.start)) >= 2
    if (no_journey and n_links < 2 and not narrated) or (policy_only and n_links == 0 and not narrated):
        # An advert, scam warning or policy note that names places without telling a journey. A
        # post that also narrates several legs ("政策变了，我们改飞玻利维亚，再坐车到秘鲁…") keeps its route.
        an.route = []
        return
    # Topological order; ties by corridor stage, then first mention.
    rank_of: dict[str, float] = {}
    last = 0.0
    for m in main:
        if m.iso in rank_of:
            continue
        rank = rules.corridor_rank.get(m.iso)
        rank_of[m.iso] = float(rank) if rank is not None else last
        last = rank_of[m.iso]
    nodes = list(first_pos)
    indeg = {n: 0 for n in nodes}
    for a, bs in edges.items():
        for b in bs:
            if b in indeg and a in indeg:
                indeg[b] += 1
    route: list[str] = []
    ready = [n for n in nodes if indeg[n] == 0]
    while ready:
        ready.sort(key=lambda n: (rank_of[n], first_pos[n]))
        n = ready.pop(0)
        route.append(n)
        for b in edges.get(n, ()):
            if b in indeg:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
    for iso in deported:
        if not route or route[-1] != iso:
            route.append(iso)
    an.route = route


def journey_countries(mentions: list[Mention]) -> list[str]:
    return list(dict.fromkeys(m.iso for m in mentions if m.journey))
