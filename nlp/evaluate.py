"""Scoring extractions against a gold file, exactly as SPEC §5 defines it.

In: gold rows and predicted rows in the gold schema (lists of dicts, matched by "id"; a missing
prediction counts as an empty one). Out: per-field precision / recall / F1 (micro over (post, item)
pairs), route_exact and cost_kind shares, and a readable report with the misses per post, per category of post and grouped by cause.
Must never change a metric's definition: the held-out check uses the same one.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

EMPTY = {"relevant": False, "countries": [], "route": [], "places": [], "costs": [], "bribes": []}
PRF_FIELDS = ("relevant", "countries", "places", "legs", "costs", "bribes", "bribe_amounts")


def fold_name(name: str) -> str:
    """Canonical place name folded: accents removed, lower case, hyphens as spaces."""
    decomposed = unicodedata.normalize("NFD", name or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.lower().replace("-", " ").split())


def _amount(x: Any) -> float:
    return round(float(x), 2)


def _legs(route: list[str]) -> list[tuple[str, str]]:
    return list(zip(route, route[1:], strict=False))


def items(row: dict[str, Any]) -> dict[str, Counter]:
    """The scored (item) multisets of one row, per field."""
    return {
        "relevant": Counter(["relevant"] if row.get("relevant") else []),
        "countries": Counter(set(row.get("countries") or [])),
        "places": Counter({fold_name(p.get("canonical", "")) for p in row.get("places") or []}),
        "legs": Counter(set(_legs(list(row.get("route") or [])))),
        "costs": Counter((_amount(c["amount"]), c.get("currency")) for c in row.get("costs") or [] if c.get("amount") is not None),
        "bribe_amounts": Counter(
            (_amount(b["amount"]), b.get("currency")) for b in row.get("bribes") or [] if b.get("amount") is not None
        ),
    }


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": round(p, 4), "r": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def _kind_agreement(gold_costs: list[dict], pred_costs: list[dict]) -> tuple[int, int]:
    """(matched costs, matched costs whose kind agrees), pairing equal (amount, currency) greedily
    so that agreeing kinds are paired first."""
    pool: dict[tuple, list[str]] = {}
    for c in pred_costs:
        if c.get("amount") is None:
            continue
        pool.setdefault((_amount(c["amount"]), c.get("currency")), []).append(c.get("kind"))
    matched = agree = 0
    pending = []
    for g in gold_costs:
        key = (_amount(g["amount"]), g.get("currency"))
        kinds = pool.get(key)
        if kinds and g.get("kind") in kinds:
            kinds.remove(g.get("kind"))
            matched += 1
            agree += 1
        else:
            pending.append(key)
    for key in pending:
        kinds = pool.get(key)
        if kinds:
            kinds.pop()
            matched += 1
    return matched, agree


def score(gold: list[dict[str, Any]], pred: list[dict[str, Any]]) -> dict[str, Any]:
    by_id = {str(p.get("id")): p for p in pred}
    counts = {f: [0, 0, 0] for f in PRF_FIELDS}
    route_total = route_exact = 0
    kind_matched = kind_agree = 0
    for g in gold:
        p = by_id.get(str(g.get("id")), EMPTY)
        gi, pi = items(g), items(p)
        for f in ("relevant", "countries", "places", "legs", "costs", "bribe_amounts"):
            tp = sum((gi[f] & pi[f]).values())
            counts[f][0] += tp
            counts[f][1] += sum(pi[f].values()) - tp
            counts[f][2] += sum(gi[f].values()) - tp
        ng, np_ = len(g.get("bribes") or []), len(p.get("bribes") or [])
        m = min(ng, np_)
        counts["bribes"][0] += m
        counts["bribes"][1] += np_ - m
        counts["bribes"][2] += ng - m
        if g.get("route"):
            route_total += 1
            route_exact += list(p.get("route") or []) == list(g["route"])
        mk, ag = _kind_agreement(g.get("costs") or [], p.get("costs") or [])
        kind_matched += mk
        kind_agree += ag
    out: dict[str, Any] = {f: _prf(*counts[f]) for f in PRF_FIELDS}
    out["route_exact"] = {"score": round(route_exact / route_total, 4) if route_total else 1.0, "n": route_total}
    out["cost_kind"] = {"score": round(kind_agree / kind_matched, 4) if kind_matched else 1.0, "n": kind_matched}
    out["n_posts"] = len(gold)
    return out


def misses(gold: list[dict[str, Any]], pred: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Per post id, what was missed (-) or wrongly added (+), field by field."""
    by_id = {str(p.get("id")): p for p in pred}
    out: dict[str, list[str]] = {}
    for g in gold:
        pid = str(g.get("id"))
        p = by_id.get(pid, EMPTY)
        lines: list[str] = []
        if bool(g.get("relevant")) != bool(p.get("relevant")):
            lines.append(f"relevant: gold {g.get('relevant')} pred {p.get('relevant')}")
        gi, pi = items(g), items(p)
        for f in ("countries", "places", "legs", "costs", "bribe_amounts"):
            lost, extra = gi[f] - pi[f], pi[f] - gi[f]
            if lost:
                lines.append(f"{f} -{sorted(lost.elements(), key=str)}")
            if extra:
                lines.append(f"{f} +{sorted(extra.elements(), key=str)}")
        if g.get("route") and list(p.get("route") or []) != list(g["route"]):
            lines.append(f"route: gold {'>'.join(g['route'])} pred {'>'.join(p.get('route') or []) or '(empty)'}")
        gk = Counter((_amount(c["amount"]), c.get("currency"), c.get("kind")) for c in g.get("costs") or [])
        pk = Counter((_amount(c["amount"]), c.get("currency"), c.get("kind")) for c in p.get("costs") or [] if c.get("amount") is not None)
        for key in gk - pk:
            twin = [k for k in pk if k[:2] == key[:2]]
            if twin:
                lines.append(f"cost kind {key[0]:g} {key[1]}: gold {key[2]} pred {twin[0][2]}")
        ng, np_ = len(g.get("bribes") or []), len(p.get("bribes") or [])
        if ng != np_:
            lines.append(f"bribes: gold {ng} pred {np_}")
        if lines:
            out[pid] = lines
    return out


