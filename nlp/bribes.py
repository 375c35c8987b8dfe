"""Bribe step: pay-to-pass events with who received the money, where, and how much.

In: an `Analysis` with mentions and amounts; the pack's bribe actors, cues and negations.
Out: `analysis.bribes` (one event per told bribe). Must never report a negated or hypothetical
demand ("nobody asked for money", "if someone asks for cash"), hearsay (听说, dicen que), an official
fee or fine (with a receipt, a permit, a visa on arrival), a guide's or driver's price, or a robbery as
a bribe.
"""

from __future__ import annotations

from functools import cached_property

from .analysis import Amount, Analysis, BribeEvent, Mention
from .lexmatch import Hit
from .pack import Rules
from .spans import Bounds, KindIndex, Spans
from .text import span_index

# Max characters between an actor and a demand verb (Chinese packs more into fewer characters).
_ACTOR_DEMAND_GAP = {"zh": 30}
_ACTOR_DEMAND_GAP_DEFAULT = 60
# Max characters between a negation / hypothetical cue and the demand it cancels.
_NEGATION_REACH = {"zh": 12}
_NEGATION_REACH_DEFAULT = 45
_CONTRAST = ("but ", "pero ", "但是", "但", "可是", "结果", "其实", "不过", "however", "sin embargo")
_QUOTES = "'\"“”‘’「」『』"


def _kind(h: Hit, kind: str) -> str | None:
    for p in h.payloads:
        if p[0] == kind:
            return p[1] or kind
    return None


class _Index:
    """One text's hits, amounts, places and clauses, looked up by window (bisection, not scans);
    each part is made when first asked for (most posts never ask for the places)."""

    def __init__(self, an: Analysis, hits: list[Hit]):
        self.an = an
        self.hits = Spans(hits)
        self.kinds = KindIndex(hits)
        self.amounts = Spans(an.amounts)
        self.home: frozenset[str] = frozenset()  # the migrants' own nationality (中国人, chinos): never where a bribe was

    @cached_property
    def stops(self) -> Spans[Hit]:  # negation and hypothetical cues
        return self.kinds.any_of(("negation", "hypothetical"))

    @cached_property
    def places(self) -> Spans[Mention]:  # journey mentions and places: where a bribe happened
        return Spans([m for m in self.an.mentions if m.journey or m.place is not None])

    @cached_property
    def adjectives(self) -> Spans[Mention]:
        return Spans(self.an.adjectives)

    @cached_property
    def clauses(self) -> Bounds:
        return Bounds(self.an.clauses)


def _last(spans: Spans[Mention], lo: int, hi: int, end_by: int) -> Mention | None:
    """The last mention (in order) with lo <= start <= hi and end <= end_by."""
    i, j = spans.index_range(lo, hi)
    for k in range(j - 1, i - 1, -1):
        m = spans.items[k]
        if lo <= m.start <= hi and m.end <= end_by:
            return m
    return None


def _country_for(ix: _Index, start: int, sent: tuple[int, int], actor: Hit | None) -> str | None:
    if actor is not None:
        # "Guatemalan cop", "policía mexicana": a nationality word right at the actor.
        adjs = ix.adjectives
        i, j = adjs.index_range(actor.start - 2 - adjs.longest, actor.end + 2)
        for adj in adjs.items[i:j]:
            if 0 <= actor.start - adj.end <= 2 or 0 <= adj.start - actor.end <= 2:
                return adj.iso
    before = _last(ix.places, sent[0], start, end_by=start)
    if before is not None:
        return before.iso
    i, j = ix.places.index_range(start, sent[1] - 1)
    after = next((m for m in ix.places.items[i:j] if start <= m.start < sent[1]), None)
    if after is not None:
        return after.iso
    earlier = _last(ix.places, -1, sent[0], end_by=sent[0])  # starts are >= 0
    if earlier is not None:
        return earlier.iso
    # "the soldiers at the Mexican checkpoint": a nationality word in the sentence, no place named
    adjs = ix.adjectives
    i, j = adjs.index_range(sent[0], sent[1])
    isos = {a.iso for a in adjs.items[i:j] if sent[0] <= a.start < sent[1] and a.iso not in ix.home}
    return isos.pop() if len(isos) == 1 else None


