"""The weekly digest: what changed on the corridor this week, for people who would rather read than query.

In: the catalog (source of truth) and an ISO week `YYYY-Www`.  Out: a dict of sections, rendered to
`digest.md`, `digest.html` (Jinja2, autoescaped) and SVG charts from the SAME display values, so the
two documents agree on every number. Counts under `privacy.min_count` (5) are shown as "<5", means over
fewer posts as "<" a bound, and an empty period as 0 (small-count suppression, one rule: `shown`).
Every value printed into digest.md is Markdown-escaped (`md_escape`): a source name, term or claim is
text there, never a tag, a link, emphasis or a new table row.
Post references are ids, platforms and URLs as routewatch.view shows them (pseudonymised handles).
"""

from __future__ import annotations

import logging
import re
import statistics
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from index.base import facts_gold, legs, period_of
from index.terms import trend_terms
from routewatch.changes import leg_label, leg_prices, tied_costs, week_changes
from routewatch.charts import bar_chart, hbar_chart
from routewatch.core.catalog import Catalog
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.outputs import check_output_dir, write_output
from routewatch.core.privacy import BIDI_CONTROLS, C1_CONTROLS
from routewatch.settings import PrivacySettings
from routewatch.view import PostView, policy

SMALL = 5
UNTIED = "(not tied to a leg)"
PREVIOUS_WEEKS = 8

log = logging.getLogger("routewatch.digest")


def shown(n: int, k: int = SMALL) -> str:
    """A count as shown: "<k" from 1 to k-1 (a few people could be told apart), 0 as 0 (nobody is no one
    to protect), the count itself from k up."""
    return f"<{k}" if 0 < n < k else str(n)


def c(n: int) -> str:
    """A count as shown under the default threshold (5)."""
    return shown(n)


def mean_shown(values: list[int], k: int = SMALL) -> str:
    """A mean of counts as shown: it times the number of periods would be an exact count, so a mean
    over fewer than k posts in all is only bounded ("<0.6" for under 5 posts over 8 weeks)."""
    total = sum(values)
    if not values or total == 0:
        return "0"
    if total < k:
        return f"<{k / len(values):.1f}"
    return f"{total / len(values):.1f}"


def min_count(settings: Any) -> int:
    return int(getattr(getattr(settings, "privacy", None), "min_count", SMALL))


def parse_week(week: str) -> tuple[date, date]:
    m = re.fullmatch(r"(\d{4})-W(\d{2})", week or "")
    if not m:
        raise RouteWatchError(Code.E903, f"--week expects an ISO week like 2026-W45, got {week!r}")
    if not 1900 <= int(m.group(1)) <= 9000:  # the digest also reads the 8 weeks before; dates end at 9999
        raise RouteWatchError(Code.E903, f"the ISO week's year must be between 1900 and 9000, got {week!r}")
    try:
        start = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError as e:
        raise RouteWatchError(Code.E903, f"no such ISO week: {week}") from e
    return start, start + timedelta(days=7)


