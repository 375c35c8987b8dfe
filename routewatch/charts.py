"""Every chart RouteWatch draws, as SVG written here (no plotting or JavaScript chart library): the
digest's bars (`bar_chart`, `hbar_chart`), the trends page's small multiples (`bar_panel`,
`trend_charts`), the route flow (`flow_diagram`) and the route map (`route_map`).

In: labels and numbers (the public dicts of routewatch.web.queries for the web).  Out: one SVG per chart
(a string, or `Markup` for the pages), every label escaped, styled by attributes and classes only (the
web's CSP forbids inline styles). The small-count rule is drawn in one place (`suppressed_band`): a count
under the threshold is a hatched band from 0 to the threshold labelled "<k", never a bar of its own height.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from routewatch.web.render import country_name, fmt_amount

FIELD_COLOURS = {"country": "#2563eb", "leg": "#0f766e", "term": "#7c3aed", "platform": "#b45309"}
TOTAL_FILL = "#dfe4ea"
INK = "#1f2933"
MUTED = "#52606d"
BAR = "#2e86c1"
HIGHLIGHT = "#c0392b"

Box = tuple[float, float, float, float]


# ---- shared SVG pieces ---------------------------------------------------------------------------------
def _t(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, s: str, *, size: int = 12, anchor: str = "start", weight: str = "normal",
          fill: str = INK, cls: str = "", extra: str = "") -> str:
    c = f' class="{escape(cls)}"' if cls else ""
    return (f'<text x="{_t(x)}" y="{_t(y)}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}"{c}{extra}>{escape(s)}</text>')


def hatch_pattern(pid: str) -> str:
    """The hatch a suppressed small count is filled with (`<defs>` holding pattern `pid`)."""
    return (f'<defs><pattern id="{pid}" patternUnits="userSpaceOnUse" width="6" height="6" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f1f5f9"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{MUTED}" stroke-width="2"/></pattern></defs>')


def suppressed_band(x: float, y: float, w: float, h: float, pid: str, title: str = "") -> str:
    """A suppressed small count: a dashed, hatched band (pattern `pid`) over the range it could be in."""
    tip = f"<title>{escape(title)}</title>" if title else ""
    return (f'<rect class="suppressed" x="{_t(x)}" y="{_t(y)}" width="{_t(w)}" height="{_t(h)}" fill="url(#{pid})" '
            f'stroke="{MUTED}" stroke-dasharray="3 2">{tip}</rect>')


def clear_of(box: Box, boxes: list[Box]) -> bool:
    """Whether `box` (x0, y0, x1, y1) overlaps none of `boxes`."""
    return all(box[2] <= a or box[0] >= c or box[3] <= b or box[1] >= d for a, b, c, d in boxes)


def _svg_open(width: int, height: int, title: str) -> str:
    """A standalone SVG file's opening tag and its heading."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11"><title>{escape(title)}</title>')


# ---- the digest's bars (standalone SVG files) --------------------------------------------------------------
def _band_values(values: list[float], suppressed: list[bool] | None, band: float) -> tuple[list[float], list[bool], float]:
    """Values with each suppressed one replaced by the threshold, the flags, and the scale's top (at least
    twice the threshold when a band is drawn, so a band is never full height)."""
    hidden = suppressed or [False] * len(values)
    values = [band if s else v for v, s in zip(values, hidden, strict=True)]
    return values, hidden, max([v for v in values if v] + [1] + ([2 * band] if any(hidden) else []))


def bar_chart(labels: list[str], values: list[float], title: str, *, highlight: int | None = None,
              width: int = 640, height: int = 240, value_labels: list[str] | None = None,
              suppressed: list[bool] | None = None, band: float = 5) -> str:
    """Bars; where `suppressed[i]`, values[i] is not drawn: a hatched band of height `band` (the threshold)."""
    pad_l, pad_b, pad_t = 40, 46, 30
    bw = (width - pad_l - 10) / max(1, len(values))
    values, hidden, vmax = _band_values(values, suppressed, band)
    out = [_svg_open(width, height, title), _text(pad_l, 18, title, size=14, weight="bold"),
           f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width - 10}" y2="{height - pad_b}" stroke="#888"/>',
           hatch_pattern("rw-hatch") if any(hidden) else ""]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        h = (height - pad_b - pad_t) * (v / vmax) if v else 0
        x = pad_l + i * bw + bw * 0.15
        y = height - pad_b - h
        if hidden[i]:
            out.append(suppressed_band(x, y, bw * 0.7, h, "rw-hatch"))
        else:
            colour = HIGHLIGHT if highlight == i else BAR
            out.append(f'<rect x="{_t(x)}" y="{_t(y)}" width="{_t(bw * 0.7)}" height="{_t(h)}" fill="{colour}"/>')
        mid = x + bw * 0.35
        out.append(_text(mid, y - 4, value_labels[i] if value_labels else f"{v:g}", size=11, anchor="middle"))
        out.append(_text(mid, height - pad_b + 14, lab, size=11, anchor="middle",
                         extra=f' transform="rotate(30 {_t(mid)} {height - pad_b + 14})"'))
    out.append("</svg>")
    return "".join(out)


