"""What changed: per ISO week, places, legs, terms and price levels whose share of the relevant posts rose
or fell beyond chance against the previous weeks, and the month-by-month prices of each route leg.

In: the catalog (posts, extractions with their evidence spans, text units).  Out: plain dicts (`week_changes`,
`leg_prices`) that the digest renders. Read-only. The test and the tie rule are stated where they are coded
(`share_change`, `tied_costs`); nothing here prints a count, the digest applies the small-count rule.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from index.base import legs, period_of
from index.terms import trend_terms
from routewatch.core.catalog import Catalog
from routewatch.core.errors import Code, RouteWatchError
from routewatch.trace import fold, sentence_spans

BASELINE_WEEKS = 8  # a week is compared with the 8 weeks before it
MIN_COUNT = 3  # a rise needs at least 3 posts this week; a fall needs at least 3 expected
MIN_BASELINE_POSTS = 20  # fewer relevant posts in the baseline weeks: no test (too little to know "usual")
ALPHA = 0.01  # family-wise per week: each of the m tests must reach p < ALPHA / 2m (Bonferroni; a test
# looks in the direction the share moved, so it counts as two one-sided tests)
PRICE_STEPS = (1, 2, 5)  # price levels are 1-2-5 bands: 10–20, 20–50, 50–100, 100–200 …


@dataclass
class PostFacts:
    post_id: str
    posted_at: str
    week: str
    features: set[str] = field(default_factory=set)


# ---- the statistics ------------------------------------------------------------------------------------


def _lcomb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _hyper_pmfs(x_range: range, total: int, successes: int, draws: int) -> float:
    lt = _lcomb(total, draws)
    return sum(math.exp(_lcomb(successes, k) + _lcomb(total - successes, draws - k) - lt) for k in x_range)


def hyper_sf(x: int, total: int, successes: int, draws: int) -> float:
    """P(H >= x) for H ~ Hypergeometric(total, successes, draws)."""
    hi = min(draws, successes)
    return min(1.0, _hyper_pmfs(range(max(x, 0, draws - (total - successes)), hi + 1), total, successes, draws))


def hyper_cdf(x: int, total: int, successes: int, draws: int) -> float:
    """P(H <= x) for H ~ Hypergeometric(total, successes, draws)."""
    lo = max(0, draws - (total - successes))
    return min(1.0, _hyper_pmfs(range(lo, min(x, draws, successes) + 1), total, successes, draws))


def share_change(x: int, n: int, base_x: int, base_n: int) -> tuple[str, float, float] | None:
    """The test: Fisher's exact test, one-sided. Of this week's n relevant posts x have the feature, of the
    baseline weeks' base_n posts base_x. If nothing changed, which of the x + base_x posts with the feature
    fell in this week is a draw without replacement: x ~ Hypergeometric(n + base_n, x + base_x, n). A rise
    is tested when x >= MIN_COUNT and this week's share is above the baseline's (p = P(H >= x)), a fall
    when the expected n·(x + base_x)/(n + base_n) >= MIN_COUNT and the share is below (p = P(H <= x)).
    Unlike a binomial test against the baseline share, it allows for that share being itself a sample.
    Returns (direction, p, baseline share) for a test that was run, or None when the minimum counts rule it
    out; the caller applies the per-week Bonferroni bound."""
    if n == 0 or base_n < MIN_BASELINE_POSTS:
        return None
    total, k = n + base_n, x + base_x
    p0 = base_x / base_n
    if x / n > p0 and x >= MIN_COUNT:
        return "rise", hyper_sf(x, total, k, n), p0
    if x / n < p0 and n * k / total >= MIN_COUNT:
        return "fall", hyper_cdf(x, total, k, n), p0
    return None


# ---- what a post says, as countable features --------------------------------------------------------------


def price_band(amount: float) -> tuple[float, float]:
    """The 1-2-5 band [low, high) holding a positive amount: 85 -> (50, 100), 1500 -> (1000, 2000)."""
    exp = math.floor(math.log10(amount)) if amount > 0 else 0
    for i, step in enumerate(PRICE_STEPS):
        low = step * 10 ** exp
        high = PRICE_STEPS[i + 1] * 10 ** exp if i + 1 < len(PRICE_STEPS) else 10 ** (exp + 1)
        if low <= amount < high:
            return float(low), float(high)
    return float(10 ** exp), float(2 * 10 ** exp)


def _n(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def feature_label(feature: str) -> tuple[str, str]:
    """(kind, label) of a feature key: place:Necoclí, leg:EC>CO, term:免签, price:transport:USD:50:100."""
    kind, _, rest = feature.partition(":")
    if kind == "leg":
        return kind, rest.replace(">", " → ")
    if kind == "price":
        cost_kind, cur, low, high = rest.split(":")
        return kind, f"{cost_kind} cost {_n(float(low))}–{_n(float(high))} {cur}"
    return kind, rest


def post_facts(catalog: Catalog, until: str = "") -> list[PostFacts]:
    """Every relevant, dated post (posted before `until`, YYYY-MM-DD, when given) with its features: places
    (canonical), legs, trend terms its texts name, and the price levels it quotes (cost kind, currency,
    band). Texts are read one post at a time, never the whole catalog's at once."""
    terms = [(t, t.lower()) for t in trend_terms()]
    found: dict[str, set[str]] = {}
    pid, text = None, ""
    for unit_post, unit_text in catalog.dated_unit_texts(until):
        if unit_post != pid:
            if pid is not None:
                found[pid] = {f"term:{t}" for t, low in terms if low in text}
            pid, text = unit_post, ""
        text += " " + unit_text.lower()
    if pid is not None:
        found[pid] = {f"term:{t}" for t, low in terms if low in text}
    out = []
    for post_id, posted_at, g in catalog.relevant_dated(until):
        f = {f"place:{p['canonical']}" for p in g.get("places", []) if p.get("canonical")}
        f |= {f"leg:{lg}" for lg in legs(g.get("route", []))}
        f |= found.get(post_id, set())
        for c in g.get("costs", []):
            if float(c["amount"]) > 0:
                low, high = price_band(float(c["amount"]))
                f.add(f"price:{c['kind']}:{c['currency']}:{_n(low).replace(',', '')}:{_n(high).replace(',', '')}")
        try:
            week = period_of(posted_at, "week")
        except ValueError:  # an unreadable date has no week; it is not counted anywhere
            continue
        out.append(PostFacts(post_id, posted_at, week, f))
    return out


