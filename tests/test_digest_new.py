"""The digest's "what is new this week" section, fed by routewatch.changes: real content on the demo corpus
and on the timeline corpus, and never an exact count under 5 in it (Markdown and HTML alike)."""

from __future__ import annotations

import re

import pytest

from routewatch.core.catalog import Catalog
from routewatch.core.privacy import install_secret, pseudonym
from routewatch.digest import build_digest, render_html, render_markdown
from routewatch.settings import load_settings
from tests.corpus_helpers import demo_catalog
from tests.test_changes import _catalog
from tests.test_outputs import _Text


@pytest.fixture(scope="module")
def extractor():
    import nlp

    return nlp.build_extractor()


def _section(md: str) -> str:
    return md.split("## What is new this week")[1].split("\n## ")[0]


def _rows(section: str, header: str) -> list[list[str]]:
    """The cells of the table whose header row starts with `| header |`."""
    lines = section.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith(f"| {header} |"))
    out = []
    for ln in lines[i + 2:]:
        if not ln.startswith("|"):
            break
        out.append([c.strip() for c in ln.strip("|").split("|")])
    return out


def _assert_suppressed(cells: list[str]) -> None:
    for v in cells:
        assert v in ("<5", "0") or int(v.replace(",", "")) >= 5, f"exact count under 5 shown: {v!r}"


def test_demo_digest_says_what_is_new(tmp_path, extractor):
    data = tmp_path / "data"
    demo_catalog(data, extractor)
    with Catalog(data / "catalog.sqlite", write=False) as cat:
        d = build_digest(cat, load_settings(data), "2026-W46")
    md = render_markdown(d)
    sec = _section(md)
    first = _rows(sec, "first seen")
    # p23 (2026-11-10) is the first post to go through Bolivia and Peru
    assert [r[:3] for r in first] == [["La Paz", "place", "<5"], ["BO → PE", "leg", "<5"], ["PE → EC", "leg", "<5"]]
    assert all(r[3].startswith("telegram-") and r[3].endswith("(telegram, 2026-11-10)") for r in first)
    assert _rows(sec, "change") == [["(no change beyond chance this week)", "", "", "", "", "", "", ""]]
    prices = _rows(sec, "leg")
    assert ["within CO", "transport", "USD", "2026-09", "85", "85", "<5"] in prices  # the Necoclí boat
    assert ["PA → CR", "transport", "USD", "2026-09", "40", "40", "<5"] in prices
    _assert_suppressed([r[2] for r in first] + [r[6] for r in prices])
    html = _Text()
    html.feed(render_html(d))
    assert "What is new this week" in "".join(html.parts) and "La Paz" in "".join(html.parts)


def test_timeline_digest_shows_each_change_under_the_count_rule(tmp_path, extractor):
    with _catalog(tmp_path / "catalog.sqlite", extractor, True) as cat:
        settings = load_settings(tmp_path)
        w37 = build_digest(cat, settings, "2026-W37")
        w38 = build_digest(cat, settings, "2026-W38")
    s37 = _section(render_markdown(w37))
    ch37 = {r[0]: r for r in _rows(s37, "change")}
    # 4 posts a week name Ipiales: shown as "<5", never as 4; none before: 0 (nobody is no one to protect)
    assert ch37["Ipiales"][1:5] == ["place", "rose", "<5", "0"]
    assert ch37["Ipiales"][6] == "new this week"
    assert ch37["EC → CO"][1:3] == ["leg", "rose"]
    ch38 = {r[0]: r for r in _rows(_section(render_markdown(w38)), "change")}
    assert ch38["transport cost 50–100 USD"][1:5] == ["price", "rose", "6", "0"]
    assert ch38["transport cost 20–50 USD"][1:4] == ["price", "fell", "0"]  # 0 this week is 0
    assert ch38["transport cost 20–50 USD"][6] == "new this week"
    for sec in (s37, _section(render_markdown(w38))):
        rows = _rows(sec, "change")
        _assert_suppressed([r[3] for r in rows] + [r[4] for r in rows])
        _assert_suppressed([r[6] for r in _rows(sec, "leg")])
    # the section's numbers are the same in the HTML
    html = _Text()
    html.feed(render_html(w38))
    text = " ".join(html.parts)
    assert "transport cost 50–100 USD" in text
    md_nums = re.findall(r"<5|\d[\d,.]*", _section(render_markdown(w38)))
    html_nums = re.findall(r"<5|\d[\d,.]*", text.split("What is new this week")[1].split("Volume")[0])
    assert md_nums == html_nums


def test_digest_coverage_per_source(tmp_path, extractor):
    data = tmp_path / "data"
    demo_catalog(data, extractor)
    with Catalog(data / "catalog.sqlite", write=False) as cat:
        d = build_digest(cat, load_settings(data), "2026-W48")
    cov = {x["source"]: x for x in d["coverage"]}
    key = install_secret(data)  # channels are named as every output names them (routewatch.view)
    zx_name, rn_name = (f"telegram:{pseudonym(c, key)}" for c in ("zouxian_notes", "ruta_norte"))
    assert sorted(cov) == sorted(["feed:demo", "seeds:demo", rn_name, zx_name])
    zx = cov[zx_name]  # posts in W36, W38, W39, W42, W43 and W46: 6 posts over 13 weeks
    assert (zx["first"], zx["last"], zx["per_week"]) == ("2026-09-03", "2026-11-10", "0.5")
    assert zx["gaps"] == ("2026-W40 – 2026-W41, 2 weeks; 2026-W44 – 2026-W45, 2 weeks; "
                          "2026-W47 – 2026-W48 (still silent), 2 weeks")
    assert cov["feed:demo"]["gaps"] == "none"
    md = render_markdown(d)
    assert f"| {zx_name} | 2026-09-03 | 2026-11-10 | 0.5 | 2026-W40 – 2026-W41, 2 weeks;" in md


def test_digest_costs_per_leg_only_where_the_text_ties_them(tmp_path, extractor):
    data = tmp_path / "data"
    demo_catalog(data, extractor)
    with Catalog(data / "catalog.sqlite", write=False) as cat:
        d = build_digest(cat, load_settings(data), "2026-W36")
    # p01's 25,000 CNY is the whole trip and p03's 8,000 CNY flight precedes its bus: neither is put on a leg
    assert [(x["leg"], x["kind"], x["currency"], x["median"]) for x in d["costs"]] == [
        ("(not tied to a leg)", "total", "CNY", "25,000"),
        ("(not tied to a leg)", "transport", "CNY", "8,000"),
        ("within CO", "transport", "USD", "85"),
        ("within EC", "transport", "USD", "15"),
    ]