class BribeFinder:
    def __init__(self, rules: Rules):
        self.r = rules
        self.home = frozenset(iso for iso, c in rules.countries.items() if c.journey_only)

    def _blocked(self, an: Analysis, ix: _Index, pos: int) -> bool:
        """Negation or hypothetical in the clause of `pos`, and near it (unpunctuated ASR text is one
        long clause: "…要钱说是检查费…许可是免费的" must not lose its bribe to a far-away 免费)."""
        ci = span_index(an.clauses, pos)
        cl = an.clauses[ci]
        lo = cl[0]
        # a quoted idiom ("si no pagas 'para el refresco'") belongs to the clause that quotes it
        while ci > 0 and lo > 0 and an.text[lo - 1] in _QUOTES:
            ci -= 1
            lo = an.clauses[ci][0]
        hi, cj = cl[1], span_index(an.clauses, pos)
        while cj + 1 < len(an.clauses) and hi > 0 and (
            an.text[hi - 1] in _QUOTES or not any(c.isalnum() for c in an.text[an.clauses[cj][0] : hi])
        ):
            cj += 1
            hi = an.clauses[cj][1]
        reach = _NEGATION_REACH.get(an.lang, _NEGATION_REACH_DEFAULT)
        if ix.stops.any_starting(max(lo, pos - reach), min(hi, pos + reach + 1)):
            return True
        # "…take bribes, but nobody asked us": a negation right after a contrast in the next clause
        if cj + 1 < len(an.clauses):
            nxt = an.clauses[cj + 1]
            head = an.norm.fold[nxt[0] : nxt[0] + 12].lstrip(" ，,")
            if head.startswith(_CONTRAST) and ix.stops.any_starting(nxt[0], min(nxt[1], nxt[0] + reach + 12)):
                return True
        return False

    def find(self, an: Analysis) -> list[BribeEvent]:
        hits = self.r.bribes.find(an.norm)
        if not hits:  # no actor, cue, demand or money word: no event (most posts)
            an.bribes = []
            return an.bribes
        ix = _Index(an, hits)
        ix.home = self.home
        raw: list[tuple[BribeEvent, Hit | None, bool]] = []  # event, actor, has own amount
        for si, sent in enumerate(an.sents):
            for seg in self._segments(an, ix, sent):
                found = self._event_in(an, ix, seg, sent, si)
                if found is not None:
                    raw.append(found)

        raw = self._carried_actor(an, ix, raw)
        events: list[BribeEvent] = []
        for ev, actor, own_amount in raw:
            prev = events[-1] if events else None
            if prev is not None and ev.sentence == prev.sentence + 1 and actor is None and not own_amount:
                continue  # "塞了钱立马放行" right after the demand: the same event told again
            events.append(ev)
        # "…nos pidió 'una lana'. Les dimos 500 pesos": the amount in the next sentence.
        told = {e.sentence for e in events}
        for ev in events:
            if ev.amount is not None or ev.sentence + 1 >= len(an.sents):
                continue
            nxt = an.sents[ev.sentence + 1]
            if ev.sentence + 1 in told:
                continue
            pays = ix.kinds["payment"].any_starting(nxt[0], nxt[1])
            amounts = ix.amounts.starting(nxt[0], nxt[1])
            if pays and amounts:
                ev.amount = amounts[0]
        an.bribes = events
        return events

    def _carried_actor(self, an: Analysis, ix: _Index, raw: list) -> list:
        """"假警察拦车。每人要五百比索才放行。": a demand with an amount and a let-through word, its actor
        named in the sentence before (which told no event of its own)."""
        told = {ev.sentence for ev, _, _ in raw}
        actors = ix.kinds["actor"]
        added = []
        for si in range(1, len(an.sents)):
            if si in told or si - 1 in told:
                continue
            sent, prev = an.sents[si], an.sents[si - 1]
            demands = [d for d in ix.kinds["demand"].starting(sent[0], sent[1]) if not self._blocked(an, ix, d.start)]
            amounts = ix.amounts.starting(sent[0], sent[1])
            if not demands or not amounts or not ix.kinds["pass"].any_starting(sent[0], sent[1]):
                continue
            if any(_kind(o, "official") for o in ix.hits.starting(sent[0], sent[1])):
                continue
            before = actors.starting(prev[0], prev[1])
            if not before:
                continue
            actor = before[-1]
            amount = amounts[0]
            ev = BribeEvent(amount.start if amount.start < demands[0].start else demands[0].start,
                            max(d.end for d in demands) if max(d.end for d in demands) > amount.end else amount.end,
                            _kind(actor, "actor") or "police", None, amount, si)
            ev.country = _country_for(ix, ev.start, sent, actor)
            added.append((ev, actor, True))
        if not added:
            return raw
        return sorted([*raw, *added], key=lambda r: r[0].start)

    def _segments(self, an: Analysis, ix: _Index, sent: tuple[int, int]) -> list[tuple[int, int]]:
        """A sentence cut where a second actor starts a new demand ("警察要了100刀，移民局又要了200刀")."""
        segs: list[tuple[int, int]] = []
        start = sent[0]
        seen_actor = seen_amount = False
        actors, amounts = ix.kinds["actor"], ix.amounts
        for ci in ix.clauses.overlapping(sent[0], sent[1]):
            cl = an.clauses[ci]
            if cl[1] <= sent[0] or cl[0] >= sent[1]:
                continue
            has_actor = actors.any_starting(cl[0], cl[1])
            if has_actor and seen_actor and seen_amount and cl[0] > start:
                segs.append((start, cl[0]))
                start = cl[0]
                seen_amount = False
            seen_actor = seen_actor or has_actor
            seen_amount = seen_amount or amounts.any_starting(cl[0], cl[1])
        segs.append((start, sent[1]))
        return segs

    def _event_in(
        self, an: Analysis, ix: _Index, seg: tuple[int, int], sent: tuple[int, int], si: int
    ) -> tuple[BribeEvent, Hit | None, bool] | None:
        sh = ix.hits.starting(seg[0], seg[1])
        if not sh:
            return None
        actors = [h for h in sh if _kind(h, "actor")] or [h for h in sh if _kind(h, "weak_actor")]
        cues = [h for h in sh if _kind(h, "cue") and not self._blocked(an, ix, h.start)]
        amounts = ix.amounts.starting(seg[0], seg[1])
        has_money = bool(amounts) or any(_kind(h, "money") or _kind(h, "pass") for h in sh)
        officials = [h for h in sh if _kind(h, "official")]
        reach = _NEGATION_REACH.get(an.lang, _NEGATION_REACH_DEFAULT)
        triggers: list[Hit] = list(cues)
        if actors and has_money:
            gap = _ACTOR_DEMAND_GAP.get(an.lang, _ACTOR_DEMAND_GAP_DEFAULT)
            for d in sh:
                if not _kind(d, "demand") or self._blocked(an, ix, d.start):
                    continue
                # an official fee, fine, fare or receipt next to the payment makes it a cost, not a bribe
                if any(abs(o.start - d.start) <= reach for o in officials):
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
        ev.country = _country_for(ix, start, sent, actor)
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