# ---- per week ---------------------------------------------------------------------------------------------


def _monday(week: str) -> date:
    y, w = week.split("-W")
    return date.fromisocalendar(int(y), int(w), 1)


def _week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def _tests(rows: list[PostFacts], week: str) -> list[dict[str, Any]]:
    """Every test run for `week` against its BASELINE_WEEKS previous weeks, significant or not."""
    start = _monday(week)
    base_weeks = {_week(start - timedelta(weeks=i)) for i in range(1, BASELINE_WEEKS + 1)}
    this = [r for r in rows if r.week == week]
    base = [r for r in rows if r.week in base_weeks]
    n, base_n = len(this), len(base)
    count: dict[str, int] = defaultdict(int)
    base_count: dict[str, int] = defaultdict(int)
    for r in this:
        for f in r.features:
            count[f] += 1
    for r in base:
        for f in r.features:
            base_count[f] += 1
    out = []
    for f in sorted(set(count) | set(base_count)):
        t = share_change(count[f], n, base_count[f], base_n)
        if t is not None:
            out.append({"feature": f, "direction": t[0], "p": t[1], "p0": t[2], "count": count[f], "n": n,
                        "baseline_count": base_count[f], "baseline_n": base_n})
    return out


def _significant(rows: list[PostFacts], week: str) -> list[dict[str, Any]]:
    tests = _tests(rows, week)
    bound = ALPHA / (2 * len(tests)) if tests else 0.0
    return [t for t in tests if t["p"] < bound]