def hbar_chart(labels: list[str], values: list[float], title: str, *, width: int = 640,
               value_labels: list[str] | None = None, suppressed: list[bool] | None = None, band: float = 5) -> str:
    """Horizontal bars; a suppressed one is a hatched band as long as the threshold `band`."""
    row, pad_l = 22, 140
    height = 40 + row * max(1, len(values))
    values, hidden, vmax = _band_values(values, suppressed, band)
    out = [_svg_open(width, height, title), _text(4, 18, title, size=14, weight="bold"),
           hatch_pattern("rw-hatch") if any(hidden) else ""]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 30 + i * row
        w = (width - pad_l - 60) * (v / vmax) if v else 0
        out.append(_text(pad_l - 6, y + 14, lab, size=11, anchor="end"))
        if hidden[i]:
            out.append(suppressed_band(pad_l, y + 3, w, row - 6, "rw-hatch"))
        else:
            out.append(f'<rect x="{pad_l}" y="{y + 3}" width="{_t(w)}" height="{row - 6}" fill="{BAR}"/>')
        out.append(_text(pad_l + w + 4, y + 14, value_labels[i] if value_labels else f"{v:g}", size=11))
    out.append("</svg>")
    return "".join(out)


# ---- the trends page's small multiples -----------------------------------------------------------------
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


_HATCH_IDS = itertools.count()


