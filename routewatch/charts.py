"""Small SVG charts drawn by hand (no plotting library): bars over periods, horizontal bars.

In: labels and numbers, and which of them are suppressed small counts.  Out: a standalone SVG string.
A suppressed bar is a hatched band from 0 to the threshold labelled "<k", never a bar of its own height.
Labels are escaped; nothing is fetched.
"""

from __future__ import annotations

from html import escape

HATCH = ("<defs><pattern id='rw-hatch' patternUnits='userSpaceOnUse' width='6' height='6' "
         "patternTransform='rotate(45)'><rect width='6' height='6' fill='#eef2f7'/>"
         "<line x1='0' y1='0' x2='0' y2='6' stroke='#7b8794' stroke-width='2'/></pattern></defs>")


def bar_chart(labels: list[str], values: list[float], title: str, *, highlight: int | None = None,
              width: int = 640, height: int = 240, value_labels: list[str] | None = None,
              suppressed: list[bool] | None = None, band: float = 5) -> str:
    """Bars; where `suppressed[i]`, values[i] is not drawn: a hatched band of height `band` (the threshold)."""
    pad_l, pad_b, pad_t = 40, 46, 30
    n = max(1, len(values))
    hidden = suppressed or [False] * len(values)
    values = [band if s else v for v, s in zip(values, hidden, strict=True)]
    vmax = max([v for v in values if v] + [1] + ([2 * band] if any(hidden) else []))  # a band is never full height
    bw = (width - pad_l - 10) / n
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
           "font-family='sans-serif' font-size='11'>",
           f"<text x='{pad_l}' y='18' font-size='14' font-weight='bold'>{escape(title)}</text>",
           f"<line x1='{pad_l}' y1='{height - pad_b}' x2='{width - 10}' y2='{height - pad_b}' stroke='#888'/>",
           HATCH if any(hidden) else ""]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        h = (height - pad_b - pad_t) * (v / vmax) if v else 0
        x = pad_l + i * bw + bw * 0.15
        y = height - pad_b - h
        color = "#c0392b" if highlight == i else "#2e86c1"
        fill = "url(#rw-hatch)' stroke='#7b8794' stroke-dasharray='3 2' class='suppressed" if hidden[i] else color
        out.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bw * 0.7:.1f}' height='{h:.1f}' fill='{fill}'/>")
        vl = value_labels[i] if value_labels else f"{v:g}"
        out.append(f"<text x='{x + bw * 0.35:.1f}' y='{y - 4:.1f}' text-anchor='middle'>{escape(vl)}</text>")
        out.append(f"<text x='{x + bw * 0.35:.1f}' y='{height - pad_b + 14}' text-anchor='middle' "
                   f"transform='rotate(30 {x + bw * 0.35:.1f} {height - pad_b + 14})'>{escape(lab)}</text>")
    out.append("</svg>")
    return "".join(out)


def hbar_chart(labels: list[str], values: list[float], title: str, *, width: int = 640,
               value_labels: list[str] | None = None, suppressed: list[bool] | None = None, band: float = 5) -> str:
    """Horizontal bars; a suppressed one is a hatched band as long as the threshold `band`."""
    row = 22
    height = 40 + row * max(1, len(values))
    pad_l = 140
    hidden = suppressed or [False] * len(values)
    values = [band if s else v for v, s in zip(values, hidden, strict=True)]
    vmax = max([v for v in values if v] + [1] + ([2 * band] if any(hidden) else []))  # a band is never full height
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
           "font-family='sans-serif' font-size='11'>",
           f"<text x='4' y='18' font-size='14' font-weight='bold'>{escape(title)}</text>",
           HATCH if any(hidden) else ""]
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 30 + i * row
        w = (width - pad_l - 60) * (v / vmax) if v else 0
        fill = "url(#rw-hatch)' stroke='#7b8794' stroke-dasharray='3 2' class='suppressed" if hidden[i] else "#2e86c1"
        out.append(f"<text x='{pad_l - 6}' y='{y + 14}' text-anchor='end'>{escape(lab)}</text>")
        out.append(f"<rect x='{pad_l}' y='{y + 3}' width='{w:.1f}' height='{row - 6}' fill='{fill}'/>")
        vl = value_labels[i] if value_labels else f"{v:g}"
        out.append(f"<text x='{pad_l + w + 4:.1f}' y='{y + 14}'>{escape(vl)}</text>")
    out.append("</svg>")
    return "".join(out)
