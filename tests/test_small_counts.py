"""One small-count rule (privacy.min_count = 5) on the demo: no exact count from 1 to 4 in the digest
(Markdown, HTML, SVG charts, /api/digest, /digest), the trends page and /api/trends, or the compare page.

Every output is parsed: tables by their column headings (the count columns), JSON by its count fields, SVG
by its text and its bars (a suppressed bar is a hatched band at the threshold, never at its own height).
"""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import pytest

from index.base import period_of
from tests.conftest import run_cli
from tests.web.helpers import client_for

pytestmark = pytest.mark.slow

# table columns (digest, trends, compare, status pages) whose cells are counts of posts or mentions
COUNT_COLUMNS = {"this week", "previous weeks", "posts", "quotes", "relevant posts", "all posts", "n", "mentions",
                 "posts this week", "failures", "a posts", "b posts", "all", "relevant"}
MEAN_COLUMNS = {"previous weekly mean", "posts per week"}
COUNT_KEYS = {"count", "counts", "total", "totals", "relevant", "all", "posts", "quotes", "previous", "shown",
              "unknown_period", "unknown_period_total", "count_shown", "total_shown", "totals_shown", "counts_shown",
              "all_shown", "n"}


def shown_ok(v: object) -> bool:
    """A count as it may be shown: 0, "<5", or 5 and more (never 1-4)."""
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return not 0 < v < 5
    s = str(v).strip().replace(",", "")
    return not (re.fullmatch(r"\d+", s) and 0 < int(s) < 5)


def mean_ok(v: str) -> bool:
    """A mean over fewer than 5 posts is only bounded ("<0.6"); 0 is 0."""
    return v.strip() in ("0", "") or v.strip().startswith("<") or re.fullmatch(r"\d+\.\d", v.strip()) is not None