def bar_panel(title: str, periods: Sequence[str], counts: Sequence[int | None], totals: Sequence[int | None],
              ymax: int, *, colour: str, width: int = 320, height: int = 150, show_totals: bool = True,
              desc: str = "", min_count: int = 5) -> Markup:
    """One small chart: light bars = all relevant posts that week, coloured bars = this value's posts. A
    suppressed count (None: 1 to min_count - 1) is a hatched band up to min_count labelled "<5", never a
    bar of its own height."""
    ml, mr, mt, mb = 30, 8, 28, 22
    k = min_count
    hatch = f"hatch{next(_HATCH_IDS)}"
    pw, ph = width - ml - mr, height - mt - mb
    n = max(1, len(periods))
    slot = pw / n
    bw = max(2.0, slot * 0.72)
    ymax = _nice_max(max(k, ymax, 2 * k if any(v is None for v in (*counts, *totals)) else 0))

    def y(v: float) -> float:
        return mt + ph - (v / ymax) * ph

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title><desc>{escape(desc)}</desc>',
             _text(ml, 16, title, size=13, weight="600"),
             hatch_pattern(hatch)]
    ticks = (0, ymax // 2, ymax) if ymax // 2 >= k else (0, ymax)  # no tick names a count under k
    for v in ticks:
        parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{_t(y(v))}" y2="{_t(y(v))}" stroke="#e4e7eb" stroke-width="1"/>')
        parts.append(_text(ml - 4, y(v) + 4, str(v), size=10, anchor="end", fill=MUTED))
    for i, p in enumerate(periods):
        x = ml + i * slot + (slot - bw) / 2
        tot = totals[i] if i < len(totals) else 0
        cnt = counts[i] if i < len(counts) else 0
        tot_s, cnt_s = (f"<{k}" if v is None else str(v) for v in (tot, cnt))
        label = f"{p}: {cnt_s} of {tot_s} relevant posts" if show_totals else f"{p}: {cnt_s}"
        for v, fill, shown in ((tot, TOTAL_FILL, show_totals), (cnt, colour, True)):
            if not shown or v == 0:
                continue
            if v is None:  # suppressed: the band of what it could be, hatched
                parts.append(suppressed_band(x, y(k), bw, y(0) - y(k), hatch, label))
            else:
                parts.append(f'<rect x="{_t(x)}" y="{_t(y(v))}" width="{_t(bw)}" height="{_t(y(0) - y(v))}" '
                             f'fill="{fill}"><title>{escape(label)}</title></rect>')
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
    k = data.get("min_count", 5)
    colour = FIELD_COLOURS.get(field, "#2563eb")
    ymax = max((k if t is None else t for t in totals), default=0)
    total_chart = bar_panel(
        f"All relevant posts per {data['by']} — {data['all_shown']} in {len(periods)} {data['by']}s", periods, totals,
        totals, ymax, colour="#94a3b8", width=1200, height=190, show_totals=False,
        desc="Number of relevant posts in each period", min_count=k)
    panels = []
    for s in data["series"][:top]:
        title = f"{value_label(field, s['value'])} — {s['total_shown']}"
        panels.append(bar_panel(title, periods, s["counts"], totals, ymax, colour=colour, min_count=k,
                                desc=f"Posts per {data['by']} mentioning {s['value']}, against all relevant posts"))
    return {"total": total_chart, "panels": panels, "more": max(0, len(data["series"]) - top)}


def _layers(nodes: list[str], edges: list[tuple[str, str, int]]) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Columns for a left-to-right flow: cycles broken at their lightest-visited edge (DFS from nodes in
    journey order), longest-path layering, and start countries pulled right next to where they lead."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b, _ in sorted(edges, key=lambda e: -e[2]):
        succ[a].append(b)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}

    def dfs(v: str) -> None:
        state[v] = 1
        for w in succ[v]:
            if state.get(w) == 1:
                back.add((v, w))
            elif w not in state:
                dfs(w)
        state[v] = 2

    for n in nodes:
        if n not in state:
            dfs(n)
    dag = [(a, b) for a, b, _ in edges if (a, b) not in back]
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    fwd: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in dag:
        preds[b].append(a)
        fwd[a].append(b)
    layer: dict[str, int] = {}

    def depth(v: str) -> int:
        if v not in layer:
            layer[v] = 0  # guards against a cycle that slipped through
            layer[v] = max((depth(u) + 1 for u in preds[v]), default=0)
        return layer[v]

    for n in nodes:
        depth(n)
    for n in nodes:
        if not preds[n] and fwd[n]:
            layer[n] = max(0, min(layer[w] for w in fwd[n]) - 1)
    return layer, back


