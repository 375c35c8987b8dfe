"""Claim tracing: who said it first, how it spread, and whether each post agrees.

In: a claim in any of the three languages and the catalog.  Out: the claim's parts (countries, places,
legs, amounts with currency, visa and other terms: read by the same extractor as the posts, matched as
facts), a timeline of the matching posts by posting time with a stance each (supports / contradicts /
updates / related, and the words that decided it: the corridor pack's trace_stance.yaml), earliest posted and earliest
captured named apart with ties stated, and groups of near-duplicates (same media or audio, forwards, texts
near-duplicate by routewatch.core.similar) with the evidence per post. Read-only; handles and contact details are redacted in what it returns.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import nlp
from index.base import legs
from index.sqlite_fts import make_snippet
from nlp.settings import ExtractSettings
from routewatch.core.catalog import Catalog
from routewatch.core.packs import pack_data, pack_file
from routewatch.core.privacy import redact_text
from routewatch.core.records import TextUnit
from routewatch.core.similar import near_duplicate_pairs, shingles
from routewatch.core.text import HAN_RUN, fold
from routewatch.view import PostView, policy

TERMS_FILE = pack_file("trace_terms")  # the claim concepts, in the default corridor pack
# A unit matches when it carries (nearly) all of the claim's concepts: 0.8 × concept coverage
# + 0.2 × shared character pairs / words. With two concepts, one of them alone cannot reach it.
MATCH_THRESHOLD = 0.75
_CJK = HAN_RUN
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "is", "are", "to", "of", "in", "el", "la", "los", "las", "de", "en", "es", "y", "and",
         "for", "por", "para", "que", "un", "una", "it", "on"}


@cache
def _concepts() -> dict[str, tuple[str, ...]]:
    data = pack_data("trace_terms")["concepts"]
    out = {k: tuple(fold(w) for w in v) for k, v in data.items()}
    # Country names from the same pack: "Ecuador", "厄瓜多尔" and "厄瓜多" are one concept.
    for c in pack_data("countries").get("countries", []):
        names = [fold(n) for n in c.get("names", []) if len(n) >= 2]
        if names:
            out[f"country:{c['iso']}"] = tuple(names)
    return out


def _has_word(text: str, w: str) -> bool:
    if _CJK.search(w):
        return w in text
    return re.search(r"(?<![a-z0-9])" + re.escape(w) + r"(?![a-z0-9])", text) is not None


def concepts_in(text: str) -> set[str]:
    t = fold(text)
    return {k for k, words in _concepts().items() if any(_has_word(t, w) for w in words)}


def _features(text: str) -> set[str]:
    t = fold(text)
    feats = {f"c:{a}{b}" for a, b in zip(t, t[1:], strict=False) if _CJK.match(a) and _CJK.match(b)}
    feats |= {f"w:{w}" for w in _WORD.findall(t) if w not in _STOP and len(w) > 1}
    return feats


def _span_of(claim: str, text: str) -> tuple[int, int] | None:
    """The first place in the text where one of the claim's concept words or its longest shared pair occurs."""
    t = fold(text)
    if len(t) != len(text):
        return None
    best: tuple[int, int] | None = None
    for k in concepts_in(claim):
        for w in _concepts()[k]:
            i = t.find(w)
            if i >= 0 and (best is None or i < best[0]):
                best = (i, i + len(w))
    return best


