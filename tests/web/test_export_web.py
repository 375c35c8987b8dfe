"""Download of a search from the web: `/api/export` (every page, same posts as /api/search) and the search
page's CSV / JSONL / Parquet links, clicked in real Chromium and the CSV read back with a CSV parser."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from tests.search_world import add_posts, gold
from tests.web.helpers import LiveServer, client_for


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("webexport") / "data"
    rows = [(f"ruta/{i}", f"走线 第{i}天 从厄瓜多尔到哥伦比亚", f"2026-11-{1 + i:02d}T08:00:00Z",
             gold(("EC", "CO"), bribes=1 if i < 23 else 0)) for i in range(25)]
    rows += [("tr/1", "=1+2 先飞土耳其", "2026-10-01T08:00:00Z", gold(("TR", "EC")))]
    return d, add_posts(d, rows)


def test_api_export_is_every_page_of_the_search(world):
    d, ids = world
    client = client_for(d)
    found = client.get("/api/search", params={"has_bribe": "true", "limit": 1000}).json()
    want = [h["post_id"] for h in found["hits"]]
    assert len(want) == 23
    r = client.get("/api/export", params={"format": "csv", "has_bribe": "true", "bom": "true", "limit": 5})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["x-routewatch-records"] == "23"
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert [row["post_id"] for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))] == want
    r = client.get("/api/export", params={"format": "jsonl", "q": "土耳其"})
    recs = [json.loads(ln) for ln in r.text.splitlines()]
    assert [x["post_id"] for x in recs] == [ids[-1]] and recs[0]["caption"].startswith("=1+2")
    r = client.get("/api/export", params={"format": "parquet", "route": "EC>CO"})
    assert len(pq.read_table(io.BytesIO(r.content)).to_pylist()) == 25
    bad = client.get("/api/export", params={"format": "xls"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "E903"


def test_browser_downloads_filtered_search_as_csv(world, page, tmp_path):
    d, ids = world
    client = client_for(d)
    want = [h["post_id"] for h in client.get("/api/search", params={"has_bribe": "true", "limit": 1000}).json()["hits"]]
    with LiveServer(d) as srv:
        page.goto(f"{srv.url}/?has_bribe=true")
        assert page.locator("li.hit").count() == 20  # the page shows one page of hits …
        with page.expect_download() as dl:
            page.click("a.dl-csv")
        path = tmp_path / "dl.csv"
        dl.value.save_as(path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["post_id"] for r in rows] == want  # … the download has all 23, in the same order
    assert {r["route"] for r in rows} == {"EC>CO"} and {r["bribe_count"] for r in rows} == {"1"}