def flow_diagram(routes: dict[str, Any], width: int = 1100) -> Markup:
    """Flow diagram of route legs: countries in columns left to right in the order journeys pass them,
    one curve per leg with its width by post count, labelled with the count and the median quoted cost.
    Legs that go back against the flow are dashed."""
    nodes: list[str] = routes["countries"]
    legs = routes["legs"]
    if not nodes or not legs:
        return Markup('<p class="empty">No route with two or more countries yet.</p>')
    layer, back = _layers(nodes, [(g["from"], g["to"], g["posts"]) for g in legs])
    cols: dict[int, list[str]] = {}
    for n in nodes:
        cols.setdefault(layer[n], []).append(n)
    # order inside a column by the mean row of the countries that lead into it (one barycentre sweep)
    row: dict[str, float] = {}
    for li in sorted(cols):
        def bary(n: str) -> tuple[float, str]:
            ins = [row[g["from"]] for g in legs if g["to"] == n and g["from"] in row]
            return (sum(ins) / len(ins) if ins else 0.0, n)
        cols[li].sort(key=bary)
        for i, n in enumerate(cols[li]):
            row[n] = float(i)
    ncols = max(cols) + 1
    nrows = max(len(v) for v in cols.values())
    bw, bh, gap_y = max(84, int(max(text_width(country_name(n), 10) for n in nodes)) + 12), 38, 52
    ml, mt = 16, 36
    width = max(width, ncols * (bw + 95))
    col_w = (width - 2 * ml - bw) / max(1, ncols - 1)
    height = int(mt + nrows * (bh + gap_y) + 40)
    xy: dict[str, tuple[float, float]] = {}
    for li, members in cols.items():
        off = (nrows - len(members)) * (bh + gap_y) / 2
        for i, n in enumerate(members):
            xy[n] = (ml + li * col_w, mt + off + i * (bh + gap_y))
    maxn = max(g["posts"] for g in legs)
    parts = [f'<svg class="chart flow" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             'xmlns="http://www.w3.org/2000/svg"><title>Route legs between countries</title>'
             '<desc>Countries in columns in the order journeys pass them; a curve per leg, thicker when more posts '
             'describe it, labelled with the number of posts and the median cost quoted in them.</desc>'
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="11" markerHeight="11" '
             'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#0f766e"/></marker></defs>']
    labels: list[str] = []
    boxes: list[tuple[float, float, float, float]] = [(x - 4, y - 4, x + bw + 4, y + bh + 4) for x, y in xy.values()]
    for g in sorted(legs, key=lambda g: -g["posts"]):
        (x1, y1), (x2, y2) = xy[g["from"]], xy[g["to"]]
        sw = 2 + 12.0 * g["posts"] / maxn
        is_back = (g["from"], g["to"]) in back or x2 <= x1
        if not is_back:
            ax, ay, bx, by = x1 + bw, y1 + bh / 2, x2 - 3, y2 + bh / 2
        else:
            ax, ay, bx, by = x1 + bw / 2, y1 + bh, x2 + bw / 2, y2 + bh
        cx = (ax + bx) / 2
        d = (f"M{_t(ax)},{_t(ay)} C{_t(cx)},{_t(ay)} {_t(cx)},{_t(by)} {_t(bx)},{_t(by)}" if not is_back else
             f"M{_t(ax)},{_t(ay)} C{_t(ax)},{_t(ay + 60)} {_t(bx)},{_t(by + 60)} {_t(bx)},{_t(by)}")
        tip = f"{g['from']} → {g['to']}: {g['posts']} post{'s' if g['posts'] != 1 else ''}" + _median_text(g, long=True)
        dash = ' stroke-dasharray="6 4"' if is_back else ""
        parts.append(f'<path d="{d}" fill="none" stroke="#0f766e" stroke-opacity="0.45" stroke-width="{_t(sw)}"{dash} '
                     f'marker-end="url(#arrow)"><title>{escape(tip)}</title></path>')
        med = _median_text(g)
        count = f"{g['posts']} post{'s' if g['posts'] != 1 else ''}"
        w = max(text_width(count, 12, bold=True), text_width(med, 11)) + 8
        h = 28.0 if med else 15.0
        ctrl = ((ax, ay), (cx, ay), (cx, by), (bx, by)) if not is_back else \
            ((ax, ay), (ax, ay + 60), (bx, by + 60), (bx, by))
        mx, my = _label_spot(boxes, ctrl, w, h)
        labels.append(_text(mx, my - (2 if med else -4), count, size=12, anchor="middle", weight="600", cls="halo flowlabel"))
        if med:
            labels.append(_text(mx, my + 12, med, size=11, anchor="middle", fill=MUTED, cls="halo flowlabel"))
    for n, (x, y) in xy.items():
        parts.append(f'<rect x="{_t(x)}" y="{_t(y)}" width="{bw}" height="{bh}" rx="6" fill="#fff" stroke="{INK}" '
                     f'stroke-width="1.5"><title>{escape(country_name(n))}</title></rect>')
        parts.append(_text(x + bw / 2, y + 16, n, size=13, anchor="middle", weight="700", cls="flowlabel"))
        parts.append(_text(x + bw / 2, y + 30, country_name(n), size=10, anchor="middle", fill=MUTED, cls="flowlabel"))
    parts.extend(labels)
    parts.append("</svg>")
    bottom = int(max(b[3] for b in boxes) + 8)
    if bottom > height:  # a label pushed below the last row: grow the drawing rather than clip it
        parts[0] = parts[0].replace(f'0 0 {width} {height}" width="{width}" height="{height}"',
                                    f'0 0 {width} {bottom}" width="{width}" height="{bottom}"')
    return Markup("".join(parts))  # noqa: S704 - built from escaped pieces


def _bezier(c: tuple[tuple[float, float], ...], t: float) -> tuple[float, float]:
    u = 1 - t
    return (u ** 3 * c[0][0] + 3 * u * u * t * c[1][0] + 3 * u * t * t * c[2][0] + t ** 3 * c[3][0],
            u ** 3 * c[0][1] + 3 * u * u * t * c[1][1] + 3 * u * t * t * c[2][1] + t ** 3 * c[3][1])