class _UF:
    def __init__(self) -> None:
        self.p: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.p.setdefault(x, x)
        while self.p[x] != x:
            self.p[x] = self.p[self.p[x]]
            x = self.p[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


def trace_claim(catalog: Catalog, settings: Any, claim: str, limit: int = 20,
                extractor: Any = None) -> dict[str, Any]:
    """Groups (ordered by first posting time), a timeline of every matching post ordered by posting time
    with its stance towards the claim, the claim's parts, and the earliest posted / captured posts."""
    normalised = fold(claim)
    info = parse_claim(claim, extractor if extractor is not None else _extractor(settings))
    empty = {"claim": claim, "normalised": normalised, "concepts": sorted(concepts_in(claim)),
             "parts": info.public_parts(), "groups": [], "timeline": [], "best_matches": [],
             "earliest_posted": None, "earliest_captured": None}
    # 1. every post scored on the claim's parts: its texts' concepts and its extracted facts (the summary;
    # the facts with their evidence are read only for posts that need them). Units stream post by post.
    gold = catalog.gold_by_post()
    facts: dict[str, dict[str, Any]] = {}

    def facts_of(pid: str) -> dict[str, Any]:
        if pid not in facts:
            facts[pid] = catalog.get_facts(pid) or {}
        return facts[pid]

    units: dict[str, list[dict[str, Any]]] = {}
    matches: dict[str, dict[str, Any]] = {}

    def score(pid: str, us: list[dict[str, Any]]) -> None:
        m = match_post(info, us, gold.get(pid, {}), lambda: facts_of(pid))
        if m is not None:
            matches[pid], units[pid] = m, us

    for pid, us in catalog.texts_by_post():
        score(pid, [{"unit_id": u.unit_id, "kind": u.kind, "text": u.text} for u in us])
    if not matches:
        return empty
    ids = sorted(matches)
    posts = {p: catalog.get_post(p) for p in ids}
    # 2. near-duplicate groups
    uf = _UF()
    media = catalog.media_sha_of(ids)
    tr = catalog.transcript_id_of(ids)
    for key_map in (media, tr):
        by: dict[str, str] = {}
        for pid, key in key_map.items():
            if key in by:
                uf.union(by[key], pid)
            else:
                by[key] = pid
    # Telegram forwards: a forward of channel X with the same text as a post of X
    for a, b, _sim in near_duplicate_pairs({p: shingles(_post_text(catalog, p)) for p in ids}):
        uf.union(a, b)
    groups: dict[str, list[str]] = {}
    for p in ids:
        groups.setdefault(uf.find(p), []).append(p)
    # The best-matching groups are kept (limit), then shown in the order they were first posted.
    for members in groups.values():
        members.sort(key=lambda p: (posts[p].posted_at or "9999", p))
    kept = sorted(groups.values(), key=lambda ms: (-max(matches[p]["score"] for p in ms), -len(ms),
                                                   posts[ms[0]].posted_at or "9999"))[:limit]
    kept.sort(key=lambda ms: (posts[ms[0]].posted_at or "9999", -max(matches[p]["score"] for p in ms)))
    # 3. stance of each shown post towards the claim, from its texts and its facts' evidence
    for p in (p for ms in kept for p in ms):
        matches[p]["stance"] = stance_of(info, units.get(p, []), facts_of(p))
        matches[p]["unit_texts"] = {u["unit_id"]: u for u in units.get(p, [])}
    scrub = policy(settings, catalog)  # every post as routewatch.view shows it
    out_groups = []
    for members in kept:
        entries = [_evidence(catalog, posts[p], matches[p], media.get(p), tr.get(p), claim, scrub)
                   for p in members]
        cap = earliest(members, posts, "captured_at")
        out_groups.append({
            "size": len(members),
            "earliest_posted": members[0],
            "earliest_captured": cap["post_id"] if cap else None,
            "captured_tie": cap["tie"] if cap else None,
            "posted_tie": (earliest(members, posts, "posted_at") or {}).get("tie"),
            "first_posted_at": posts[members[0]].posted_at,
            "platforms": sorted({posts[p].platform for p in members}),
            "repost_chain": [{"post_id": p, "posted_at": posts[p].posted_at, "platform": posts[p].platform,
                              "forwarded_from": scrub.handle(posts[p].forwarded_from) or None} for p in members],
            "best_score": round(max(matches[p]["score"] for p in members), 3),
            "stances": dict(sorted(Counter(matches[p]["stance"]["label"] for p in members).items())),
            "posts": entries,
        })
    timeline = []
    for gi, g in enumerate(out_groups, 1):
        for e in g["posts"]:
            timeline.append({k: e[k] for k in ("post_id", "platform", "platform_id", "author", "url", "url_is_link",
                                               "posted_at", "captured_at", "score", "matched",
                                               "stance", "source", "snippet", "span", "start_sec", "end_sec")}
                            | {"group": gi})
    timeline.sort(key=lambda e: (e["posted_at"] or "9999", e["captured_at"] or "9999", e["post_id"]))
    shown = [e["post_id"] for e in timeline]
    # best matches: most of the claim's parts as facts (a price counts fully only when tied to the claim's
    # place), then the score, then the earliest
    cov = {p: matches[p]["coverage"] for p in ids}
    best = sorted(timeline, key=lambda e: (-cov[e["post_id"]], -e["score"], e["posted_at"] or "9999", e["post_id"]))
    return {**empty, "privacy": scrub.provenance(), "groups": out_groups, "timeline": timeline,
            "best_matches": [{"post_id": e["post_id"], "coverage": round(cov[e["post_id"]], 3), "score": e["score"],
                              "matched": e["matched"], "stance": e["stance"]["label"]} for e in best[:5]],
            "earliest_posted": earliest(shown, posts, "posted_at"),
            "earliest_captured": earliest(shown, posts, "captured_at")}


def earliest(pids: list[str], posts: dict[str, Any], field: str) -> dict[str, Any] | None:
    """The earliest post by `field` (posted_at or captured_at), compared to the second. When several share
    that second, the tie is stated and the earliest *posted* among them is named (never an arbitrary or
    newer copy); posts without the time are never named earliest."""
    dated = [p for p in pids if getattr(posts[p], field)]
    if not dated:
        return None
    first = min(getattr(posts[p], field)[:19] for p in dated)
    tied = sorted((p for p in dated if getattr(posts[p], field)[:19] == first),
                  key=lambda p: (posts[p].posted_at or "9999", p))
    out: dict[str, Any] = {"post_id": tied[0], field: getattr(posts[tied[0]], field), "tie": None}
    if len(tied) > 1:
        what = "captured" if field == "captured_at" else "posted"
        if field == "captured_at":
            rule = "the earliest posted of them is named"
            if len(tied) == len(dated):
                note = (f"all {len(tied)} posts were captured in the same second ({first}Z); capture order says "
                        f"nothing about who was first, {rule}")
            else:
                note = f"{len(tied)} posts were captured in the same second ({first}Z); {rule}"
        else:
            note = f"{len(tied)} posts were {what} in the same second ({first}Z); named by post id order"
        out["tie"] = {"count": len(tied), "at": first + "Z", "post_ids": tied, "note": note}
    return out


# ---- claims as parts, matched as facts ----------------------------------------------------------------


@dataclass
class ClaimInfo:
    """A claim taken apart: countries (by name), places and legs (from the extractor), amounts with currency
    and cost kind, visa and other terms (trace_terms.yaml), and which polar terms the claim itself negates."""

    text: str
    countries: list[str] = field(default_factory=list)
    places: list[dict[str, str]] = field(default_factory=list)
    legs: list[str] = field(default_factory=list)
    amounts: list[dict[str, Any]] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    negated: set[str] = field(default_factory=set)

    @property
    def n_parts(self) -> int:
        return len(self.countries) + len(self.places) + len(self.legs) + len(self.amounts) + len(self.terms)

    def public_parts(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"kind": "country", "value": c, "label": f"country {c}"} for c in self.countries]
        out += [{"kind": "place", "value": p["canonical"], "country": p["country"],
                 "label": f"place {p['canonical']} ({p['country']})"} for p in self.places]
        out += [{"kind": "leg", "value": lg, "label": f"leg {lg.replace('>', ' → ')}"} for lg in self.legs]
        out += [{"kind": "amount", "value": a["amount"], "currency": a["currency"], "cost_kind": a["kind"],
                 "label": f"amount {_num(a['amount'])} {a['currency']} ({a['kind']})"} for a in self.amounts]
        out += [{"kind": "visa" if t.startswith("visa") else "term", "value": t,
                 "negated": t in self.negated, "label": ("not " if t in self.negated else "") + t}
                for t in self.terms]
        return out


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def _extractor(settings: Any) -> Any:
    ex_settings = getattr(settings, "extract", None)
    return _cached_extractor(ex_settings.model_dump_json() if ex_settings is not None else "")


