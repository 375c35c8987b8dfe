"""The web layer's parts on their own: the privacy scrubber and its offset map, highlighting, charts,
the token bucket."""

from __future__ import annotations

import re

from routewatch.charts import bar_panel, flow_diagram
from routewatch.core.privacy import pseudonym
from routewatch.web.public import Scrubber, deep_clean
from routewatch.web.ratelimit import TokenBucket
from routewatch.web.render import Mark, mark_text

KEY = b"k" * 32


def scrub(**kw) -> Scrubber:
    return Scrubber(KEY, ["@zouxian_notes", "runxue_laoli"], **kw)


def test_handles_become_the_same_pseudonym_with_or_without_at():
    s = scrub()
    assert s.handle("@zouxian_notes") == s.handle("zouxian_notes") == pseudonym("@zouxian_notes", KEY)
    out = s.clean("forwarded from runxue_laoli, see https://t.me/zouxian_notes/219")
    assert "runxue_laoli" not in out and "zouxian_notes" not in out
    # a t.me link's account is redacted with the other contacts, before known handles become pseudonyms
    assert s.handle("runxue_laoli") in out and "https://t.me/[user]/219" in out


def test_handles_stay_when_pseudonyms_are_off():
    s = scrub(pseudonymise=False)
    assert s.handle("zouxian_notes") == "@zouxian_notes"
    assert "runxue_laoli" in s.clean("from runxue_laoli")


def test_offsets_map_through_redaction():
    raw = "加微信: zx_helper88 或打 138-0013-8000 找阿强。厄瓜多尔"
    pt = scrub().public(raw)
    assert "zx_helper88" not in pt.text and "138-0013-8000" not in pt.text
    i = raw.index("厄瓜多尔")
    a, b = pt.span(i, i + 4)
    assert pt.text[a:b] == "厄瓜多尔"
    # a span inside a redacted stretch covers the whole replacement, never a piece of the raw value
    j = raw.index("0013")
    a, b = pt.span(j, j + 4)
    assert pt.text[a:b] == "[phone removed]"


def test_invisible_and_bidi_controls_are_dropped_and_length_capped():
    s = Scrubber(KEY, max_chars=300)
    out = s.clean("abc\u202eexe.pdf\u2066x\u200b\x00" + "y" * 1000)
    assert "\u202e" not in out and "\u2066" not in out and "\x00" not in out and "\u200b" not in out
    assert out.startswith("abcexe.pdfx") and "[cut: 711 more characters]" in out


def test_only_unchanged_http_urls_are_links():
    s = scrub()
    assert s.url("javascript:alert(1)")["href"] is None
    assert s.url("https://t.me/zouxian_notes/1")["href"] is None  # pseudonymised: would lead nowhere
    assert s.url("https://example.org/a")["href"] == "https://example.org/a"
    assert s.url_text("javascript:alert(1)") is None
    assert s.url_text(" JavaScript:alert(1)") is None


def test_deep_clean_keeps_ids_dates_and_hashes():
    s = scrub()
    out = deep_clean(s, {"post_id": "demo-1234567", "posted_at": "2026-09-24", "sha256": "ab" * 32,
                         "forwarded_from": "runxue_laoli", "text": "call 138-0013-8000",
                         "url": "https://t.me/zouxian_notes/1", "sources": {"telegram:zouxian_notes": 6}})
    assert out["post_id"] == "demo-1234567" and out["posted_at"] == "2026-09-24" and out["sha256"] == "ab" * 32
    assert out["forwarded_from"] == s.handle("runxue_laoli")
    assert "138-0013-8000" not in out["text"] and "zouxian_notes" not in out["url"]
    assert out["sources"] == {f"telegram:{s.handle('zouxian_notes')}": 6}  # names as keys too


def test_marks_escape_every_piece_and_split_overlaps():
    html = str(mark_text("<b>厄瓜多尔</b>", [Mark(3, 7, "q"), Mark(5, 9, "ev", title='"x"', facts=("f1",))]))
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert html.count("<mark") == 3  # q only, q+ev, ev only
    assert 'title="&#34;x&#34;"' in html