def _label_spot(boxes: list[tuple[float, float, float, float]], ctrl: tuple[tuple[float, float], ...],
                w: float, h: float) -> tuple[float, float]:
    """Centre of a label on its own curve (middle first, then further along either way) where it
    overlaps no box or label already placed; failing that, the middle nudged off the others."""
    for t in (0.5, 0.38, 0.62, 0.28, 0.72):
        x, y = _bezier(ctrl, t)
        box = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        if clear_of(box, boxes):
            boxes.append(box)
            return x, y
    x, y = _bezier(ctrl, 0.5)
    return x, _free_y(boxes, x - w / 2, y - h / 2, w, h) + h / 2


def _free_y(boxes: list[tuple[float, float, float, float]], x: float, y: float, w: float, h: float) -> float:
    """The nearest y (trying below, then above, in 6-px steps) where a w×h label overlaps nothing placed."""
    def clear(yy: float) -> bool:
        return yy >= 2 and clear_of((x, yy, x + w, yy + h), boxes)

    for k in range(0, 400):
        for yy in (y + 6 * k, y - 6 * k):
            if clear(yy):
                boxes.append((x, yy, x + w, yy + h))
                return yy
    boxes.append((x, y, x + w, y + h))
    return y


def text_width(s: str, size: float, bold: bool = False) -> float:
    """A generous estimate of a label's rendered width in px (sans-serif): wide glyphs (CJK) count one em,
    capitals and digits 0.68 em, other Latin 0.58 em (+8 % bold), so boxes laid out from it do not touch."""
    em = sum(1.0 if ord(ch) > 0x2E80 else 0.68 if ch.isupper() or ch.isdigit() else 0.58 for ch in s)
    return em * size * (1.08 if bold else 1.0)


def _median_text(leg: dict[str, Any], long: bool = False) -> str:
    cur = leg.get("headline_currency")
    if not cur:
        return ""
    m = leg["median_cost"][cur]
    if long:
        others = [f"{fmt_amount(v['median'])} {c} (n={v['n']})" for c, v in leg["median_cost"].items() if c != cur]
        return (f"; median quoted cost {fmt_amount(m['median'])} {cur} (n={m['n']})"
                + (f"; also {', '.join(others)}" if others else ""))
    return f"median {fmt_amount(m['median'])} {cur}"


# ---- route map -------------------------------------------------------------------------------------------

_OUTLINE: list[list[list[float]]] | None = None


def outline_rings() -> list[list[list[float]]]:
    """The offline base map (web/static/outline.json: Natural Earth 110m, public domain), read once."""
    global _OUTLINE
    if _OUTLINE is None:
        import json
        from pathlib import Path

        f = Path(__file__).with_name("web") / "static" / "outline.json"
        _OUTLINE = json.loads(f.read_text(encoding="utf-8"))["rings"]
    return _OUTLINE


def _free_spot(boxes: list[tuple[float, float, float, float]], px: float, py: float, w: float, h: float,
               width: float, height: float) -> tuple[float, float] | None:
    """Top-left of a w×h label near point (px, py) — right, left, above, below, then further out — that
    stays inside the drawing and overlaps no box already taken; None when there is none."""
    for r in (5, 14, 26, 40):
        for dx, dy in ((r, -h / 2), (-r - w, -h / 2), (-w / 2, -r - h), (-w / 2, r), (r, -r - h), (-r - w, r),
                       (r, r), (-r - w, -r - h)):
            x, y = px + dx, py + dy
            if x < 1 or y < 1 or x + w > width - 1 or y + h > height - 1:
                continue
            if clear_of((x, y, x + w, y + h), boxes):
                return x, y
    return None