def week_of(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def _rows(catalog: Catalog, min_confidence: float | None = None) -> list[dict[str, Any]]:
    """Posts with their facts in the gold schema: as extracted for the aggregates, or (min_confidence given)
    every fact at or above that confidence, whether the post is judged relevant or not."""
    out = []
    for r in catalog.dated_extractions():
        if "damaged" in r:  # that post is left out of the digest, and said so once in the log
            log.warning("%s; post left out of the digest", r["damaged"])
            continue
        g = r["gold"] if min_confidence is None else {**facts_gold(r["facts"], min_confidence),
                                                      "relevant": r["relevant"]}
        out.append({**{k: r[k] for k in ("post_id", "platform", "url", "posted_at", "captured_at", "source")},
                    "week": period_of(r["posted_at"], "week"), **g})
    return out


def _texts(catalog: Catalog, pids: list[str]) -> dict[str, str]:
    out: dict[str, str] = defaultdict(str)
    for pid in pids:
        for u in catalog.units(pid):
            out[pid] += " " + u.text
    return out


def _ref(r: dict[str, Any], catalog: Catalog, scrub: Any) -> dict[str, Any]:
    return _post_ref(catalog, r["post_id"], scrub)


def build_digest(catalog: Catalog, settings: Any, week: str, *, min_confidence: float | None = None,
                 relevant: bool | None = None) -> dict[str, Any]:
    """`min_confidence` None: the facts the aggregates keep (extract.aggregate_min_confidence); `relevant`
    False: every post counts, with its facts (default: relevant posts only)."""
    k = min_count(settings)
    scrub = policy(settings, catalog)

    def c(n: int) -> str:
        return shown(n, k)

    start, end = parse_week(week)
    weeks = [week_of(start - timedelta(weeks=i)) for i in range(PREVIOUS_WEEKS, -1, -1)]
    every = relevant is False
    rows = _rows(catalog, min_confidence if (min_confidence is not None or not every) else
                 settings.extract.aggregate_min_confidence)
    rel = rows if every else [r for r in rows if r["relevant"]]
    floor = settings.extract.aggregate_min_confidence if min_confidence is None else min_confidence
    this = [r for r in rel if r["week"] == week]
    upto = [r for r in rel if r["posted_at"][:10] < end.isoformat()]
    # 1. volume: relevant posts per week, this week against the previous eight
    per_week = Counter(r["week"] for r in rel)
    all_week = Counter(r["week"] for r in rows)
    volume = [{"week": w, "relevant": c(per_week[w]), "all": c(all_week[w]), "n": per_week[w]} for w in weeks]
    prev = [per_week[w] for w in weeks[:-1]]
    # 2. legs and countries this week
    leg_counts = Counter(leg for r in this for leg in set(legs(r["route"])))
    country_counts = Counter(cc for r in this for cc in set(r["countries"]))
    top_legs = [{"leg": k.replace(">", " → "), "key": k, "count": c(v), "n": v}
                for k, v in sorted(leg_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
    top_countries = [{"country": k, "count": c(v), "n": v}
                     for k, v in sorted(country_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:12]]
    # 3. median quoted costs per leg and kind (per currency), with n: a cost counts for a leg only when
    # the text ties it to that leg (changes.tied_costs); the others are shown apart, never on every leg
    buckets: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in this:
        if not r["costs"]:
            continue
        facts = catalog.get_facts(r["post_id"]) or {}
        facts = {**facts, "costs": [k for k in facts.get("costs") or [] if isinstance(k, dict)  # as sure as asked
                                    and not (isinstance(k.get("confidence"), int | float) and k["confidence"] < floor)]}
        tied = tied_costs(facts, {u.unit_id: u.text for u in catalog.units(r["post_id"])})
        for t in tied:
            buckets[(leg_label(t["leg"]), t["kind"], t["currency"])].append(t["amount"])
        left = Counter((float(k["amount"]), k["currency"], k["kind"]) for k in r["costs"])
        left.subtract(Counter((t["amount"], t["currency"], t["kind"]) for t in tied))
        for (amount, cur, kind), n in left.items():
            if n > 0:
                buckets[(UNTIED, kind, cur)] += [amount] * n
    costs = [{"leg": k[0], "kind": k[1], "currency": k[2],
              "median": f"{statistics.median(v):,.0f}", "n": c(len(v))}
             for k, v in sorted(buckets.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    # 4. bribes by country and by who received them
    bribe_counts = Counter((b.get("country") or "unknown", b.get("payer_context") or "other")
                           for r in this for b in r["bribes"])
    bribes = [{"country": k[0], "payer": k[1], "count": c(v)}
              for k, v in sorted(bribe_counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    # 5. new and rising terms
    window = [r for r in rel if r["week"] in weeks]
    texts = _texts(catalog, [r["post_id"] for r in window])
    term_week: dict[str, Counter] = defaultdict(Counter)
    for r in window:
        t = texts[r["post_id"]].lower()
        for term in trend_terms():
            if term.lower() in t:
                term_week[term][r["week"]] += 1
    terms = []
    for term, cnt in term_week.items():
        now = cnt[week]
        before = [cnt[w] for w in weeks[:-1]]
        mean = sum(before) / len(before)
        if now and not any(before):
            status = "new"
        elif now and now >= 2 * max(mean, 0.5):
            status = "rising"
        else:
            continue
        terms.append({"term": term, "status": status, "count": c(now), "previous_mean": mean_shown(before, k)})
    terms.sort(key=lambda t: (t["status"], t["term"]))
    # 6. most-reposted clips (same audio / media), among clips posted this week
    groups: dict[str, list[str]] = defaultdict(list)
    for tid, pids in catalog.transcript_groups().items():
        groups[tid] += pids
    by_id = {r["post_id"]: r for r in rows}
    reposted = []
    for _tid, pids in groups.items():
        members = sorted((by_id[p] for p in pids if p in by_id), key=lambda r: r["posted_at"])
        members = [m for m in members if m["posted_at"][:10] < end.isoformat()]
        if len(members) >= 2 and any(m["week"] == week for m in members):
            reposted.append({"posts": c(len(members)), "n": len(members), "first": _ref(members[0], catalog, scrub),
                             "platforms": ", ".join(sorted({m["platform"] for m in members}))})
    reposted.sort(key=lambda x: -x["n"])
    # 7. earliest sources of the week's top claims (its top legs and most quoted prices)
    claims = []
    for lg in top_legs[:3]:
        first = next((r for r in upto if lg["key"] in legs(r["route"])), None)
        if first:
            claims.append({"claim": f"route leg {lg['leg']}", "earliest": _ref(first, catalog, scrub)})
    quotes = Counter((k["kind"], float(k["amount"]), k["currency"]) for r in this for k in r["costs"])
    for (kind, amount, cur), _n in quotes.most_common(3):
        first = next((r for r in upto if any(k["kind"] == kind and float(k["amount"]) == amount and k["currency"] == cur
                                             for k in r["costs"])), None)
        if first:
            claims.append({"claim": f"{kind} cost {amount:,.0f} {cur}", "earliest": _ref(first, catalog, scrub)})
    # 8. collector health
    health = []
    for source, n in catalog.posts_per_source(start.isoformat(), end.isoformat()):
        health.append({"source": scrub.source(source), "posts": c(n)})
    failures = [{"stage": stage, "code": code, "count": c(n)} for stage, code, n in catalog.failure_counts()]
    return {
        "week": week, "start": start.isoformat(), "end": (end - timedelta(days=1)).isoformat(),
        "new": what_is_new(catalog, week, start, end, k=k, scrub=scrub),
        "coverage": source_coverage(catalog, week, end, k=k, scrub=scrub),
        "summary": {"relevant": c(per_week[week]), "all": c(all_week[week]), "previous_mean": mean_shown(prev, k)},
        "min_count": k, "privacy": scrub.provenance(),
        "volume": volume, "top_legs": top_legs, "top_countries": top_countries, "costs": costs,
        "bribes": bribes, "terms": terms, "reposted": reposted, "claims": claims, "health": health,
        "failures": failures, "taken_down": taken_down(catalog, start, end),
        "view": {"min_confidence": f"{floor:g}", "posts": "every post" if every else "relevant posts"},
    }


GONE = ("deleted", "private", "geo_blocked", "account_gone")


def taken_down(catalog: Catalog, start: date, end: date) -> list[dict[str, Any]]:
    """Posts `routewatch recheck` last saw gone (deleted, private, geo-blocked, account gone) since a date in
    this week: per state how many (the <5 rule), since when, and the first post seen so."""
    per: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pid in catalog.items_done_with("recheck", tuple(GONE)):
        st = catalog.recheck_state(pid)
        if st and start.isoformat() <= st["since"][:10] < end.isoformat():
            per[st["state"]].append((st["since"], pid))
    return [{"state": state.replace("_", " "), "count": c(len(v)), "since": min(v)[0][:10],
             "post": _post_ref(catalog, min(v)[1])} for state, v in sorted(per.items())]


FIRST_SEEN_SHOWN = 20


def what_is_new(catalog: Catalog, week: str, start: date, end: date, *, k: int = SMALL,
                scrub: Any = None) -> dict[str, Any]:
    """The "what is new this week" section from routewatch.changes: changes beyond chance (with the test
    stated), what the catalog shows for the first time, and the prices per leg of this month and the two
    before. Only display values: every count goes through c() and each item names one post (its first,
    or for a fall the last that still said it), never a list whose length would tell a count under 5."""
    def c(n: int) -> str:
        return shown(n, k)

    wc = week_changes(catalog, week)
    changes = []
    for ch in wc["changes"]:
        ref = ch["posts"][-1] if ch["direction"] == "fall" else ch["posts"][0]
        changes.append({"label": ch["label"], "kind": ch["kind"],
                        "direction": "rose" if ch["direction"] == "rise" else "fell",
                        "status": "new this week" if ch["onset"] else "continuing",
                        "count": c(ch["count"]), "previous": c(ch["baseline_count"]), "p": f"{ch['p']:.1e}",
                        "post": _post_ref(catalog, ref["post_id"], scrub)})
    first = [{"label": f["label"], "kind": f["kind"], "count": c(f["count"]),
              "post": _post_ref(catalog, f["posts"][0]["post_id"], scrub)} for f in wc["first_seen"][:FIRST_SEEN_SHOWN]]
    m0 = date(start.year, start.month, 1)
    since = date(m0.year - (m0.month <= 2), (m0.month - 3) % 12 + 1, 1)
    prices = [{"leg": r["label"], "kind": r["kind"], "currency": r["currency"], "month": r["month"],
               "median": f"{r['median']:,.0f}", "quotes": c(r["n"]),
               "range": f"{r['min']:,.0f}" if r["min"] == r["max"] else f"{r['min']:,.0f}–{r['max']:,.0f}"}
              for r in leg_prices(catalog, since=since.isoformat(), until=end.isoformat())]
    more = len(wc["first_seen"]) - len(first)
    return {"method": wc["method"], "tests": wc["tests"], "changes": changes, "first_seen": first,
            "first_seen_more": f"and {c(more)} more" if more > 0 else "", "prices": prices}


GAP_WEEKS = 2  # this many weeks or more in a row without a post from a source is a gap


def source_coverage(catalog: Catalog, week: str, end: date, *, k: int = SMALL,
                    scrub: Any = None) -> list[dict[str, Any]]:
    """Per source (as post_sightings name it), over its posts posted before the end of `week`: first and
    last posting date, posts per week from its first week to this one (under the "<5" rule), and its gaps:
    runs of GAP_WEEKS or more weeks without a post, the last one open when the source is silent still."""
    per: dict[str, Counter] = defaultdict(Counter)
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for r in catalog.source_posting_times(end.isoformat()):
        try:
            wk = period_of(r[1], "week")
        except ValueError:  # an unreadable date counts nowhere
            continue
        per[r[0]][wk] += 1
        first.setdefault(r[0], r[1][:10])
        last[r[0]] = r[1][:10]
    out = []
    for source in sorted(per):
        weeks = []
        d = date.fromisoformat(first[source])
        d -= timedelta(days=d.weekday())
        while week_of(d) <= week:
            weeks.append(week_of(d))
            d += timedelta(weeks=1)
        gaps, run = [], []
        for w in weeks + [""]:
            if w and per[source][w] == 0:
                run.append(w)
                continue
            if len(run) >= GAP_WEEKS:
                span = f"{run[0]} – {run[-1]}" + (" (still silent)" if not w else "")
                gaps.append(f"{span}, {len(run)} weeks")
            run = []
        counts = [per[source][w] for w in weeks]
        out.append({"source": scrub.source(source) if scrub is not None else source, "first": first[source],
                    "last": last[source], "per_week": mean_shown(counts, k), "weeks": len(weeks),
                    "gaps": "; ".join(gaps) or "none"})
    return out


def _post_ref(catalog: Catalog, post_id: str, scrub: Any = None) -> dict[str, Any]:
    """A post as the digest names it: through routewatch.view, like every other output."""
    p = catalog.get_post(post_id)
    if p is None:
        return {"post_id": post_id, "platform": "", "posted_at": "", "url": "", "url_is_link": False, "author": ""}
    v = PostView.of(p, scrub if scrub is not None else policy_of(catalog))
    return {"post_id": p.post_id, "platform": p.platform, "platform_id": p.platform_id, "posted_at": p.posted_at[:10],
            "url": v.url, "url_is_link": v.url_is_link, "author": v.author}


def policy_of(catalog: Catalog) -> Any:
    """The default output policy for a catalog read without settings (its data dir's key)."""
    return policy(SimpleNamespace(privacy=PrivacySettings(), data_dir=catalog.data_dir or Path(".")), catalog)


# Markdown has no autoescape of its own. Controls and bidi overrides are shown as U+FFFD, a line break
# would end the table row, and these characters would become markup: \ ` * _ [ ] | ~ are backslash-
# escaped; & > and a < that could open a tag, comment or autolink become entities (a "<5" count stays).
_MD_CONTROL = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{C1_CONTROLS}{BIDI_CONTROLS}]")
_MD_BREAK = re.compile("\\s*[\r\n\u2028\u2029]+\\s*")
_MD_PUNCT = re.compile(r"([\\`*_\[\]|~])")
_MD_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")


def md_escape(value: Any) -> str:
    """A value as literal text inside a line (a table cell) of a Markdown document."""
    s = _MD_BREAK.sub(" ", _MD_CONTROL.sub("\ufffd", str(value)))
    s = _MD_PUNCT.sub(r"\\\1", s.replace("&", "&amp;").replace(">", "&gt;"))
    return _MD_TAG_OPEN.sub("&lt;", s)


_ENVS: dict[str, Environment] = {}


def _env(kind: str = "html") -> Environment:
    """The HTML templates are autoescaped by Jinja; the Markdown ones pass every value through md_escape."""
    if kind not in _ENVS:
        loader = PackageLoader("routewatch", "templates")
        if kind == "md":
            # HTML autoescape would be wrong for Markdown; md_escape (finalize) is its autoescape.
            _ENVS[kind] = Environment(loader=loader, autoescape=False, finalize=md_escape,  # noqa: S701
                                      trim_blocks=True, lstrip_blocks=True)
        else:
            _ENVS[kind] = Environment(loader=loader, autoescape=select_autoescape(["html", "htm", "xml"]),
                                      trim_blocks=True, lstrip_blocks=True)
    return _ENVS[kind]


def charts(d: dict[str, Any]) -> dict[str, str]:
    vol = d["volume"]
    k = d.get("min_count", SMALL)
    # A suppressed count is drawn as a hatched band up to the threshold: its height tells nothing.
    legs = d["top_legs"]
    return {
        "volume.svg": bar_chart([v["week"] for v in vol], [v["n"] for v in vol],
                                f"Relevant posts per week (under {k}: a hatched <{k} band)",
                                highlight=len(vol) - 1, value_labels=[v["relevant"] for v in vol],
                                suppressed=[0 < v["n"] < k for v in vol], band=k),
        "legs.svg": hbar_chart([lg["leg"] for lg in legs] or ["(none)"], [lg["n"] for lg in legs] or [0],
                               f"Route legs, {d['week']}", value_labels=[lg["count"] for lg in legs] or ["0"],
                               suppressed=[0 < lg["n"] < k for lg in legs] or [False], band=k),
    }


def render_markdown(d: dict[str, Any]) -> str:
    return _env("md").get_template("digest.md").render(d=d)


def render_html(d: dict[str, Any]) -> str:
    return _env().get_template("digest.html").render(d=d, charts=charts(d))


def write_digest(d: dict[str, Any], out_dir: Path, *, data_dir: Path | None = None,
                 force: bool = False) -> dict[str, str]:
    """Write the charts, digest.md and digest.html into `out_dir`, each through routewatch.core.outputs."""
    check_output_dir(out_dir, data_dir=data_dir)
    out_dir = Path(out_dir)
    files = {**charts(d), "digest.md": render_markdown(d), "digest.html": render_html(d)}
    paths = {}
    for name, text in files.items():
        write_output(out_dir / name, text, data_dir=data_dir, force=force)
        paths[name] = str(out_dir / name)
    return paths