@cache
def _cached_extractor(settings_json: str) -> Any:
    return nlp.build_extractor(settings=ExtractSettings.model_validate_json(settings_json) if settings_json else None)


def parse_claim(claim: str, extractor: Any) -> ClaimInfo:
    """Countries named in the claim, its places, legs and amounts as the extractor reads them (the same
    reading the posts got), and its terms; polar terms the claim negates ("no longer visa-free") are noted."""
    concepts = concepts_in(claim)
    info = ClaimInfo(text=claim, countries=sorted(c.split(":", 1)[1] for c in concepts if c.startswith("country:")),
                     terms=sorted(c for c in concepts if not c.startswith("country:")))
    ex = extractor.extract(TextUnit(unit_id="claim", post_id="claim", kind="caption", text=claim))
    seen: set[str] = set()
    for p in ex.places:
        if fold(p.canonical) not in seen:
            seen.add(fold(p.canonical))
            info.places.append({"canonical": p.canonical, "country": p.country})
    if len(ex.route) >= 2:
        info.legs = legs(ex.route)
    for cost in ex.costs:
        info.amounts.append({"amount": float(cost.amount), "currency": cost.currency, "kind": cost.kind})
    rules = _stance_rules()
    hits = _scan(fold(claim), info.terms, rules)
    for h in hits:
        if h.role == "term" and h.concept in rules["polar"] and _negated(h, hits, fold(claim), rules):
            info.negated.add(h.concept)
    return info


