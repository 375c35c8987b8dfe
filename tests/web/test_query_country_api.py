"""What a researcher types into the web UI and the API (issue: README, CLI and query semantics): query
operators, totals and paging, trends with a query, post references, countries by name, declared errors."""

from __future__ import annotations

import sqlite3

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def texts(demo_run):
    data, _ = demo_run
    con = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True)
    out: dict[str, str] = {}
    for pid, text in con.execute("SELECT post_id, text FROM units"):
        out[pid] = out.get(pid, "") + " " + text.lower()
    urls = dict(con.execute("SELECT post_id, url FROM posts"))
    con.close()
    return out, urls


def _ids(r):
    assert r.status_code == 200, r.text[:300]
    return [h["post_id"] for h in r.json()["hits"]]


def test_operators_exclude_and_alternate(demo_client, texts):
    body, _ = texts
    darien = _ids(demo_client.get("/api/search", params={"q": "darien", "limit": 100}))
    without = _ids(demo_client.get("/api/search", params={"q": "darien -tapachula", "limit": 100}))
    assert without and set(without) < set(darien)  # the demo has a Darién post that also names Tapachula
    assert all("tapachula" not in body[p] for p in without)
    nots = _ids(demo_client.get("/api/search", params={"q": "NOT tapachula", "limit": 100}))
    assert nots and all("tapachula" not in body[p] for p in nots)
    assert len(nots) == len(body) - sum("tapachula" in t for t in body.values())
    a = set(_ids(demo_client.get("/api/search", params={"q": "走线", "limit": 100})))
    b = set(_ids(demo_client.get("/api/search", params={"q": "润", "limit": 100})))
    either = set(_ids(demo_client.get("/api/search", params={"q": "走线 OR 润", "limit": 100})))
    assert either == a | b and a - b


def test_malformed_query_is_a_declared_400(demo_client):
    for q, code in (('"darien', "E505"), ("(darien", "E506"), ("darien OR", "E507")):
        r = demo_client.get("/api/search", params={"q": q})
        assert r.status_code == 400 and r.json() == {"error": {"code": code, "reason": r.json()["error"]["reason"]}}
        page = demo_client.get("/", params={"q": q})
        assert page.status_code == 400 and code in page.text and 'name="q"' in page.text


def test_total_paging_and_date_sort(demo_client):
    r = demo_client.get("/api/search", params={"q": "NOT tapachula", "limit": 5, "offset": 5, "sort": "date"})
    d = r.json()
    assert (d["count"], d["offset"], d["sort"]) == (5, 5, "date")
    assert d["shown"] == f"6-10 of {d['total']} (exact)"
    first = demo_client.get("/api/search", params={"q": "NOT tapachula", "limit": 10, "sort": "date"}).json()
    assert [h["post_id"] for h in first["hits"][5:]] == [h["post_id"] for h in d["hits"]]
    dates = [h["posted_at"] for h in first["hits"]]
    assert dates == sorted(dates, reverse=True)
    page = demo_client.get("/", params={"q": "NOT tapachula", "limit": 5, "offset": 5, "sort": "date"})
    assert f"6-10 of {d['total']} (exact)" in page.text and 'rel="prev"' in page.text and 'rel="next"' in page.text


def test_trends_take_the_query(demo_client):
    every = demo_client.get("/api/trends", params={"field": "term"}).json()["rows"]
    darien = demo_client.get("/api/trends", params={"field": "term", "q": "Darien"}).json()["rows"]
    assert darien and len(darien) < len(every)
    assert {r["value"] for r in darien} >= {"Darién"}
    page = demo_client.get("/trends", params={"q": "Darien"})
    assert page.status_code == 200 and 'name="q" value="Darien"' in page.text
    bad = demo_client.get("/trends", params={"q": '"Darien'})
    assert bad.status_code == 400 and "E505" in bad.text and 'name="q"' in bad.text


def test_post_by_prefix_or_url(demo_client, texts):
    _, urls = texts
    pid = sorted(p for p in urls if p.startswith("telegram-"))[0]
    r = demo_client.get(f"/posts/{pid[:13]}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/posts/{pid}"
    r = demo_client.get(f"/posts/{urls[pid]}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/posts/{pid}"
    assert demo_client.get(f"/api/posts/{urls[pid]}").json()["post_id"] == pid
    amb = demo_client.get("/api/posts/demo-")
    assert amb.status_code == 400 and amb.json()["error"]["code"] == "E907" and "demo-" in amb.json()["error"]["reason"]
    assert demo_client.get("/api/posts/nothing-here").json()["error"]["code"] == "E904"
    ev = demo_client.get(f"/api/posts/{pid[:13]}/evidence")
    assert ev.status_code == 200 and ev.headers["content-type"] == "application/zip"


@pytest.mark.parametrize("value", ["Panama", "Panamá", "巴拿马", "巴拿馬", "pa", "PA"])
def test_country_by_name(demo_client, value):
    by_code = _ids(demo_client.get("/api/search", params={"country": "PA", "limit": 100}))
    assert by_code and _ids(demo_client.get("/api/search", params={"country": value, "limit": 100})) == by_code
    page = demo_client.get("/", params={"country": value})
    assert page.status_code == 200 and f'name="country" value="{value}"' in page.text
    assert f"{len(by_code)} of {len(by_code)} (exact)" in page.text


def test_unknown_country_is_refused_everywhere(demo_client):
    for value in ("XX", "Narnia", "China Town"):
        r = demo_client.get("/api/search", params={"country": value})
        assert r.status_code == 400 and r.json()["error"]["code"] == "E908"
        page = demo_client.get("/", params={"country": value})
        assert page.status_code == 400 and "E908" in page.text and f'value="{value}"' in page.text
    assert demo_client.get("/api/trends", params={"country": "XX"}).json()["error"]["code"] == "E908"


def test_openapi_declares_one_error_schema_and_responses(demo_client):
    spec = demo_client.get("/openapi.json").json()
    assert "422" not in str(spec) and "HTTPValidationError" not in spec["components"]["schemas"]
    err = spec["components"]["schemas"]["ErrorResponse"]
    assert err["properties"]["error"]["$ref"].endswith("/ErrorBody")
    for path in ("/api/search", "/api/trends", "/api/posts/{post_id}"):
        responses = spec["paths"][path]["get"]["responses"]
        assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
        assert responses["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1] in (
            "SearchResponse", "TrendsResponse", "PostResponse")
    r = demo_client.get("/api/search", params={"limit": "0"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "E903"  # as declared, not FastAPI's 422
    assert demo_client.get("/api/digest", params={"week": "9999-W52"}).status_code == 400


def test_trace_takes_a_post_reference(demo_client, texts):
    _, urls = texts
    pid = sorted(p for p in urls if p.startswith("telegram-"))[0]
    for ref in (pid, pid[:13], urls[pid]):
        res = demo_client.get("/api/trace", params={"claim": ref}).json()
        assert pid in {e["post_id"] for g in res["groups"] for e in g["posts"]}, ref
