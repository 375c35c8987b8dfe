"""Bribe step: pay-to-pass events with who received the money, where, and how much.

In: an `Analysis` with mentions and amounts; the pack's bribe actors, cues and negations.
Out: `analysis.bribes` (one event per told bribe). Must never report a negated or hypothetical
demand ("nobody asked for money", "if someone asks for cash"), an official fee or fine, a guide's or
driver's price, or a robbery as a bribe.
"""

from __future__ import annotations

from .analysis import Amount, Analysis, BribeEvent
from .lexmatch import Hit
from .pack import Rules
from .text import span_index

# Max characters between an actor and a demand verb (Chinese packs more into fewer characters).
_ACTOR_DEMAND_GAP = {"zh": 30}
_ACTOR_DEMAND_GAP_DEFAULT = 60
# Max characters between a negation / hypothetical cue and the demand it cancels.
_NEGATION_REACH = {"zh": 12}
_NEGATION_REACH_DEFAULT = 45


def _kind(h: Hit, kind: str) -> str | None:
    for p in h.payloads:
        if p[0] == kind:
            return p[1] or kind
    return None


def _country_for(an: Analysis, start: int, sent: tuple[int, int], actor: Hit | None) -> str | None:
    places = [m for m in an.mentions if m.journey or m.place is not None]
    before = [m for m in places if sent[0] <= m.start and m.end <= start]
    if actor is not None:
        # "Guatemalan cop", "policía mexicana": a nationality word right at the actor.
        for adj in an.adjectives:
            if 0 <= actor.start - adj.end <= 2 or 0 <= adj.start - actor.end <= 2:
                return adj.iso
    if before:
        return before[-1].iso
    after = [m for m in places if start <= m.start < sent[1]]
    if after:
        return after[0].iso
    earlier = [m for m in places if m.end <= sent[0]]
    if earlier:
        return earlier[-1].iso
    return None


class BribeFinder:
    def __init__(self, rules: Rules):
        self.r = rules

    def _blocked(self, an: Analysis, hits: list[Hit], pos: int) -> bool:
        """Negation or hypothetical in the clause of `pos`, and near it (unpunctuated ASR text is one
        long clause: "…要钱说是检查费…许可是免费的" must not lose its bribe to a far-away 免费)."""
        cl = an.clauses[span_index(an.clauses, pos)]
        reach = _NEGATION_REACH.get(an.lang, _NEGATION_REACH_DEFAULT)
        return any(
            cl[0] <= h.start < cl[1]
            and abs(h.start - pos) <= reach
            and (_kind(h, "negation") or _kind(h, "hypothetical"))
            for h in hits
        )

    def find(self, an: Analysis) -> list[BribeEvent]:
        hits = self.r.bribes.find(an.norm)
        raw: list[tuple[BribeEvent, Hit | None, bool]] = []  # event, actor, has own amount
        for si, sent in enumerate(an.sents):
            for seg in self._segments(an, hits, sent):
                found = self._event_in(an, hits, seg, sent, si)
                if found is not None:
                    raw.append(found)

        events: list[BribeEvent] = []
        for ev, actor, own_amount in raw:
            prev = events[-1] if events else None
            if prev is not None and ev.sentence == prev.sentence + 1 and actor is None and not own_amount:
                continue  # "塞了钱立马放行" right after the demand: the same event told again
            events.append(ev)
        # "…nos pidió 'una lana'. Les dimos 500 pesos": the amount in the next sentence.
        for ev in events:
            if ev.amount is not None or ev.sentence + 1 >= len(an.sents):
                continue
            nxt = an.sents[ev.sentence + 1]
            if any(e.sentence == ev.sentence + 1 for e in events):
                continue
            pays = [h for h in hits if nxt[0] <= h.start < nxt[1] and _kind(h, "payment")]
            amounts = [a for a in an.amounts if nxt[0] <= a.start < nxt[1]]
            if pays and amounts:
                ev.amount = amounts[0]
        an.bribes = events
        return events

    def _segments(self, an: Analysis, hits: list[Hit], sent: tuple[int, int]) -> list[tuple[int, int]]:
        """A sentence cut where a second actor starts a new demand ("警察要了100刀，移民局又要了200刀")."""
        segs: list[tuple[int, int]] = []
        start = sent[0]
        seen_actor = seen_amount = False
        for cl in an.clauses:
            if cl[1] <= sent[0] or cl[0] >= sent[1]:
                continue
            has_actor = any(cl[0] <= h.start < cl[1] and _kind(h, "actor") for h in hits)
            if has_actor and seen_actor and seen_amount and cl[0] > start:
                segs.append((start, cl[0]))
                start = cl[0]
                seen_amount = False
            seen_actor = seen_actor or has_actor
            seen_amount = seen_amount or any(cl[0] <= a.start < cl[1] for a in an.amounts)
        segs.append((start, sent[1]))
        return segs

    def _event_in(
        self, an: Analysis, hits: list[Hit], seg: tuple[int, int], sent: tuple[int, int], si: int
    ) -> tuple[BribeEvent, Hit | None, bool] | None:
        sh = [h for h in hits if seg[0] <= h.start < seg[1]]
        if not sh:
            return None
        actors = [h for h in sh if _kind(h, "actor")] or [h for h in sh if _kind(h, "weak_actor")]
        cues = [h for h in sh if _kind(h, "cue") and not self._blocked(an, hits, h.start)]
        amounts = [a for a in an.amounts if seg[0] <= a.start < seg[1]]
        has_money = bool(amounts) or any(_kind(h, "money") or _kind(h, "pass") for h in sh)
        official = any(_kind(h, "official") for h in sh)
        triggers: list[Hit] = list(cues)
        if actors and has_money and not official:
            gap = _ACTOR_DEMAND_GAP.get(an.lang, _ACTOR_DEMAND_GAP_DEFAULT)
            for d in sh:
                if not _kind(d, "demand") or self._blocked(an, hits, d.start):
                    continue
                if any(abs(d.start - a.end) <= gap or abs(a.start - d.end) <= gap for a in actors):
                    triggers.append(d)
        if not triggers:
            return None
        triggers.sort(key=lambda h: h.start)
        first = triggers[0]
        before = [a for a in actors if a.end <= first.start]
        after = [a for a in actors if a.start >= first.start]
        actor = before[-1] if before else (after[0] if after else None)
        start = min(first.start, actor.start if actor else first.start)
        payer = (_kind(actor, "actor") or _kind(actor, "weak_actor")) if actor else _kind(first, "cue") or "police"
        amount = self._amount_for(an, amounts, start, first)
        end = max(max(t.end for t in triggers), actor.end if actor else 0, amount.end if amount else 0)
        if amount is not None:
            start = min(start, amount.start)
        ev = BribeEvent(start, end, payer, None, amount, si)
        ev.country = _country_for(an, start, sent, actor)
        return ev, actor, amount is not None

    def _amount_for(self, an: Analysis, amounts: list[Amount], start: int, trigger: Hit) -> Amount | None:
        if not amounts:
            return None
        after = [a for a in amounts if a.start >= start]
        if after:
            return min(after, key=lambda a: abs(a.start - trigger.start))
        cl = an.clauses[span_index(an.clauses, trigger.start)]
        same = [a for a in amounts if a.start >= cl[0]]
        return same[-1] if same else None


def find_bribes(an: Analysis, rules: Rules) -> list[BribeEvent]:
    return BribeFinder(rules).find(an)
