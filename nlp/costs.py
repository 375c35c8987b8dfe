"""Cost step: which amounts are journey costs and of which kind (total, transport, guide, bribe, other).

In: an `Analysis` with amounts and bribe events; the pack's cost cues. Out: `analysis.costs`.
Must never drop an amount silently once it is a cost (no cue -> `other`), and never give an amount
that a bribe event carries any kind but `bribe`.
"""

from __future__ import annotations

from .analysis import Amount, Analysis, CostItem
from .pack import Rules
from .spans import KindIndex, Spans
from .text import CLAUSE_END, is_han, span_index

_SPECIFIC = ("transport", "guide")
_AFTER_REACH = 24  # characters after an amount that may still label it
_COMBINERS = ("+", "＋", "和", "加上", "&", " and ", " y ", " plus ")


def _kinds_in(cues: KindIndex, lo: int, hi: int) -> list[tuple[int, str]]:
    return [(h.start, p[1]) for h in cues["kind"].inside(lo, hi) for p in h.payloads if p[0] == "kind"]


def _label_start(text: str, amounts: Spans[Amount], a: Amount, sent_start: int) -> int:
    """Start of the label an amount belongs to: after the previous clause break or amount."""
    k = a.start
    while k > sent_start and text[k - 1] not in CLAUSE_END:
        k -= 1
    # the latest end of another amount between the break and this amount
    return max((o.end for o in amounts.ending(k + 1, a.start) if o is not a), default=k)


def _decide(kinds: list[tuple[int, str]], label: str, lo: int = 0) -> str | None:
    if not kinds:
        return None
    names = [k for _, k in kinds]
    distinct = set(names)
    combined = any(c in label for c in _COMBINERS)
    if "total" in distinct:
        # "机票加起来一万四", "the flights in total": the sum of one kind is that kind
        first_total = names.index("total")
        before = set(names[:first_total])
        if len(before) == 1 and before <= set(_SPECIFIC) and not combined and len(distinct) == 2:
            return names[0]
        return "total"
    if len(distinct) == 1:
        return names[0]
    if combined:
        return "other"  # "buses + fees": a mixed sum
    # unpunctuated speech runs labels together ("坐车到特罗赫斯 交罚款 两百一"): the nearest cue wins
    return names[-1]


def _spoken_chunks(text: str, cues: KindIndex, lo: int, hi: int) -> str | None:
    """Unpunctuated speech ("…关了四天才放出来 我们两口子全程下来 一个人大概 1.5w 美金"): the label is the
    pause-separated chunk right before the amount, else the one before it; None when it has no pauses."""
    label = text[lo:hi].rstrip()
    if " " not in label.strip() or not any(is_han(c) for c in label):
        return None
    end = lo + len(label)
    for _ in range(2):
        start = text.rfind(" ", lo, end)
        start = lo if start < 0 else start + 1
        kind = _decide(_kinds_in(cues, start, end), text[start:end])
        if kind is not None:
            return kind
        if start == lo:
            break
        end = start - 1
    return None


def _itemised_total(an: Analysis, cues: KindIndex, amounts: Spans[Amount], a: Amount, sent: tuple[int, int]) -> str | None:
    """"买了雨靴和帐篷，一共六十美金": a total for things of one kind bought (listed without prices) in the
    clause before is a price of that kind, not the whole trip's."""
    ci = span_index(an.clauses, a.start)
    if ci == 0:
        return None
    prev = an.clauses[ci - 1]
    if prev[0] < sent[0] or amounts.any_starting(prev[0], prev[1]):
        return None
    if not cues["purchase"].any_starting(prev[0], prev[1]):
        return None  # "…坐大巴到哥伦比亚，一共花了三万": the journey told, then its total
    kinds = {k for _, k in _kinds_in(cues, prev[0], prev[1]) if k != "total"}
    return kinds.pop() if len(kinds) == 1 else None


def _country_scoped(an: Analysis, cues: KindIndex, lo: int, hi: int) -> bool:
    """A total cue with a country named right after it (整个墨西哥, "the whole Mexico part")."""
    totals = [h for h in cues["kind"].inside(lo, hi) if any(p == ("kind", "total") for p in h.payloads)]
    return any(m.place is None and 0 <= m.start - t.end <= 1 and m.end <= hi for t in totals for m in an.mentions)


def classify(an: Analysis, rules: Rules) -> list[CostItem]:
    text = an.norm.fold
    if not an.amounts:
        an.costs = []
        return an.costs
    hits = an.cost_hits if an.cost_hits is not None else rules.costs.find(an.norm)
    cues = KindIndex(hits)  # cues in a window by bisection: dense texts have thousands
    amounts = Spans(an.amounts)
    bribe_amounts = {id(b.amount) for b in an.bribes if b.amount is not None}
    items: list[CostItem] = []
    for a in an.amounts:
        if id(a) in bribe_amounts:
            items.append(CostItem(a, "bribe"))
            continue
        si = span_index(an.sents, a.start)
        sent = an.sents[si]
        clause = an.clauses[span_index(an.clauses, a.start)]
        kind = None
        # (1) a cue glued to the amount's right: 八千块机票, "$9,500 all in".
        k = a.end
        while k < len(text) and text[k] == " ":
            k += 1
        right = [(h.start, p[1]) for h in cues["kind"].starting(k, k + 1) for p in h.payloads if p[0] == "kind"
                 if k == a.end or not is_han(text[k])]  # "1.5w 美金 机票那块": a spoken pause ends the label
        if right:
            kind = right[0][1]
        # (2) the label before it (from the last clause break / amount) and the rest of its clause.
        if kind is None:
            lo = _label_start(text, amounts, a, sent[0])
            nxt = amounts.first_start(a.end, default=clause[1])
            kind = _spoken_chunks(text, cues, lo, a.start)
            if kind is None:
                kind = _decide(_kinds_in(cues, lo, a.start), text[lo : a.start])
            if kind is None and lo > 1 and text[lo - 1] == " " and is_han(text[lo - 2]):
                # spoken Chinese, a pause before the amount: the chunk before the pause labels it (also
                # across a sentence cut made only for length: unpunctuated speech)
                plo = lo - 1
                while plo > 0 and text[plo - 1] not in CLAUSE_END and text[plo - 1] != " ":
                    plo -= 1
                if not amounts.any_starting(plo, lo):
                    kind = _decide(_kinds_in(cues, plo, lo), text[plo:lo])
                    if kind is not None:
                        lo = plo
            if kind is None:  # "$9,500 all in": the words right after it, up to the next amount
                stop = min(clause[1], nxt, a.end + _AFTER_REACH)
                kind = _decide(_kinds_in(cues, a.end, stop), text[a.end : stop])
            label_lo = lo
        else:
            label_lo = a.start
        # (3) the nearest earlier cue in the sentence, (4) then the sentence before.
        if kind is None:
            earlier = _kinds_in(cues, sent[0], a.start)
            if earlier:
                kind = earlier[-1][1]
        if kind is None and si > 0:
            prev = an.sents[si - 1]
            earlier = _kinds_in(cues, prev[0], prev[1])
            if earlier:
                kind = earlier[-1][1]
        if kind == "total":
            kind = _itemised_total(an, cues, amounts, a, sent) or kind
        if kind == "total" and cues["segment"].any_inside(min(label_lo, clause[0]), a.start):
            kind = "other"  # a budget for one stretch of the trip, not the whole trip
        if kind == "total" and _country_scoped(an, cues, min(label_lo, clause[0]), a.start):
            kind = "other"  # 整个墨西哥下来: the sum of one country's stretch
        items.append(CostItem(a, kind or "other"))
    an.costs = items
    return items
