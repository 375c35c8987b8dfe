"""The UI in a real browser (Debian Chromium via Playwright, SPEC §6): search 厄瓜多尔 on the demo data,
open a transcript hit, and the post page shows the hit's segment highlighted with the local media
copy at that second; the trends and routes pages draw their SVG charts. Screenshots go to
test-artifacts/."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_search_to_transcript_hit_plays_from_its_second(page, live_demo, artifacts):
    page.goto(live_demo.url + "/")
    page.fill("input[name=q]", "厄瓜多尔")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("li.hit")
    page.screenshot(path=str(artifacts / "search-ecuador.png"), full_page=True)
    hit = page.locator("li.hit[data-source=transcript]").first
    assert hit.count() == 1, "a transcript hit for 厄瓜多尔"
    assert hit.locator("mark").first.inner_text() == "厄瓜多尔"
    href = hit.locator("a.title").get_attribute("href")
    t = float(parse_qs(urlsplit(href).query)["t"][0])

    hit.locator("a.title").click()
    page.wait_for_url("**/posts/**")
    seg = page.locator("li.seg.hit")
    assert seg.count() >= 1
    seg.first.wait_for(state="visible")
    assert seg.first.locator("mark.q").first.inner_text() == "厄瓜多尔"
    assert float(seg.first.get_attribute("data-start")) <= t < float(seg.first.get_attribute("data-end"))
    # the player loads the local copy (by post id, with Range requests) and starts at the hit's second
    page.wait_for_function("() => document.body.dataset.playerSeeked !== undefined", timeout=20000)
    state = page.evaluate("""() => { const v = document.getElementById('player');
        return {t: v.currentTime, ready: v.readyState, src: v.currentSrc, err: v.error && v.error.code}; }""")
    assert state["err"] is None and state["ready"] >= 1
    assert urlsplit(state["src"]).path.startswith("/media/")
    assert float(page.evaluate("document.body.dataset.playerSeeked")) == pytest.approx(t, abs=0.01)
    assert t - 0.05 <= state["t"] <= t + 5  # at the second, possibly already playing on from it
    page.screenshot(path=str(artifacts / "post-transcript-hit.png"), full_page=True)


def test_onscreen_hit_shows_the_caption_timeline_and_seeks_the_player(page, live_demo, artifacts):
    """p30 is a caption-only clip (music, no speech): its words are found on screen, the post page lists the
    caption lines with their seconds, and a line's time button plays the video from that second."""
    page.goto(live_demo.url + "/")
    page.fill("input[name=q]", "船票八十五美金")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("li.hit")
    hit = page.locator("li.hit[data-source=onscreen]")
    assert hit.count() == 1, "one on-screen hit: p30's second caption line"
    href = hit.locator("a.title").get_attribute("href")
    t = float(parse_qs(urlsplit(href).query)["t"][0])
    assert 2.1 <= t <= 4.1  # the line is on screen from 3.1 s

    hit.locator("a.title").click()
    page.wait_for_url("**/posts/**")
    unit = page.locator("section.unit-onscreen")
    assert unit.locator("h2").inner_text().startswith("On-screen text (OCR)")
    lines = [x.strip() for x in unit.locator("li.seg .seg-text").all_inner_texts()]
    assert lines == ["内科克利坐船到卡普尔加纳，", "船票八十五美金一个人，", "进雨林向导每人三百美金。", "#达连#走线"]
    stamps = [float(x) for x in unit.locator("li.seg button.ts").evaluate_all("bs => bs.map(b => b.dataset.seek)")]
    assert [round(x) for x in stamps] == [0, 3, 6, 8]  # 0.5, 3.1, 5.7, 8.3 s in the clip, read at 2 frames a second
    assert unit.locator("li.seg.hit .seg-text").inner_text().strip() == "船票八十五美金一个人，"
    assert page.locator("section.unit-transcript p.empty").inner_text() == "No speech heard."  # music only
    page.wait_for_function("() => document.body.dataset.playerSeeked !== undefined", timeout=20000)
    assert float(page.evaluate("document.body.dataset.playerSeeked")) == pytest.approx(t, abs=0.01)
    # a click on the third line's time plays the video from there
    unit.locator("li.seg button.ts").nth(2).click()
    page.wait_for_function(f"() => document.body.dataset.playerSeeked === '{stamps[2]:g}'", timeout=20000)
    now = page.evaluate("document.getElementById('player').currentTime")
    assert stamps[2] - 0.05 <= now <= stamps[2] + 5
    assert "yulin_xw0917" not in page.content()  # the uploader id in the picture's corner is no content
    page.screenshot(path=str(artifacts / "post-onscreen-hit.png"), full_page=True)