def route_map(routes: dict[str, Any], width: int = 1000, *, font: int = 12, cls: str = "") -> Markup:
    """The route on an offline base map: equirectangular projection over the bounding box of the route's
    country and place points (padded), land outlines from `outline_rings`, a line per leg between country
    points (width by posts), dots for places. Labels are placed greedily where they overlap no other label
    or dot; a label with no free spot is left out of the drawing and listed under it instead."""
    pts = routes.get("points") or []
    if not pts:
        return Markup('<p class="empty">No route with coordinates to map.</p>')
    lats = [p["lat"] for p in pts]
    lons = [p["lon"] for p in pts]
    pad_lon = max(4.0, (max(lons) - min(lons)) * 0.08)
    pad_lat = max(4.0, (max(lats) - min(lats)) * 0.12)
    lon0, lon1 = max(-180.0, min(lons) - pad_lon), min(180.0, max(lons) + pad_lon)
    lat0, lat1 = max(-85.0, min(lats) - pad_lat), min(85.0, max(lats) + pad_lat)
    sx = width / (lon1 - lon0)
    height = int(min(max(200.0, (lat1 - lat0) * sx), width * 1.2))
    sy = height / (lat1 - lat0)

    def proj(lat: float, lon: float) -> tuple[float, float]:
        return (lon - lon0) * sx, (lat1 - lat) * sy

    land = []
    for ring in outline_rings():
        if all(lo < lon0 for lo, _ in ring) or all(lo > lon1 for lo, _ in ring) or \
                all(la < lat0 for _, la in ring) or all(la > lat1 for _, la in ring):
            continue
        land.append("M" + " L".join(f"{_t((lo - lon0) * sx)},{_t((lat1 - la) * sy)}" for lo, la in ring) + "Z")
    kind_cls = f" {escape(cls)}" if cls else ""
    parts = [f'<svg class="chart routemap{kind_cls}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             'role="img" xmlns="http://www.w3.org/2000/svg"><title>Map of route legs</title>'
             '<desc>Countries of the routes as points joined by a line per leg, thicker when more posts describe it; '
             'named places as small dots. Base map: Natural Earth 1:110m outlines.</desc>'
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eef4f8"/>'
             f'<path d="{" ".join(land)}" fill="#f4f1ea" stroke="#b8b2a7" stroke-width="0.6"/>']
    where = {p["id"]: proj(p["lat"], p["lon"]) for p in pts if p["kind"] == "country"}
    legs = [g for g in routes.get("legs", []) if g["from"] in where and g["to"] in where]
    maxn = max((g["posts"] for g in legs), default=1)
    for g in sorted(legs, key=lambda g: g["posts"]):
        (x1, y1), (x2, y2) = where[g["from"]], where[g["to"]]
        tip = f"{g['from']} → {g['to']}: {g['posts']} post{'s' if g['posts'] != 1 else ''}" + _median_text(g, long=True)
        parts.append(f'<line x1="{_t(x1)}" y1="{_t(y1)}" x2="{_t(x2)}" y2="{_t(y2)}" stroke="#0f766e" '
                     f'stroke-opacity="0.55" stroke-width="{_t(1.5 + 6.0 * g["posts"] / maxn)}" stroke-linecap="round">'
                     f'<title>{escape(tip)}</title></line>')
    dots: list[tuple[float, float, dict[str, Any]]] = []
    for p in pts:
        x, y = proj(p["lat"], p["lon"])
        dots.append((x, y, p))
        r = 5 if p["kind"] == "country" else 3
        name = country_name(p["id"]) if p["kind"] == "country" else f"{p['id']} ({p['country']})"
        fill = INK if p["kind"] == "country" else "#b45309"
        parts.append(f'<circle cx="{_t(x)}" cy="{_t(y)}" r="{r}" fill="{fill}" stroke="#fff" stroke-width="1">'
                     f'<title>{escape(name)}</title></circle>')
    boxes = [(x - 6, y - 6, x + 6, y + 6) for x, y, _ in dots]
    unplaced: list[str] = []
    for x, y, p in dots:  # countries first (they come first in points), then places by post count
        label = p["id"]
        size = font if p["kind"] == "country" else font - 1
        w, h = text_width(label, size, bold=p["kind"] == "country") + 4, size * 1.3
        spot = _free_spot(boxes, x, y, w, h, width, height)
        if spot is None:
            unplaced.append(label if p["kind"] == "country" else f"{label} ({p['country']})")
            continue
        boxes.append((spot[0], spot[1], spot[0] + w, spot[1] + h))
        lx, ly = min(max(x, spot[0]), spot[0] + w), min(max(y, spot[1]), spot[1] + h)
        if abs(lx - x) + abs(ly - y) > 12:  # a label set further out: a thin leader line to its point
            parts.append(f'<line x1="{_t(x)}" y1="{_t(y)}" x2="{_t(lx)}" y2="{_t(ly)}" stroke="{MUTED}" '
                         'stroke-width="0.7"/>')
        parts.append(_text(spot[0] + 2, spot[1] + h * 0.78, label, size=size,
                           weight="700" if p["kind"] == "country" else "normal",
                           fill=INK if p["kind"] == "country" else "#7c2d12", cls="halo maplabel"))
    parts.append("</svg>")
    if unplaced:
        parts.append(f'<p class="small map-more">Also on the map (no room for a label): {escape(", ".join(unplaced))}</p>')
    return Markup("".join(parts))  # noqa: S704 - built from escaped pieces
