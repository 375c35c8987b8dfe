"""Charts as inline SVG generated here (no JavaScript chart library): trend small multiples and the
route flow diagram.

In: the public dicts from routewatch.web.queries (trends series, route legs).  Out: `Markup` holding
one <svg> per chart, with <title>/<desc> for screen readers and every label escaped. Styling by
presentation attributes and CSS classes only (the app's CSP forbids inline styles).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from routewatch.web.render import country_name, fmt_amount

FIELD_COLOURS = {"country": "#2563eb", "leg": "#0f766e", "term": "#7c3aed", "platform": "#b45309"}
TOTAL_FILL = "#dfe4ea"
INK = "#1f2933"
MUTED = "#52606d"


def _t(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, s: str, *, size: int = 12, anchor: str = "start", weight: str = "normal",
          fill: str = INK, cls: str = "") -> str:
    c = f' class="{escape(cls)}"' if cls else ""
    return (f'<text x="{_t(x)}" y="{_t(y)}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}"{c}>{escape(s)}</text>')


def _nice_max(v: int) -> int:
    if v <= 5:
        return max(v, 1)
    for step in (2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if v <= step * 5:
            return -(-v // step) * step
    return v


def _short_period(p: str) -> str:
    return p.split("-", 1)[1] if "-W" in p else p


def value_label(field: str, value: str) -> str:
    if field == "country":
        return f"{value} · {country_name(value)}"
    if field == "leg" and ">" in value:
        a, b = value.split(">", 1)
        return f"{a} → {b}  ({country_name(a)} → {country_name(b)})"
    return value


def bar_panel(title: str, periods: Sequence[str], counts: Sequence[int], totals: Sequence[int], ymax: int, *,
              colour: str, width: int = 320, height: int = 150, show_totals: bool = True, desc: str = "") -> Markup:
    """One small chart: light bars = all relevant posts that week, coloured bars = this value's posts."""
    ml, mr, mt, mb = 30, 8, 28, 22
    pw, ph = width - ml - mr, height - mt - mb
    n = max(1, len(periods))
    slot = pw / n
    bw = max(2.0, slot * 0.72)
    ymax = _nice_max(max(1, ymax))

    def y(v: float) -> float:
        return mt + ph - (v / ymax) * ph

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title><desc>{escape(desc)}</desc>',
             _text(ml, 16, title, size=13, weight="600")]
    for v in (0, ymax // 2, ymax) if ymax >= 2 else (0, ymax):
        parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{_t(y(v))}" y2="{_t(y(v))}" stroke="#e4e7eb" stroke-width="1"/>')
        parts.append(_text(ml - 4, y(v) + 4, str(v), size=10, anchor="end", fill=MUTED))
    for i, p in enumerate(periods):
        x = ml + i * slot + (slot - bw) / 2
        tot = totals[i] if i < len(totals) else 0
        cnt = counts[i] if i < len(counts) else 0
        label = f"{p}: {cnt} of {tot} relevant posts" if show_totals else f"{p}: {cnt}"
        if show_totals and tot:
            parts.append(f'<rect x="{_t(x)}" y="{_t(y(tot))}" width="{_t(bw)}" height="{_t(y(0) - y(tot))}" '
                         f'fill="{TOTAL_FILL}"><title>{escape(label)}</title></rect>')
        if cnt:
            parts.append(f'<rect x="{_t(x)}" y="{_t(y(cnt))}" width="{_t(bw)}" height="{_t(y(0) - y(cnt))}" '
                         f'fill="{colour}"><title>{escape(label)}</title></rect>')
    parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{_t(y(0))}" y2="{_t(y(0))}" stroke="{MUTED}" stroke-width="1"/>')
    if periods:
        idx = sorted({0, len(periods) // 2, len(periods) - 1})
        for i in idx:
            anchor = "start" if i == 0 else "end" if i == len(periods) - 1 else "middle"
            x = ml + i * slot + (slot / 2 if anchor == "middle" else 0 if anchor == "start" else slot)
            parts.append(_text(x, height - 6, _short_period(periods[i]), size=10, anchor=anchor, fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from escaped pieces


def trend_charts(data: dict[str, Any], top: int = 8) -> dict[str, Any]:
    """The totals chart and one small multiple per value (top N by posts) for a trends dict."""
    field, periods, totals = data["field"], data["periods"], data["totals"]
    colour = FIELD_COLOURS.get(field, "#2563eb")
    ymax = max(totals, default=0)
    total_chart = bar_panel(
        f"All relevant posts per {data['by']} — {sum(totals)} in {len(periods)} {data['by']}s", periods, totals, totals,
        ymax, colour="#94a3b8", width=980, height=190, show_totals=False,
        desc="Number of relevant posts in each period")
    panels = []
    for s in data["series"][:top]:
        title = f"{value_label(field, s['value'])} — {s['total']}"
        panels.append(bar_panel(title, periods, s["counts"], totals, ymax, colour=colour,
                                desc=f"Posts per {data['by']} mentioning {s['value']}, against all relevant posts"))
    return {"total": total_chart, "panels": panels, "more": max(0, len(data["series"]) - top)}


def flow_diagram(routes: dict[str, Any], width: int = 1000) -> Markup:
    """Arc diagram of route legs: countries left to right in the order journeys pass them, one arc per
    leg (above when it goes forward, below when back), width by post count, labelled with the count
    and the median quoted cost."""
    nodes: list[str] = routes["countries"]
    legs = routes["legs"]
    if not nodes or not legs:
        return Markup('<p class="empty">No route with two or more countries yet.</p>')
    ml = 50
    spacing = (width - 2 * ml) / max(1, len(nodes) - 1)
    xs = {c: ml + i * spacing for i, c in enumerate(nodes)}
    maxn = max(leg["posts"] for leg in legs)

    def ry(a: str, b: str) -> float:
        return max(34.0, abs(xs[b] - xs[a]) / 2 * 0.62)

    up = max((ry(leg["from"], leg["to"]) for leg in legs if xs[leg["to"]] > xs[leg["from"]]), default=30)
    down = max((ry(leg["from"], leg["to"]) for leg in legs if xs[leg["to"]] < xs[leg["from"]]), default=0)
    base = 40 + up + 28
    height = int(base + 60 + (down + 30 if down else 0))
    parts = [f'<svg class="chart flow" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             'xmlns="http://www.w3.org/2000/svg"><title>Route legs between countries</title>'
             '<desc>Arcs between countries; thicker arcs are described by more posts. Labels give the number '
             'of posts and the median cost quoted in them.</desc>'
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="5" markerHeight="5" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#0f766e"/></marker></defs>']
    labels = []
    for leg in sorted(legs, key=lambda g: -g["posts"]):
        a, b = leg["from"], leg["to"]
        x1, x2 = xs[a], xs[b]
        forward = x2 > x1
        r = ry(a, b)
        sw = 1.5 + 9.0 * leg["posts"] / maxn
        sweep = 1 if forward else 1
        y0 = base if forward else base + 8
        tip = f"{a} → {b}: {leg['posts']} posts" + _median_text(leg, long=True)
        parts.append(f'<path d="M{_t(x1)},{_t(y0)} A{_t(abs(x2 - x1) / 2)},{_t(r)} 0 0,{sweep} {_t(x2)},{_t(y0)}" '
                     f'fill="none" stroke="#0f766e" stroke-opacity="0.55" stroke-width="{_t(sw)}" '
                     f'marker-end="url(#arrow)"><title>{escape(tip)}</title></path>')
        ly = y0 - r - 8 if forward else y0 + r + 16
        mx = (x1 + x2) / 2
        labels.append(_text(mx, ly, f"{leg['posts']} post{'s' if leg['posts'] != 1 else ''}", size=12,
                            anchor="middle", weight="600", cls="halo"))
        med = _median_text(leg)
        if med:
            labels.append(_text(mx, ly + (13 if not forward else -14), med, size=11, anchor="middle", fill=MUTED,
                                cls="halo"))
    parts.extend(labels)
    for c in nodes:
        x = xs[c]
        parts.append(f'<circle cx="{_t(x)}" cy="{_t(base + 4)}" r="7" fill="#fff" stroke="{INK}" stroke-width="2"/>')
        parts.append(_text(x, base + 28, c, size=13, anchor="middle", weight="700"))
        parts.append(_text(x, base + 43, country_name(c), size=10, anchor="middle", fill=MUTED))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - built from escaped pieces


def _median_text(leg: dict[str, Any], long: bool = False) -> str:
    cur = leg.get("headline_currency")
    if not cur:
        return ""
    m = leg["median_cost"][cur]
    s = f"median {fmt_amount(m['median'])} {cur}"
    if long:
        others = [f"{fmt_amount(v['median'])} {c} (n={v['n']})" for c, v in leg["median_cost"].items() if c != cur]
        return f"; {s} (n={m['n']})" + (f"; also {', '.join(others)}" if others else "")
    return s + f" (n={m['n']})"