class Tables(HTMLParser):
    """Rows of every <table>, each cell with its column heading."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[tuple[str, str]]] = []
        self.heads: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._in_head = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.heads = []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "tr":
            if self._in_head or (not self.heads and self._row):
                self.heads = self._row
            else:
                self.rows.append(list(zip(self.heads, self._row, strict=False)))

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_cells(html: str) -> list[tuple[str, str]]:
    t = Tables()
    t.feed(html)
    return [c for row in t.rows for c in row]


def md_cells(md: str) -> list[tuple[str, str]]:
    out, heads = [], None
    for line in md.splitlines():
        if not line.startswith("|"):
            heads = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if heads is None:
            heads = cells
        elif not set("".join(cells)) <= set("-: "):
            out += list(zip(heads, cells, strict=False))
    return out


def bad_cells(cells: list[tuple[str, str]]) -> list[tuple[str, str]]:
    bad = [(h, v) for h, v in cells if h.lower() in COUNT_COLUMNS and not shown_ok(v.replace("&lt;", "<"))]
    bad += [(h, v) for h, v in cells if h.lower() in MEAN_COLUMNS and not mean_ok(v.replace("&lt;", "<"))]
    return bad


def bad_json(obj: object, key: str = "") -> list[tuple[str, object]]:
    if isinstance(obj, dict):
        return [b for k, v in obj.items() for b in bad_json(v, str(k))]
    if isinstance(obj, list):
        return [b for v in obj for b in bad_json(v, key)]
    if key in COUNT_KEYS and not shown_ok(obj):
        return [(key, obj)]
    if key in ("previous_mean", "per_week") and not mean_ok(str(obj)):
        return [(key, obj)]
    return []


def bad_svg(svg: str) -> list[str]:
    """Numbers 1-4 written in a chart, and suppressed bands that reach the top of the chart."""
    bad = [t for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg) if re.fullmatch(r"[1-4]", t.strip())]
    bad += re.findall(r"<title>([^<]*\b[1-4] (?:of|relevant)[^<]*)</title>", svg)
    return bad


def weeks(data: Path) -> list[str]:
    db = sqlite3.connect(data / "catalog.sqlite")
    try:
        return sorted({period_of(p, "week") for (p,) in db.execute("SELECT posted_at FROM posts WHERE posted_at != ''")})
    finally:
        db.close()


def test_digest_shows_no_count_under_five(demo_run, tmp_path):
    d, _ = demo_run
    c = client_for(d)
    ws = weeks(d)
    assert len(ws) >= 8
    small_seen = 0
    for w in ws + ["2025-W01"]:  # and a week with no post at all: 0, not "<5"
        out = tmp_path / w
        run_cli("digest", "--week", w, "--out", str(out), data_dir=d)
        md = (out / "digest.md").read_text(encoding="utf-8")
        summary = re.search(r"Relevant posts this week: \*\*(.+?)\*\* \(of (.+?) collected\); previous 8 weeks' mean: (\S+)\.", md)
        assert summary and shown_ok(summary[1]) and shown_ok(summary[2]) and mean_ok(summary[3]), md[:400]
        assert bad_cells(md_cells(md)) == [], w
        html = (out / "digest.html").read_text(encoding="utf-8")
        assert bad_cells(html_cells(html)) == [], w
        for svg in out.glob("*.svg"):
            text = svg.read_text(encoding="utf-8")
            assert bad_svg(text) == [], (w, svg.name)
            bands = re.findall(r'<rect class="suppressed"[^>]*height="([\d.]+)"', text)
            small_seen += len(bands)
            if svg.name == "volume.svg":  # a band is the threshold's height on a scale of at least twice it
                assert all(float(h) <= 164 / 2 + 0.1 for h in bands)
        api = c.get("/api/digest", params={"week": w}).json()
        assert bad_json(api) == [], w
        assert bad_cells(html_cells(c.get("/digest", params={"week": w}).text)) == [], w
        if w == "2025-W01":
            assert summary[1] == summary[2] == "0" and api["summary"]["relevant"] == "0"
    assert small_seen >= 10  # the demo has many small weeks: the rule was exercised


@pytest.mark.parametrize("by", ["week", "month", "day"])
def test_trends_page_and_api_show_no_count_under_five(demo_run, by):
    d, _ = demo_run
    c = client_for(d)
    suppressed = 0
    for field in ("country", "leg", "term", "platform"):
        api = c.get("/api/trends", params={"field": field, "by": by}).json()
        assert api["min_count"] == 5 and bad_json(api) == [], (field, by)
        suppressed += sum(v is None for s in api["series"] for v in s["counts"])
    assert suppressed > 0
    page = c.get("/trends", params={"by": by}).text
    assert bad_cells(html_cells(page)) == [] and "&lt;5" in page
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        assert bad_svg(svg) == []
    # each hatched band is drawn up to the threshold: the same height as any other band of its chart
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        heights = {h for h in re.findall(r'<rect class="suppressed"[^>]*height="([\d.]+)"', svg)}
        assert len(heights) <= 1


def test_compare_and_status_show_no_count_under_five(demo_run):
    d, _ = demo_run
    c = client_for(d)
    ws = weeks(d)
    for a, b in ((ws[0], ws[-1]), (ws[len(ws) // 2], ws[-1])):
        page = c.get("/compare", params={"a": a, "b": b}).text
        assert bad_cells(html_cells(page)) == [], (a, b)
        assert bad_json(c.get("/api/compare", params={"a": a, "b": b}).json()) == []
    assert bad_json(c.get("/api/status").json()["coverage"]) == []


def test_the_threshold_is_a_setting(demo_run, tmp_path):
    d, _ = demo_run
    cfg = tmp_path / "rw.toml"
    cfg.write_text("[privacy]\nmin_count = 10\n", encoding="utf-8")
    w = weeks(d)[-1]
    run_cli("digest", "--week", w, "--out", str(tmp_path / "o"), "--config", str(cfg), data_dir=d)
    md = (tmp_path / "o" / "digest.md").read_text(encoding="utf-8")
    assert 'Counts under 10 are shown as "<10"' in md and "<10" in md.split("## Volume")[1]
    assert "<5" not in md