def test_trends_page_draws_charts(page, live_demo, artifacts):
    page.goto(live_demo.url + "/trends")
    for field in ("country", "leg", "term"):
        section = page.locator(f"section#trend-{field}")
        charts = section.locator("svg.chart")
        assert charts.count() >= 2, field
        box = charts.first.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 100
        assert section.locator("svg.chart rect").count() > 0  # bars drawn
    page.screenshot(path=str(artifacts / "trends.png"), full_page=True)


def test_routes_page_draws_the_flow(page, live_demo, artifacts):
    page.goto(live_demo.url + "/routes")
    svg = page.locator("svg.flow")
    assert svg.count() == 1
    # one curve per leg row; a "within" row (a cost inside one country, p30's Necoclí boat) draws none
    assert svg.locator("path[marker-end]").count() == page.locator("table.legs tbody tr:not(.within)").count() == 12
    assert page.locator("table.legs tbody tr.within").count() == 1
    labels = svg.text_content()
    assert "EC" in labels and "post" in labels
    page.screenshot(path=str(artifacts / "routes.png"), full_page=True)


_LABEL_BOXES = """() => {
  const sel = 'svg.flow text.flowlabel, svg.routemap text.maplabel, ol.flow-list li';
  return [...document.querySelectorAll(sel)].map(e => {
    const r = e.getBoundingClientRect();
    return {t: e.textContent, x0: r.left, y0: r.top, x1: r.right, y1: r.bottom};
  }).filter(b => b.x1 - b.x0 > 0 && b.y1 - b.y0 > 0);
}"""


@pytest.mark.parametrize("width", [390, 1280])
def test_routes_flow_and_map_labels_never_overlap(chromium, live_demo, artifacts, width):
    ctx = chromium.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
    try:
        page = ctx.new_page()
        page.goto(live_demo.url + "/routes")
        flow = "ol.flow-list" if width < 700 else "svg.flow"
        assert page.locator(flow).is_visible()
        maps = [m for m in page.locator("svg.routemap").all() if m.is_visible()]
        assert len(maps) == 1 and maps[0].locator("path").count() >= 1  # the land outlines
        assert maps[0].locator("circle").count() == 27  # 12 countries + 15 named places of the demo routes
        boxes = page.evaluate(_LABEL_BOXES)
        texts = [b["t"] for b in boxes]
        assert "EC" in texts and "Necoclí" in texts
        if width >= 700:
            assert "1 post" in texts
        clash = [(a["t"], b["t"]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                 if a["x0"] < b["x1"] - 0.5 and b["x0"] < a["x1"] - 0.5 and a["y0"] < b["y1"] - 0.5 and b["y0"] < a["y1"] - 0.5]
        assert clash == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(artifacts / f"routes-{width}.png"), full_page=True)
    finally:
        ctx.close()


def test_no_link_leads_to_a_pseudonymised_url(page, live_demo, artifacts):
    """Issue 14: a URL whose account part is a pseudonym is shown as text, never as a link, on the search
    page, a Telegram post's page and the trace page; the demo's own (unchanged) URLs stay links."""
    checked = 0
    for path in ("/?q=%E5%8E%84%E7%93%9C%E5%A4%9A%E5%B0%94&limit=100", "/posts/telegram-58d715e41f4292f5",
                 "/trace?claim=Ecuador%20is%20visa-free"):
        page.goto(live_demo.url + path)
        hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
        shown = page.evaluate("() => [...document.querySelectorAll('.orig')].map(e => [e.tagName, e.textContent.trim()])")
        assert [h for h in hrefs if "user-" in h or "%5Buser%5D" in h or "[user]" in h] == [], path
        pseudo = [t for tag, t in shown if "/user-" in t]
        assert pseudo and all(tag == "SPAN" for tag, t in shown if "/user-" in t), path
        assert all(tag == "A" for tag, t in shown if "demo.routewatch.invalid" in t), path
        checked += len(pseudo)
    page.screenshot(path=str(artifacts / "post-url-not-a-link.png"), full_page=True)
    assert checked >= 3
