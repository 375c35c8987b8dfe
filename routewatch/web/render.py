"""HTML fragments built in Python for the templates: highlighted text, durations, country names.

In: public strings (already through the Scrubber) and spans in their coordinates.  Out: `Markup`
in which every piece of text has been escaped here, so a template may print it as is.
Never marks up a raw string and never lets a caller's string through unescaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

COUNTRY_NAMES = {
    "CN": "China", "HK": "Hong Kong", "TW": "Taiwan", "TR": "Türkiye", "EC": "Ecuador", "CO": "Colombia",
    "PA": "Panama", "CR": "Costa Rica", "NI": "Nicaragua", "HN": "Honduras", "SV": "El Salvador",
    "GT": "Guatemala", "MX": "Mexico", "US": "United States", "BO": "Bolivia", "PE": "Peru", "BR": "Brazil",
    "VE": "Venezuela", "CL": "Chile", "AR": "Argentina", "BZ": "Belize", "CU": "Cuba", "HT": "Haiti",
    "DO": "Dominican Republic", "IN": "India", "AE": "United Arab Emirates", "ES": "Spain", "CA": "Canada",
    "RU": "Russia", "TH": "Thailand", "MY": "Malaysia", "KZ": "Kazakhstan",
}


def country_name(iso: str | None) -> str:
    return COUNTRY_NAMES.get((iso or "").upper(), iso or "?")


def fmt_sec(x: float | None) -> str:
    if x is None:
        return ""
    m, s = divmod(max(0.0, float(x)), 60)
    return f"{int(m)}:{s:04.1f}"


def fmt_amount(x: float | int | None) -> str:
    if x is None:
        return ""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


@dataclass(frozen=True, slots=True)
class Mark:
    start: int
    end: int
    cls: str
    title: str = ""
    facts: tuple[str, ...] = field(default=())


def mark_text(text: str, marks: Iterable[Mark], lo: int = 0, hi: int | None = None) -> Markup:
    """text[lo:hi] with <mark> around the marked stretches. Overlaps are split into pieces, each
    carrying every class and fact id that covers it, so nesting never breaks."""
    hi = len(text) if hi is None else hi
    ms = [m for m in marks if m.end > lo and m.start < hi and m.end > m.start]
    cuts = sorted({lo, hi, *[max(lo, m.start) for m in ms], *[min(hi, m.end) for m in ms]})
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = escape(text[a:b])
        cover = [m for m in ms if m.start <= a and m.end >= b]
        if not cover:
            out.append(piece)
            continue
        classes = " ".join(sorted({c for m in cover for c in m.cls.split()}))
        facts = " ".join(sorted({f for m in cover for f in m.facts}))
        title = "; ".join(dict.fromkeys(m.title for m in cover if m.title))
        attrs = f' class="{escape(classes)}"'
        if facts:
            attrs += f' data-facts="{escape(facts)}"'
        if title:
            attrs += f' title="{escape(title)}"'
        out.append(f"<mark{attrs}>{piece}</mark>")
    return Markup("".join(out))  # noqa: S704 - every piece escaped above


def term_marks(text: str, terms: Sequence[str], cls: str = "q") -> list[Mark]:
    """Case-insensitive occurrences of the query terms in a public text."""
    low = text.lower()
    out = []
    for t in terms:
        t = t.lower()
        if not t:
            continue
        i = low.find(t)
        while i >= 0 and len(out) < 200:
            out.append(Mark(i, i + len(t), cls))
            i = low.find(t, i + len(t))
    return out


def highlight(text: str, span: Sequence[int] | None, cls: str = "q") -> Markup:
    if not span:
        return Markup(escape(text))  # noqa: S704 - escaped
    return mark_text(text, [Mark(int(span[0]), int(span[1]), cls)])