def week_changes(catalog: Catalog, week: str, rows: list[PostFacts] | None = None) -> dict[str, Any]:
    """The changes of one week (each with its posts; `onset` false when the same change was already found
    the week before), and what the catalog shows for the first time that week (first_seen)."""
    rows = post_facts(catalog, until=(_monday(week) + timedelta(weeks=1)).isoformat()) if rows is None else rows
    prev_week = _week(_monday(week) - timedelta(weeks=1))
    before = {(t["feature"], t["direction"]) for t in _significant(rows, prev_week)}
    changes = []
    tests = _tests(rows, week)
    for t in _significant(rows, week):
        kind, label = feature_label(t["feature"])
        if t["direction"] == "rise":
            posts = [r for r in rows if r.week == week and t["feature"] in r.features]
        else:  # a fall: the last posts that still said it
            posts = [r for r in rows if r.week < week and t["feature"] in r.features][-5:]
        changes.append({**t, "kind": kind, "label": label, "expected": t["n"] * t["p0"],
                        "onset": (t["feature"], t["direction"]) not in before,
                        "posts": [{"post_id": r.post_id, "posted_at": r.posted_at} for r in posts]})
    changes.sort(key=lambda c: (not c["onset"], c["direction"], c["p"], c["feature"]))
    seen_before = {f for r in rows if r.week < week for f in r.features}
    flagged = {c["feature"] for c in changes}
    first: dict[str, list[PostFacts]] = defaultdict(list)
    for r in rows:
        if r.week == week:
            for f in r.features - seen_before - flagged:
                first[f].append(r)
    first_seen = [{"feature": f, "kind": feature_label(f)[0], "label": feature_label(f)[1], "count": len(ps),
                   "posts": [{"post_id": r.post_id, "posted_at": r.posted_at} for r in ps]}
                  for f, ps in sorted(first.items(), key=lambda kv: (_KIND_ORDER.get(kv[0].split(":")[0], 9), kv[0]))]
    return {"week": week, "tests": len(tests), "bound": ALPHA / (2 * len(tests)) if tests else None,
            "changes": changes, "first_seen": first_seen, "method": METHOD}


_KIND_ORDER = {"place": 0, "leg": 1, "term": 2, "price": 3}
METHOD = (f"A change is a share of this week's relevant posts that differs beyond chance from the previous "
          f"{BASELINE_WEEKS} weeks' share: Fisher's exact test, one-sided, Bonferroni over both directions of the week's tests, "
          f"family alpha {ALPHA}; a rise needs at least {MIN_COUNT} posts this week, a fall at least {MIN_COUNT} "
          f"expected, and the previous weeks at least {MIN_BASELINE_POSTS} relevant posts.")


