"""Hostile captions, titles, URLs, handles and transcripts render inert in every page and API response:
no markup of theirs becomes an element or attribute, no `javascript:` link, no bidi override, no
unbounded text; and the media endpoint never serves a file outside DATA/media."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from routewatch.web.settings import WebSettings
from tests.web.helpers import RLO, client_for, make_hostile_dir

# Every element the templates and charts produce; anything else came from data.
OUR_TAGS = {
    "html", "head", "meta", "title", "link", "script", "body", "header", "nav", "a", "main", "footer", "section",
    "h1", "h2", "p", "span", "form", "div", "input", "button", "label", "select", "option", "datalist", "ol", "ul",
    "li", "time", "b", "mark", "article", "video", "audio", "aside", "dl", "dt", "dd", "code", "q", "br", "table",
    "thead", "tbody", "tr", "th", "td", "details", "summary", "figure", "svg", "desc", "line", "rect", "text",
    "path", "defs", "marker", "circle", "pattern",  # pattern: the hatch of a suppressed small count
}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def assert_inert(html: str) -> None:
    p = Tags()
    p.feed(html)
    names = {t for t, _ in p.tags}
    assert names <= OUR_TAGS, f"unexpected elements: {names - OUR_TAGS}"
    scripts = [dict(a) for t, a in p.tags if t == "script"]
    assert scripts == [{"src": "/static/app.js", "defer": None}]
    for tag, attrs in p.tags:
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler attribute on <{tag}>: {name}={value!r}"
            if name in ("href", "src", "action"):
                assert not (value or "").strip().lower().startswith(("javascript:", "data:text", "vbscript:")), value
    assert RLO not in html and "\u2066" not in html


PAGES = ["/", "/?q=厄瓜多尔", "/?q=%3Cscript%3E", "/trends", "/routes", "/status", "/trace?claim=厄瓜多尔",
         "/digest", "/digest?week=2026-W45"]


@pytest.fixture
def hostile_client(tmp_path):
    d = tmp_path / "data"
    ids = make_hostile_dir(d)
    return client_for(d), ids, d


def test_pages_render_hostile_data_inert(hostile_client):
    client, ids, _ = hostile_client
    paths = PAGES + [f"/posts/{pid}" for pid in ids.values()] + [f"/posts/{ids['markup']}?q=%3Cimg&t=0.5"]
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert_inert(r.text)


@pytest.mark.parametrize(("path", "status", "shown"), [
    # NUL, ESC and RLO in the query: the title and the search box show what a reader would see
    ("/?q=%00%1B%5B2J厄瓜多尔%E2%80%AE", 200, ("<title>[2J厄瓜多尔 ·", 'value="[2J厄瓜多尔"')),
    # refused filters (E903) are echoed in their fields: LRI and ZWSP gone
    ("/?q=走线&country=P%E2%81%A6&route=EC%E2%80%8B%3ECO", 400, ('value="P"', 'value="EC&gt;CO"')),
    ("/trace?claim=%E2%80%AE厄瓜多尔%07", 200, ("<title>Trace: 厄瓜多尔 ·", 'value="厄瓜多尔"')),  # RLO, BEL
])
def test_request_values_echoed_in_a_page_lose_invisible_characters(hostile_client, path, status, shown):
    client, _, _ = hostile_client
    r = client.get(path)
    assert r.status_code == status
    assert_inert(r.text)
    assert not any(c in r.text for c in "\x00\x1b\x07\u200b\u2066"), "a control or zero-width character is echoed"
    for s in shown:
        assert s in r.text


def test_api_echoes_the_query_without_invisible_characters(hostile_client):
    client, _, _ = hostile_client
    r = client.get("/api/search?q=%E2%80%AE厄瓜多尔%00%1B&platform=x%E2%81%A6")
    assert r.status_code == 200
    assert (r.json()["query"], r.json()["filters"]) == ("厄瓜多尔", {"platform": "x"})
    assert "\u202e" not in r.text and "\\u202e" not in r.text and "\\u0000" not in r.text


def test_hostile_markup_is_shown_as_text(hostile_client):
    client, ids, _ = hostile_client
    html = client.get(f"/posts/{ids['markup']}").text
    assert "&lt;script&gt;alert(" in html  # visible to the researcher, as text
    assert "&lt;iframe src=javascript:alert(6)&gt;" in html
    assert "javascript:alert(3)" in html and 'href="javascript:' not in html  # the URL shown, not linked
    # the quoted-attribute breakout URL is an escaped attribute value, not markup
    rtl = client.get(f"/posts/{ids['rtl']}").text
    assert 'href="https://example.org/&#34;&gt;&lt;script&gt;alert(5)&lt;/script&gt;"' in rtl
    assert "invoicefdp.exe" in rtl  # the override is gone, the letters stay


def test_over_long_text_is_cut_in_pages_and_api(hostile_client):
    client, ids, _ = hostile_client
    html = client.get(f"/posts/{ids['long']}").text
    assert "END-OF-LONG" not in html and "[cut: " in html and len(html) < 60000
    api = client.get(f"/api/posts/{ids['long']}").json()
    assert len(api["units"][0]["text"]) < 21000
    hits = client.get("/api/search", params={"q": "厄瓜多尔"}).json()["hits"]
    assert hits and all(len(h["snippet"]) < 400 for h in hits)


def test_api_responses_are_inert_json(hostile_client):
    client, ids, _ = hostile_client
    paths = ["/api/search?q=厄瓜多尔", "/api/search?q=%3Cscript%3E", "/api/trends?field=leg", "/api/routes",
             "/api/status", "/api/trace?claim=厄瓜多尔", "/api/digest?week=2026-W45"]
    paths += [f"/api/posts/{pid}" for pid in ids.values()]
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert r.headers["content-type"].startswith("application/json")
        assert "<" not in r.text and ">" not in r.text, path  # escaped as \u003c / \u003e
        assert RLO not in r.text and "\\u202e" not in r.text.lower()
        json.loads(r.text)
    post = client.get(f"/api/posts/{ids['markup']}").json()
    assert post["url"] is None  # javascript: never comes back as a URL
    assert post["author"].startswith("user-") and post["forwarded_from"].startswith("user-")
    assert "<script>" in post["units"][0]["text"]  # the text is kept as data (JSON-escaped on the wire)
    search = client.get("/api/search", params={"q": "厄瓜多尔"}).json()
    assert {h["url"] for h in search["hits"] if h["post_id"] == ids["markup"]} == {None}


def test_evidence_spans_stay_aligned_with_the_shown_text(hostile_client):
    client, ids, _ = hostile_client
    post = client.get(f"/api/posts/{ids['markup']}").json()
    caption = next(u for u in post["units"] if u["kind"] == "caption")
    ev = post["facts"]["countries"][0]["evidence"][0]
    a, b = ev["span"]
    assert caption["text"][a:b] == ev["text"] == "厄瓜多尔"


def test_media_is_served_by_post_id_with_ranges_and_never_outside_the_media_dir(hostile_client):
    client, ids, _ = hostile_client
    r = client.get(f"/media/{ids['markup']}", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.headers["content-range"] == "bytes 100-199/4096" and len(r.content) == 100
    assert r.headers["accept-ranges"] == "bytes"
    # Range headers that are not ranges, or lie outside the file, answer in the API's JSON error format
    for rng, status, code in (("items=0-5", 400, "E903"), ("bytes=abc", 400, "E903"), ("bytes=50-10", 400, "E903"),
                              ("bytes=", 400, "E903"), ("bytes=9999-", 416, "E925")):
        r = client.get(f"/media/{ids['markup']}", headers={"Range": rng})
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), rng
    assert r.headers["content-range"] == "bytes */4096"
    tampered = client.get(f"/media/{ids['rtl']}")  # its catalog row points at ../../../etc/passwd
    assert tampered.status_code == 404 and tampered.json()["error"]["code"] == "E904"
    for bad in ("/media/..%2F..%2Fetc%2Fpasswd", "/media/%2Fetc%2Fpasswd", "/media/a%00b"):
        r = client.get(bad)
        assert r.status_code in (400, 404) and r.json()["error"]["code"] in ("E903", "E904"), bad


def test_errors_are_json_with_stable_codes(hostile_client):
    client, _ids, _ = hostile_client
    cases = {
        "/api/posts/nope": (404, "E904"),
        "/api/search?country=PAN": (400, "E908"),  # not a code or a name the corridor pack knows
        "/api/search?route=EC>COL": (400, "E908"),
        "/api/search?country=P%25": (400, "E903"),  # not a country name at all
        "/api/search?q=%22darien": (400, "E505"),
        "/api/search?since=yesterday": (400, "E903"),
        "/api/search?min_cost=10": (400, "E903"),
        "/api/search?min_cost=abc&currency=USD": (400, "E903"),
        "/api/trends?field=weather": (400, "E903"),
        "/api/digest?week=2026-45": (400, "E903"),
        "/api/trace": (400, "E903"),
        "/api/nothing-here": (404, "E904"),
    }
    for path, (status, code) in cases.items():
        r = client.get(path)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, r.text)
        assert r.json()["error"]["reason"]
    page = client.get("/posts/nope")
    assert page.status_code == 404 and "E904" in page.text and page.headers["content-type"].startswith("text/html")


def test_rate_limit_answers_429_with_code_and_retry_after(tmp_path):
    from fastapi.testclient import TestClient

    from routewatch.web import create_app
    from tests.web.helpers import settings_for

    d = tmp_path / "data"
    make_hostile_dir(d)
    client = TestClient(create_app(settings_for(d), web=WebSettings(rate_limit_per_minute=3)))
    codes = [client.get("/api/status").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/status")
    assert r.json()["error"]["code"] == "E905" and int(r.headers["retry-after"]) >= 1
    assert client.get("/static/app.css").status_code == 200  # static files are not counted


def test_openapi_lists_the_api_and_no_cdn_docs(hostile_client):
    client, _ids, _ = hostile_client
    spec = client.get("/openapi.json").json()
    assert {"/api/search", "/api/posts/{post_id}", "/api/trends", "/api/routes", "/api/trace", "/api/digest",
            "/api/posts/{post_id}/evidence", "/api/status", "/media/{post_id}"} <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "country", "route", "platform", "lang", "since", "until", "has_bribe", "min_cost", "max_cost",
            "currency", "limit"} <= params
    assert client.get("/docs").status_code == 404  # the stock page would load scripts from a CDN


def test_hostile_fixture_is_really_hostile(hostile_client):
    """Guards the tests above: the raw markup is in the catalog, so inert output is the app's doing."""
    from routewatch.core.catalog import Catalog

    _client, ids, d = hostile_client
    cat = Catalog(d / "catalog.sqlite", write=False)
    try:
        p = cat.get_post(ids["markup"])
        assert p is not None and "<script>" in p.caption and p.url.startswith("javascript:")
        assert RLO in cat.get_post(ids["rtl"]).caption
    finally:
        cat.close()
