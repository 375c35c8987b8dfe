"""digest.md shows what strangers wrote (source names, terms, claims) as text, never as Markdown or HTML."""

import re

from routewatch.digest import md_escape, render_html, render_markdown
from tests.test_outputs import _numbers, _Text  # the same visible-text reading as the demo-data test

EVIL = "<img src=x onerror=alert(1)>|x\n## **pwned** [click](javascript:alert(2)) `code` _u_ ~s~ &lt;b&gt;"


def _digest(value: str) -> dict:
    ref = {"post_id": "web-0123456789abcdef", "platform": value, "posted_at": "2026-11-03", "url": "https://x.test/1"}
    return {
        "week": "2026-W45", "start": "2026-11-02", "end": "2026-11-08",
        "summary": {"relevant": "12", "all": "<5", "previous_mean": "3.5"},
        "volume": [{"week": "2026-W44", "relevant": "<5", "all": "7", "n": 2},
                   {"week": "2026-W45", "relevant": "12", "all": "30", "n": 12}],
        "top_legs": [{"leg": f"EC → {value}", "key": "EC>CO", "count": "9", "n": 9}],
        "top_countries": [{"country": value, "count": "<5", "n": 3}],
        "costs": [{"leg": value, "kind": value, "currency": value, "median": "1,250", "n": "6"}],
        "bribes": [{"country": value, "payer": value, "count": "<5"}],
        "terms": [{"term": value, "status": "new", "count": "8", "previous_mean": "0.0"}],
        "reposted": [{"posts": "<5", "n": 2, "first": ref, "platforms": value}],
        "claims": [{"claim": value, "earliest": ref}],
        "health": [{"source": value, "posts": "11"}],
        "failures": [{"stage": value, "code": "E601", "count": "<5"}],
    }


def test_markdown_digest_escapes_markup_in_every_value():
    md = render_markdown(_digest(EVIL))
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "\\*\\*pwned\\*\\*" in md and "\\[click\\](javascript:alert(2))" in md
    assert "\\`code\\`" in md and "\\_u\\_" in md and "\\~s\\~" in md
    assert "&amp;lt;b&amp;gt;" in md  # an entity in the text stays literal text
    assert not [h for h in re.findall(r"^#+ .*$", md, re.M) if "pwned" in h]  # no heading smuggled in
    # each table row is still one line with the table's number of cells: a "|" in a value is escaped
    health = md.split("## Collector health")[1].splitlines()
    row = next(line for line in health if "img src" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 3


def test_markdown_and_html_digests_show_the_same_numbers_with_hostile_values():
    d = _digest(EVIL + " 1,000 <5")
    md = render_markdown(d)
    p = _Text()
    p.feed(render_html(d))
    assert _numbers(md.replace("![", "")) == _numbers(" ".join(p.parts))
    assert "| 2026-W44 | <5 | 7 |" in md  # suppressed counts are shown as they are


def test_md_escape_leaves_plain_values_readable():
    assert md_escape("2026-W45") == "2026-W45"
    assert md_escape("1,250.5") == "1,250.5"
    assert md_escape("<5") == "<5"
    assert md_escape("厄瓜多尔 → 哥伦比亚") == "厄瓜多尔 → 哥伦比亚"
    assert md_escape("a\x1b[2Jb\u202ec") == "a\ufffd\\[2Jb\ufffdc"