def by_category(gold: list[dict[str, Any]], pred: list[dict[str, Any]], categories: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The same scores per group of posts (id -> group name; ids not in the map go to "(none)")."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for g in gold:
        groups.setdefault(categories.get(str(g.get("id")), "(none)"), []).append(g)
    return {name: score(rows, pred) for name, rows in groups.items()}


_CAUSE_OF_FIELD = {
    "countries": "country", "places": "place", "legs": "route leg", "costs": "cost", "bribe_amounts": "bribe amount",
}


def causes(gold: list[dict[str, Any]], pred: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The misses grouped by cause ("post judged irrelevant", "country missed", "cost kind", ...), each
    entry "post-id: detail". A fact lost because its post was judged irrelevant (or gained because a
    hard negative was judged relevant) is counted under that decision, not under the fact's own rule."""
    by_id = {str(p.get("id")): p for p in pred}
    out: dict[str, list[str]] = {}
    for pid, lines in misses(gold, pred).items():
        g = next(x for x in gold if str(x.get("id")) == pid)
        p = by_id.get(pid, EMPTY)
        if bool(g.get("relevant")) and not p.get("relevant"):
            out.setdefault("post judged irrelevant (its facts lost)", []).append(pid)
            continue
        if not g.get("relevant") and p.get("relevant"):
            out.setdefault("irrelevant post judged relevant (its facts added)", []).append(pid)
            continue
        for line in lines:
            head = line.split(" ", 1)[0].rstrip(":")
            if head in _CAUSE_OF_FIELD:
                cause = f"{_CAUSE_OF_FIELD[head]} {'missed' if line.split(' ', 1)[1].startswith('-') else 'wrongly added'}"
            elif line.startswith("route:"):
                cause = "route order or extent"
            elif line.startswith("cost kind"):
                cause = "cost kind"
            elif line.startswith("bribes:"):
                cause = "bribe event count"
            else:
                cause = head
            out.setdefault(cause, []).append(f"{pid}: {line}")
    return dict(sorted(out.items(), key=lambda kv: -len(kv[1])))


def report(scores: dict[str, Any], misses: dict[str, list[str]] | None = None,
           groups: dict[str, dict[str, Any]] | None = None, grouped_causes: dict[str, list[str]] | None = None) -> str:
    rows = [f"{'field':<14} {'P':>6} {'R':>6} {'F1':>6}   tp  fp  fn"]
    for f in PRF_FIELDS:
        s = scores[f]
        rows.append(f"{f:<14} {s['p']:>6.3f} {s['r']:>6.3f} {s['f1']:>6.3f}  {s['tp']:>3} {s['fp']:>3} {s['fn']:>3}")
    rows.append(f"{'route_exact':<14} {scores['route_exact']['score']:>20.3f}  (n={scores['route_exact']['n']})")
    rows.append(f"{'cost_kind':<14} {scores['cost_kind']['score']:>20.3f}  (n={scores['cost_kind']['n']})")
    rows.append(f"posts: {scores.get('n_posts', '?')}")
    if groups:
        rows.append("")
        rows.append("per category (F1; route_exact and cost_kind as shares):")
        cols = ("relevant", "countries", "places", "legs", "costs", "bribes")
        rows.append(f"  {'category':<14} {'n':>3} " + " ".join(f"{c[:9]:>9}" for c in cols) + f" {'routes':>7} {'kind':>6}")
        for name, sc in groups.items():
            rows.append(f"  {name:<14} {sc['n_posts']:>3} " + " ".join(f"{sc[c]['f1']:>9.3f}" for c in cols)
                        + f" {sc['route_exact']['score']:>7.3f} {sc['cost_kind']['score']:>6.3f}")
    if grouped_causes:
        rows.append("")
        rows.append("misses by cause:")
        for cause, items_ in grouped_causes.items():
            rows.append(f"  {cause} ({len(items_)})")
            rows.extend(f"    {it}" for it in items_)
    if misses:
        rows.append("")
        rows.append("misses per post:")
        for pid, lines in misses.items():
            rows.append(f"  {pid}")
            rows.extend(f"    {line}" for line in lines)
    return "\n".join(rows)


def run(gold: Iterable[dict[str, Any]], annotate: Callable[[dict[str, Any]], dict[str, Any]]) -> tuple[dict, dict, list]:
    """Annotate every gold row's text and score: (scores, misses, predictions)."""
    gold = list(gold)
    pred = [annotate({"id": g["id"], "text": g["text"]}) for g in gold]
    return score(gold, pred), misses(gold, pred), pred