def _amount_eq(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= 0.005 * max(abs(float(a)), 1.0)


def match_post(info: ClaimInfo, units: list[dict[str, Any]], gold: dict[str, Any],
               facts: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """Which of the claim's parts a post has (facts from its extraction, terms from its texts), its coverage
    of them (an amount tied to the claim's place counts 1, the same amount elsewhere in the post 0.5), its
    score (0.8 × coverage + 0.2 × shared character pairs / words of its best text), or None when it does
    not match: every part is needed for claims of one or two parts, all but one for longer claims.
    `gold` is the post's extraction summary; `facts` gives its facts with evidence (read only when a
    claimed amount is found, to see whether it is tied to the claim's place)."""
    if not units:
        return None
    gold = {k: gold.get(k, []) for k in ("countries", "route", "places", "costs", "bribes")}
    text_concepts: set[str] = set()
    best_unit, best_lex = units[0], -1.0
    cf = _features(info.text)
    for u in units:
        text_concepts |= concepts_in(u["text"])
        lex = len(cf & _features(u["text"])) / len(cf) if cf else 0.0
        if lex > best_lex:
            best_unit, best_lex = u, lex
    countries = set(gold["countries"]) | {c.split(":", 1)[1] for c in text_concepts if c.startswith("country:")}
    places = {fold(p.get("canonical") or "") for p in gold["places"]}
    post_legs = set(legs(gold["route"]))
    costs = [(float(c["amount"]), c["currency"]) for c in gold["costs"]]
    costs += [(float(b["amount"]), b["currency"]) for b in gold["bribes"] if b.get("amount") is not None]
    matched = [f"country {c}" for c in info.countries if c in countries]
    matched += [f"place {p['canonical']}" for p in info.places if fold(p["canonical"]) in places]
    matched += [f"leg {lg.replace('>', ' → ')}" for lg in info.legs if lg in post_legs]
    weight = float(len(matched))
    for a in info.amounts:
        if any(cur == a["currency"] and _amount_eq(x, a["amount"]) for x, cur in costs):
            matched.append(f"amount {_num(a['amount'])} {a['currency']}")
            weight += 1.0 if facts is not None and _amount_tied(info, a, units, facts()) else 0.5
    # a polar term counts when the post speaks of it at all, for or against (stance says which)
    opp = _stance_rules()["opposites"]
    terms = [t for t in info.terms if t in text_concepts or (t in opp and opp[t] in text_concepts)]
    matched += terms
    weight += len(terms)
    n = info.n_parts
    if n == 0:
        if best_lex < MATCH_THRESHOLD:
            return None
        score = coverage = best_lex
    else:
        need = n if n <= 2 else n - 1
        if len(matched) < need:
            return None
        coverage = weight / n
        score = 0.8 * coverage + 0.2 * max(best_lex, 0.0)
    # the text shown: the unit that names most of the claim's parts, then the best lexical one
    shown = max(units, key=lambda u: (len(concepts_in(u["text"]) & set(info.terms)), u is best_unit))
    return {"score": score, "coverage": coverage, "matched": matched, "unit_id": shown["unit_id"],
            "kind": shown["kind"], "text": shown["text"]}


def _amount_tied(info: ClaimInfo, a: dict[str, Any], units: list[dict[str, Any]], facts: dict[str, Any]) -> bool:
    """Tie rule: a quoted amount is tied to the claim's place (or, when the claim names no place, to its
    country) when its evidence span lies in the same sentence of the same text as that place's evidence."""
    if info.places:
        want, kind, key = {fold(p["canonical"]) for p in info.places}, "places", "canonical"
    elif info.countries:
        want, kind, key = set(info.countries), "countries", "iso"
    else:
        return True
    for u in units:
        spans = sentence_spans(fold(u["text"]))
        anchor = {_sentence_of(spans, e["start"]) for e in _fact_evidence(facts, u["unit_id"], kind)
                  if (fold(e[key]) if key == "canonical" else e[key]) in want}
        for e in _fact_evidence(facts, u["unit_id"], "costs"):
            if (e["currency"] == a["currency"] and _amount_eq(e["amount"], a["amount"])
                    and _sentence_of(spans, e["start"]) in anchor):
                return True
    return False


# ---- stance ---------------------------------------------------------------------------------------------

STANCE_FILE = pack_file("trace_stance")  # the stance cues and their cases, in the default corridor pack
_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)")


@cache
def _stance_rules() -> dict[str, Any]:
    data = pack_data("trace_stance")
    out: dict[str, Any] = {"polar": set(data["polar"]), "opposites": dict(data["opposites"]), "gap": int(data["gap"])}
    for k in ("negate_before", "negate_after", "change", "deny"):
        out[k] = tuple(sorted({fold(w) for w in data[k]}, key=len, reverse=True))
    return out


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence: split after 。！？!?；; a newline, or a full stop before a space."""
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > start:
            out.append((start, m.end()))
        start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return out


def _sentence_of(spans: list[tuple[int, int]], pos: int) -> int:
    for i, (s, e) in enumerate(spans):
        if s <= pos < e:
            return i
    return len(spans) - 1


@dataclass
class _Hit:
    start: int
    end: int
    role: str  # term, negate_before, negate_after, change, deny
    concept: str = ""


def _scan(t: str, concepts: list[str], rules: dict[str, Any]) -> list[_Hit]:
    """Every cue and concept word in the folded text, longest first, never two overlapping (so a
    visa_free word that contains a visa_required word is read once, as itself)."""
    words: list[tuple[str, str, str]] = []
    opp = rules["opposites"]
    wanted = set(concepts) | {opp[c] for c in concepts if c in opp}
    for c in wanted:
        words += [(w, "term", c) for w in _concepts().get(c, ())]
    for role in ("negate_before", "negate_after", "change", "deny"):
        words += [(w, role, "") for w in rules[role]]
    cands: list[_Hit] = []
    for w, role, concept in words:
        if not w:
            continue
        if _CJK.search(w):
            pat = re.escape(w)
        else:
            pat = r"(?<![a-z0-9])" + re.escape(w) + r"(?![a-z0-9])"
        cands += [_Hit(m.start(), m.end(), role, concept) for m in re.finditer(pat, t)]
    # a cue word that is also a cue of another role (取消了: negate_before and change) is kept once per role
    cands.sort(key=lambda h: (-(h.end - h.start), h.start))
    taken: list[_Hit] = []
    for h in cands:
        clash = [o for o in taken if o.start < h.end and h.start < o.end]
        if all(o.start == h.start and o.end == h.end and o.role != h.role for o in clash):
            taken.append(h)
    return sorted(taken, key=lambda h: (h.start, h.role))


def _negated(h: _Hit, hits: list[_Hit], t: str, rules: dict[str, Any]) -> list[_Hit]:
    """The negation cues that negate this term hit (within `gap` characters, same sentence)."""
    gap = rules["gap"]
    out = []
    for o in hits:
        if o.role == "negate_before" and 0 <= h.start - o.end <= gap and not _SENTENCE_END.search(t[o.end:h.start]):
            out.append(o)
        elif o.role == "negate_after" and 0 <= o.start - h.end <= gap and not _SENTENCE_END.search(t[h.end:o.start]):
            out.append(o)
    return out


def _country_hits(t: str) -> list[tuple[int, int, str]]:
    """Country names in the folded text, longest name first, never overlapping: (start, end, ISO)."""
    names = sorted(((fold(n), k.split(":", 1)[1]) for k, ns in _concepts().items() if k.startswith("country:")
                    for n in ns), key=lambda x: -len(x[0]))
    found: list[tuple[int, int, str]] = []
    for n, iso in names:
        pat = re.escape(n) if _CJK.search(n) else r"(?<![a-z0-9])" + re.escape(n) + r"(?![a-z0-9])"
        for m in re.finditer(pat, t):
            if all(m.end() <= a or m.start() >= b for a, b, _ in found):
                found.append((m.start(), m.end(), iso))
    return sorted(found)


def _about_claim_country(h: _Hit, t: str, spans: list[tuple[int, int]], info: ClaimInfo) -> bool:
    """A polar term speaks of the country named nearest before it in its sentence (else the first one after
    it); it counts for or against the claim only when that is one of the claim's countries, or when the
    claim or the sentence names none ("玻利维亚落地签" says nothing about Ecuador)."""
    if not info.countries:
        return True
    s0, s1 = spans[_sentence_of(spans, h.start)]
    near = _country_hits(t[s0:s1])
    if not near:
        return True
    before = [c for c in near if c[1] + s0 <= h.start]
    iso = before[-1][2] if before else near[0][2]
    return iso in info.countries


def _change_role(o: _Hit, hits: list[_Hit]) -> bool:
    return any(x.role == "change" and x.start == o.start and x.end == o.end for x in hits)


def stance_of(info: ClaimInfo, units: list[dict[str, Any]], facts: dict[str, Any]) -> dict[str, Any]:
    """supports / contradicts / updates / related, the words that decided it (exact text of the post), the
    text unit they are in and a one-line reason. The rules are in trace_stance.yaml."""
    rules = _stance_rules()
    opp = rules["opposites"]
    polar = [t for t in info.terms if t in rules["polar"]]
    verdicts: list[dict[str, Any]] = []
    support_words: list[tuple[str, int, int, str]] = []
    for u in units:
        text = u["text"]
        t = fold(text)
        same = len(t) == len(text)
        src = text if same else t

        def word(h: _Hit, _src: str = src) -> str:
            return _src[h.start:h.end]

        spans = sentence_spans(t)
        hits = _scan(t, polar, rules)
        per_sentence: dict[int, dict[str, list[_Hit]]] = {}
        for h in hits:
            if h.role != "term":
                continue
            want_positive = h.concept not in info.negated if h.concept in polar else None
            concept_for = h.concept if h.concept in polar else next((c for c in polar if opp.get(c) == h.concept), "")
            if not concept_for or not _about_claim_country(h, t, spans, info):
                continue
            negs = _negated(h, hits, t, rules)
            positive = not negs
            if h.concept != concept_for:  # the opposite concept
                positive = not positive
            if concept_for in info.negated:
                want_positive = False
            si = _sentence_of(spans, h.start)
            bucket = per_sentence.setdefault(si, {"for": [], "against": [], "neg": []})
            if positive == want_positive:
                bucket["for"].append(h)
            else:
                bucket["against"].append(h)
                bucket["neg"] += negs
        for si, b in sorted(per_sentence.items()):
            s0, s1 = spans[si]
            if b["against"]:
                changes = [h for h in hits if h.role == "change" and s0 <= h.start < s1]
                negs_change = [h for h in b["neg"] if _change_role(h, hits)]
                label = "updates" if changes or negs_change else "contradicts"
                used = sorted({(h.start, h.end): h for h in [*b["against"], *b["neg"], *changes]}.values(),
                              key=lambda h: h.start)
                verdicts.append({"label": label, "words": [word(h) for h in used], "source": u["kind"],
                                 "unit_id": u["unit_id"], "spans": [[h.start, h.end] for h in used] if same else None,
                                 "reason": ("the post says the claim's terms no longer hold" if label == "updates"
                                            else "the post says the opposite of the claim's terms")})
            for h in b["for"]:
                support_words.append((word(h), h.start, h.end, u["unit_id"]))
        # a denial next to any part of the claim
        if not any(v["unit_id"] == u["unit_id"] for v in verdicts):
            named = {_sentence_of(spans, h.start) for h in _scan(t, info.terms, rules) if h.role == "term"}
            named |= {_sentence_of(spans, e["start"]) for e in _fact_evidence(facts, u["unit_id"], "places")
                      if fold(e["canonical"]) in {fold(p["canonical"]) for p in info.places}}
            if info.countries:
                named |= {_sentence_of(spans, e["start"]) for e in _fact_evidence(facts, u["unit_id"], "countries")
                          if e.get("iso") in info.countries}
            for h in hits:
                if h.role == "deny" and _sentence_of(spans, h.start) in named:
                    verdicts.append({"label": "contradicts", "words": [word(h)], "source": u["kind"],
                                     "unit_id": u["unit_id"], "spans": [[h.start, h.end]] if same else None,
                                     "reason": "the post calls the claim false"})
                    break
    if not verdicts and info.amounts:
        verdicts += _amount_verdicts(info, units, facts, rules)
    if verdicts:
        # updates beat contradicts (they say more: it held once), the first unit in caption/transcript order
        v = sorted(verdicts, key=lambda v: (v["label"] != "updates",))[0]
        return {k: v[k] for k in ("label", "words", "source", "unit_id", "spans", "reason")}
    # no word against the claim: supports when the post has every part of it, and says each of the claim's
    # polar terms of the claim's country (not "玻利维亚落地签" for Ecuador); related otherwise
    words = _support_words(info, units, facts, support_words)
    parts_all = match_post(info, units, _gold_from_facts(facts))
    said = {fold(w[0]) for w in support_words}
    polar_said = all(any(fold(w) in said for w in _concepts().get(t, ()) + _concepts().get(opp.get(t, ""), ()))
                     for t in polar)
    full = parts_all is not None and len(parts_all["matched"]) == info.n_parts and polar_said
    in_unit = _best_sentence(words, units)
    first_unit = in_unit[0][3] if in_unit else (units[0]["unit_id"] if units else "")
    kind = next((u["kind"] for u in units if u["unit_id"] == first_unit), "")
    return {"label": "supports" if full else "related", "words": [w[0] for w in in_unit], "source": kind,
            "unit_id": first_unit, "spans": [[w[1], w[2]] for w in in_unit],
            "reason": ("the post states every part of the claim" if full
                       else "the post shares some parts of the claim and says nothing against it")}


def _gold_from_facts(facts: dict[str, Any]) -> dict[str, Any]:
    return {"countries": [c["iso"] for c in facts.get("countries", [])], "route": facts.get("route", []),
            "places": facts.get("places", []), "costs": facts.get("costs", []), "bribes": facts.get("bribes", [])}


def _fact_evidence(facts: dict[str, Any], unit_id: str, kind: str) -> list[dict[str, Any]]:
    """Evidence spans of the post's facts of one kind in one unit, each with the fact's fields."""
    out = []
    for f in facts.get(kind, []):
        for e in f.get("evidence", []):
            if e.get("unit_id") == unit_id:
                out.append({**{k: v for k, v in f.items() if k != "evidence"}, "start": e["start"], "end": e["end"],
                            "ev_text": e.get("text", "")})
    return out


def _amount_verdicts(info: ClaimInfo, units: list[dict[str, Any]], facts: dict[str, Any],
                     rules: dict[str, Any]) -> list[dict[str, Any]]:
    """A post that quotes another amount for what the claim prices (same currency and cost kind, in a
    sentence naming the claim's place, or anywhere when the claim names none) and never the claim's."""
    quoted = [(float(c["amount"]), c["currency"]) for c in facts.get("costs", [])]
    if any(cur == a["currency"] and _amount_eq(x, a["amount"]) for a in info.amounts for x, cur in quoted):
        return []
    claim_places = {fold(p["canonical"]) for p in info.places}
    out = []
    for u in units:
        t = fold(u["text"])
        spans = sentence_spans(t)
        place_sents = {_sentence_of(spans, e["start"]) for e in _fact_evidence(facts, u["unit_id"], "places")
                       if fold(e["canonical"]) in claim_places}
        for e in _fact_evidence(facts, u["unit_id"], "costs"):
            si = _sentence_of(spans, e["start"])
            if claim_places and si not in place_sents:
                continue
            if not any(e["currency"] == a["currency"] and e["kind"] == a["kind"] for a in info.amounts):
                continue
            s0, s1 = spans[si]
            changes = [h for h in _scan(t, [], rules) if h.role == "change" and s0 <= h.start < s1]
            label = "updates" if changes else "contradicts"
            used = sorted([(e["start"], e["end"]), *((h.start, h.end) for h in changes)])
            out.append({"label": label, "words": [u["text"][a:b] if len(t) == len(u["text"]) else t[a:b] for a, b in used],
                        "source": u["kind"], "unit_id": u["unit_id"], "spans": [list(x) for x in used],
                        "reason": (f"the post quotes another amount ({e['ev_text']}) for the claim's "
                                   f"{e['kind']} cost" + (" and says it changed" if changes else ""))})
            break
    return out


def _support_words(info: ClaimInfo, units: list[dict[str, Any]], facts: dict[str, Any],
                   polar_for: list[tuple[str, int, int, str]]) -> list[tuple[str, int, int, str]]:
    """The post's words for each part of the claim it has: places, countries and amounts from the facts'
    evidence, terms from its text; in text order, unit by unit."""
    out: list[tuple[str, int, int, str]] = list(polar_for)
    places = {fold(p["canonical"]) for p in info.places}
    rules = _stance_rules()
    for u in units:
        t = fold(u["text"])
        src = u["text"] if len(t) == len(u["text"]) else t
        out += [(src[e["start"]:e["end"]], e["start"], e["end"], u["unit_id"])
                for e in _fact_evidence(facts, u["unit_id"], "places") if fold(e["canonical"]) in places]
        out += [(src[e["start"]:e["end"]], e["start"], e["end"], u["unit_id"])
                for e in _fact_evidence(facts, u["unit_id"], "costs")
                if any(e["currency"] == a["currency"] and _amount_eq(e["amount"], a["amount"]) for a in info.amounts)]
        plain = [c for c in info.terms if c not in rules["polar"]]
        out += [(src[h.start:h.end], h.start, h.end, u["unit_id"]) for h in _scan(t, plain, rules)
                if h.role == "term" and h.concept in plain]
        if info.countries:
            names = sorted({fold(n) for c in info.countries for n in _concepts().get(f"country:{c}", ())},
                           key=len, reverse=True)
            found: list[tuple[int, int]] = []
            for n in names:  # longest name first: "厄瓜多尔", never also "厄瓜" inside it
                for m in re.finditer(re.escape(n), t):
                    if all(m.end() <= a or m.start() >= b for a, b in found):
                        found.append((m.start(), m.end()))
            out += [(src[a:b], a, b, u["unit_id"]) for a, b in found]
    uniq = list({(w[3], w[1], w[2]): w for w in out}.values())
    # a word inside a longer one of the same text ("Darién" in "Darién Gap") is said once, as the longer
    return [w for w in uniq if not any(o is not w and o[3] == w[3] and o[1] <= w[1] and w[2] <= o[2]
                                       and (o[2] - o[1]) > (w[2] - w[1]) for o in uniq)]


def _best_sentence(words: list[tuple[str, int, int, str]],
                   units: list[dict[str, Any]]) -> list[tuple[str, int, int, str]]:
    """The words of the one sentence that holds most distinct claim words (the first such; statements before
    questions and hashtags), in text order."""
    order = {u["unit_id"]: i for i, u in enumerate(units)}
    spans = {u["unit_id"]: sentence_spans(fold(u["text"])) for u in units}
    by: dict[tuple[int, int], list[tuple[str, int, int, str]]] = {}
    for w in words:
        by.setdefault((order.get(w[3], 99), _sentence_of(spans.get(w[3], [(0, 1)]), w[1])), []).append(w)
    if not by:
        return []
    def asks(k: tuple[int, int]) -> bool:  # a question ("厄瓜多尔还免签吗？") states nothing
        u = units[k[0]] if k[0] < len(units) else None
        if u is None:
            return False
        a, b = spans[u["unit_id"]][k[1]]
        return bool(re.search(r"[?？吗嗎]\s*$", fold(u["text"])[a:b]))

    def tags_only(k: tuple[int, int]) -> bool:  # "#厄瓜多尔免签" labels a post, it does not say it
        u = units[k[0]] if k[0] < len(units) else None
        return u is not None and all(re.search(r"#[^\s#]*$", u["text"][:w[1]]) for w in by[k])

    key = min(by, key=lambda k: (asks(k) or tags_only(k), -len({fold(w[0]) for w in by[k]}), k))
    return sorted(by[key], key=lambda w: w[1])


def _post_text(catalog: Catalog, pid: str) -> str:
    units = catalog.units(pid)
    tr = [u.text for u in units if u.kind == "transcript"]
    return tr[0] if tr else " ".join(u.text for u in units)


def _evidence(catalog: Catalog, post: Any, m: dict[str, Any], media_sha: str | None, transcript_id: str | None,
              claim: str, scrub: Any) -> dict[str, Any]:
    # the evidence shown is where the stance was decided: that text and its words (their seconds when timed)
    span = _span_of(claim, m["text"])
    st = m.get("stance") or {}
    if st.get("spans") and st.get("unit_id") in m.get("unit_texts", {}):
        u = m["unit_texts"][st["unit_id"]]
        m = {**m, "unit_id": u["unit_id"], "kind": u["kind"], "text": u["text"]}
        span = (st["spans"][0][0], st["spans"][0][1])
        span_all = (min(a for a, _ in st["spans"]), max(b for _, b in st["spans"]))
    else:
        span_all = span
    start_sec = end_sec = None
    if span and m["kind"] in ("transcript", "subtitle"):
        timed = next((u for u in catalog.units(post.post_id) if u.unit_id == m["unit_id"]), None)
        secs = timed.seconds_for(*(span_all or span)) if timed is not None and timed.text == m["text"] else None
        if secs:
            start_sec, end_sec = secs
    snaps = catalog.snapshots_of(post.post_id)
    snippet = make_snippet(m["text"], span)
    v = PostView.of(post, scrub)
    return {
        "post_id": post.post_id, "platform": post.platform, "platform_id": post.platform_id, "posted_at": post.posted_at,
        "url": v.url, "url_is_link": v.url_is_link, "captured_at": post.captured_at, "author": v.author,
        "forwarded_from": v.forwarded_from or None, "score": round(m["score"], 3),
        "matched": m["matched"], "stance": m["stance"],
        "source": m["kind"], "unit_id": m["unit_id"], "span": list(span) if span else None,
        "start_sec": start_sec, "end_sec": end_sec,
        "snippet": redact_text(snippet, scrub.public_accounts) if scrub.redact else snippet,
        "media_sha256": media_sha, "transcript_id": transcript_id,
        "snapshot_sha256": snaps[0]["sha256"] if snaps else None,
    }


def summary_lines(res: dict[str, Any]) -> list[str]:
    """The human summary of a trace result (the CLI prints these above the timeline table)."""
    lines = [f"claim: {res['claim']}",
             "parts: " + (" · ".join(p["label"] for p in res["parts"]) or "(none: matched on words)")]
    ep, ec = res.get("earliest_posted"), res.get("earliest_captured")
    if ep:
        lines.append(f"earliest posted: {ep['post_id']} at {ep['posted_at']}"
                     + (f" (tie: {ep['tie']['note']})" if ep.get("tie") else ""))
    if ec:
        lines.append(f"earliest captured: {ec['post_id']} at {ec['captured_at']}"
                     + (f" (tie: {ec['tie']['note']})" if ec.get("tie") else ""))
    for b in res.get("best_matches", [])[:3]:
        lines.append(f"best match: {b['post_id']} ({b['stance']}; has {', '.join(b['matched']) or 'the words'})")
    for i, g in enumerate(res.get("groups", []), 1):
        stances = ", ".join(f"{k} {v}" for k, v in g.get("stances", {}).items())
        lines.append(f"group {i}: {g['size']} post(s) on {', '.join(g['platforms'])}, first posted "
                     f"{(g['first_posted_at'] or 'unknown')[:10]} by {g['earliest_posted']}; {stances}")
    return lines