def all_week_changes(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """week_changes for every week from the first dated relevant post to the last."""
    rows = post_facts(catalog)
    if not rows:
        return {}
    out = {}
    w, last = _monday(rows[0].week), _monday(rows[-1].week)
    while w <= last:
        out[_week(w)] = week_changes(catalog, _week(w), rows)
        w += timedelta(weeks=1)
    return out


# ---- price per leg ---------------------------------------------------------------------------------------


def tied_costs(facts: dict[str, Any], texts: dict[str, str]) -> list[dict[str, Any]]:
    """The tie rule. A cost belongs to a leg only when its stretch of text names that leg's countries and
    nothing else. Its stretch: the sentence that quotes it (same text unit; sentences end at 。！？!?；; a
    newline or a full stop before a space), cut at the sentence's other costs: from the end of the cost
    before it (or the sentence start) to its own end (the last cost of the sentence: to the sentence end),
    since a price mostly follows what it pays for; so in "机票八千块左右，到了基多…坐大巴去图尔坎只要十五美金"
    the flight price is not the bus's (a price written before its trip, followed by another price, stays
    untied rather than tied to the wrong leg). Tied: both
    ends of one leg A>B of the post's route are named (a place counts for its country), or places of one
    country only, at least two of them (a trip inside it: Necoclí → Capurganá is "within CO"). A cost whose
    stretch names no place, only one, or countries of more than one leg is not tied to any leg."""
    route = list(facts.get("route", []))
    route_legs = {(a, b) for a, b in zip(route, route[1:], strict=False)}
    # where each unit names which country, by place and country evidence
    named: dict[str, list[tuple[int, str, str]]] = defaultdict(list)  # unit -> (start, iso, place or "")
    for p in facts.get("places", []):
        for e in p.get("evidence", []):
            named[e["unit_id"]].append((e["start"], p.get("country") or "", fold(p.get("canonical") or "")))
    for c in facts.get("countries", []):
        for e in c.get("evidence", []):
            named[e["unit_id"]].append((e["start"], c["iso"], ""))
    quotes = [(e["unit_id"], e["start"], e["end"], cost) for cost in facts.get("costs", [])
              for e in cost.get("evidence", [])[:1]]
    out = []
    for unit_id, start, end, cost in quotes:
        text = texts.get(unit_id, "")
        s0, s1 = next(((a, b) for a, b in sentence_spans(text) if a <= start < b), (0, len(text)))
        others = [(a, b) for u, a, b, _ in quotes if u == unit_id and s0 <= a < s1 and (a, b) != (start, end)]
        lo = max([b for a, b in others if b <= start], default=s0)
        hi = end if any(a >= end for a, _ in others) else s1
        here = [(iso, place) for pos, iso, place in named.get(unit_id, []) if lo <= pos < hi and iso]
        isos = {iso for iso, _ in here}
        leg = None
        if len(isos) == 2:
            a, b = sorted(isos)
            leg = f"{a}>{b}" if (a, b) in route_legs else f"{b}>{a}" if (b, a) in route_legs else None
        elif len(isos) == 1 and len({p for _, p in here if p}) >= 2:
            leg = next(iter(isos))
        if leg:
            out.append({"leg": leg, "amount": float(cost["amount"]), "currency": cost["currency"],
                        "kind": cost["kind"], "text": cost.get("text", "")})
    return out


def leg_label(leg: str) -> str:
    return leg.replace(">", " → ") if ">" in leg else f"within {leg}"


def tied_amounts(catalog: Catalog, since: str = "", until: str = "") -> Any:
    """(leg, kind, currency, month, amount, post_id) of every cost tied to a leg (tie rule: `tied_costs`) in
    relevant posts posted between since and until (YYYY-MM-DD, until exclusive) when given."""
    for post_id, posted_at, facts in catalog.relevant_dated(facts=True):
        day = posted_at[:10]
        if (since and day < since) or (until and day >= until):
            continue
        if not facts.get("costs"):
            continue
        texts = {u.unit_id: u.text for u in catalog.units(post_id)}
        month = posted_at[:7]  # posted_at is ISO-8601 UTC
        for t in tied_costs(facts, texts):
            yield t["leg"], t["kind"], t["currency"], month, t["amount"], post_id


def leg_prices(catalog: Catalog, since: str = "", until: str = "", *, by_month: bool = True) -> list[dict[str, Any]]:
    """Median, minimum and maximum of the costs tied to each leg (tie rule: `tied_costs`), per
    (leg, cost kind, currency) and month of posting (`month` "" with by_month=False: the whole span); posts
    between since and until (YYYY-MM-DD, until exclusive) when given. Each row lists its posts."""
    buckets: dict[tuple[str, str, str, str], list[tuple[float, str]]] = defaultdict(list)
    for leg, kind, cur, month, amount, pid in tied_amounts(catalog, since, until):
        buckets[(leg, kind, cur, month if by_month else "")].append((amount, pid))
    out = []
    for (leg, kind, cur, month), vals in sorted(buckets.items()):
        amounts = [v for v, _ in vals]
        out.append({"leg": leg, "label": leg_label(leg), "kind": kind, "currency": cur, "month": month,
                    "n": len(amounts), "median": statistics.median(amounts), "min": min(amounts),
                    "max": max(amounts), "posts": sorted({p for _, p in vals})})
    return out


# ---- two periods side by side ------------------------------------------------------------------------------


def period_bounds(period: str) -> tuple[str, str]:
    """An ISO week (2026-W45) or a month (2026-11) → [since, until) as YYYY-MM-DD; E903 otherwise."""
    p = (period or "").strip()
    try:
        if "-W" in p:
            start = _monday(p)
            if _week(start) != p:
                raise ValueError(p)
            return start.isoformat(), (start + timedelta(weeks=1)).isoformat()
        y, m = (int(x) for x in p.split("-"))
        start = date(y, m, 1)
        if len(p) != 7:
            raise ValueError(p)
        return start.isoformat(), (date(y + m // 12, m % 12 + 1, 1)).isoformat()
    except ValueError:
        raise RouteWatchError(Code.E903, f"a period is an ISO week like 2026-W45 or a month like 2026-11, "
                                         f"got {p[:20]!r}") from None


def compare_periods(catalog: Catalog, a: str, b: str) -> dict[str, Any]:
    """Periods a and b (weeks or months) side by side: per place, leg, term and price level the posts and
    share of each period's relevant posts, and whether b's share differs from a's beyond chance — the test of
    `share_change` with a as the baseline (so a needs MIN_BASELINE_POSTS relevant posts), Bonferroni over the
    features tested; the changes week_changes found in each period when it is a week; and the prices per leg
    of each period. Exact counts are in `count`; what is shown applies the small-count rule."""
    (a0, a1), (b0, b1) = period_bounds(a), period_bounds(b)
    rows = post_facts(catalog, until=max(a1, b1))
    in_a = [r for r in rows if a0 <= r.posted_at[:10] < a1]
    in_b = [r for r in rows if b0 <= r.posted_at[:10] < b1]
    count_a: dict[str, list[PostFacts]] = defaultdict(list)
    count_b: dict[str, list[PostFacts]] = defaultdict(list)
    for r in in_a:
        for f in r.features:
            count_a[f].append(r)
    for r in in_b:
        for f in r.features:
            count_b[f].append(r)
    feats = sorted(set(count_a) | set(count_b))
    tests = {f: share_change(len(count_b[f]), len(in_b), len(count_a[f]), len(in_a)) for f in feats}
    m = sum(1 for t in tests.values() if t is not None)
    bound = ALPHA / (2 * m) if m else None
    out_rows = []
    for f in feats:
        kind, label = feature_label(f)
        t = tests[f]
        out_rows.append({
            "feature": f, "kind": kind, "label": label,
            "a": {"count": len(count_a[f]), "share": len(count_a[f]) / len(in_a) if in_a else 0.0,
                  "posts": [r.post_id for r in count_a[f]][-5:]},
            "b": {"count": len(count_b[f]), "share": len(count_b[f]) / len(in_b) if in_b else 0.0,
                  "posts": [r.post_id for r in count_b[f]][-5:]},
            "direction": t[0] if t else None, "p": t[1] if t else None,
            "significant": bool(t and bound is not None and t[1] < bound),
        })
    out_rows.sort(key=lambda r: (not r["significant"], _KIND_ORDER.get(r["kind"], 9),
                                 -abs(r["b"]["share"] - r["a"]["share"]), r["feature"]))
    prices: dict[tuple[str, str, str], dict[str, Any]] = {}
    for side, (s0, s1) in (("a", (a0, a1)), ("b", (b0, b1))):
        for p in leg_prices(catalog, since=s0, until=s1, by_month=False):
            row = prices.setdefault((p["leg"], p["kind"], p["currency"]), {
                "leg": p["leg"], "label": p["label"], "kind": p["kind"], "currency": p["currency"], "a": None, "b": None})
            row[side] = {k: p[k] for k in ("n", "median", "min", "max", "posts")}
    weekly = {side: week_changes(catalog, per, rows)["changes"] if "-W" in per else None
              for side, per in (("a", a), ("b", b))}
    return {"a": {"period": a, "since": a0, "until": a1, "n": len(in_a), "changes": weekly["a"]},
            "b": {"period": b, "since": b0, "until": b1, "n": len(in_b), "changes": weekly["b"]},
            "tests": m, "bound": bound, "rows": out_rows, "prices": sorted(prices.values(), key=lambda r: (
                r["leg"], r["kind"], r["currency"])), "method": COMPARE_METHOD}


COMPARE_METHOD = (f"b's share of its relevant posts against a's, Fisher's exact test, one-sided in the direction "
                  f"the share moved, Bonferroni over the features tested, family alpha {ALPHA}; a rise needs at "
                  f"least {MIN_COUNT} posts in b, a fall at least {MIN_COUNT} expected, and a at least "
                  f"{MIN_BASELINE_POSTS} relevant posts.")