def test_charts_escape_labels():
    svg = str(bar_panel("<script>x</script>", ["2026-W01"], [1], [2], 2, colour="#000"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    flow = str(flow_diagram({"countries": ["EC", "<i>"], "legs": [
        {"from": "EC", "to": "<i>", "posts": 1, "median_cost": {}, "headline_currency": None}]}))
    assert "<i>" not in flow and "&lt;i&gt;" in flow


def test_flow_diagram_puts_countries_in_journey_order():
    legs = [{"from": a, "to": b, "posts": 1, "median_cost": {}, "headline_currency": None}
            for a, b in [("MX", "US"), ("EC", "CO"), ("CO", "PA"), ("PA", "MX")]]
    svg = str(flow_diagram({"countries": ["US", "MX", "PA", "CO", "EC"], "legs": legs}))
    xs = {c: float(re.search(rf'<text x="([\d.]+)"[^>]*>{c}</text>', svg).group(1)) for c in ("EC", "CO", "PA", "MX", "US")}
    assert xs["EC"] < xs["CO"] < xs["PA"] < xs["MX"] < xs["US"]
    assert "stroke-dasharray" not in svg  # no leg goes back


def test_token_bucket_refills_and_says_when():
    now = [0.0]
    b = TokenBucket(60, burst=2, clock=lambda: now[0])
    assert b.take("a") == (True, 0) and b.take("a") == (True, 0)
    assert b.take("a") == (False, 1)
    assert b.take("b") == (True, 0)  # per client
    now[0] = 1.0
    assert b.take("a") == (True, 0)


def test_token_bucket_forgets_oldest_clients():
    b = TokenBucket(60, max_clients=3)
    for ip in "abcd":
        b.take(ip)
    assert list(b._buckets) == ["b", "c", "d"]


def test_offset_map_on_many_mixed_texts():
    import random

    rnd = random.Random(7)
    pieces = ["厄瓜多尔，", "Darién", " ", "，", "微信: zx_helper88", "138-0013-8000", "+52 55 1234 5678",
              "zouxian_notes", "@someone", "\u202e", "wa.me/123456", "走线", "guide fee $300", "aaaa"]
    s = scrub()
    for _ in range(300):
        # words apart, as in real captions (redact_text's own rules decide what glued text becomes)
        raw = rnd.choice([" ", "\n"]).join(rnd.choice(pieces) for _ in range(rnd.randint(1, 40)))
        pt = s.public(raw)
        assert pt.text == s.clean(raw)
        for t in ("厄瓜多尔", "Darién", "走线"):
            i = raw.find(t)
            if i >= 0:
                a, b = pt.span(i, i + len(t))
                assert pt.text[a:b] == t or "[" in pt.text[a:b], (raw, pt.text[a:b])


def test_long_text_maps_fast():
    import time

    s = Scrubber(KEY, ["@zouxian_notes"], max_chars=20000)
    raw = ("138-0013-8000 zouxian_notes " + "A" * 5000 + " 厄瓜多尔 ") * 20
    t0 = time.monotonic()
    pt = s.public(raw)
    assert time.monotonic() - t0 < 2.0
    i = raw.index("厄瓜多尔")
    a, b = pt.span(i, i + 4)
    assert pt.text[a:b] == "厄瓜多尔"


def test_every_invisible_format_character_is_dropped_and_offsets_still_map():
    raw = "联系 5\u20635\u20631\u00ad2\u00ad3\u20634\u00ad5\u20636\u20637 走线\U000e0041\u180e 哥伦比亚 👨\u200d👩"
    pt = scrub().public(raw)
    assert pt.text == "联系 [phone removed] 走线 哥伦比亚 👨\u200d👩" == scrub().clean(raw)
    for t in ("走线", "哥伦比亚", "👨\u200d👩"):
        i = raw.index(t)
        a, b = pt.span(i, i + len(t))
        assert pt.text[a:b] == t
