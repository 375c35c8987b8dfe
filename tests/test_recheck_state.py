"""Issue 19: the state `routewatch recheck` records is a search filter (`--state`, API `state=`, the search
page), is shown with its dates on the post page, and the digest lists the posts taken down this week."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from routewatch.core.catalog import Catalog
from routewatch.core.records import Post, post_id_for
from routewatch.digest import week_of
from tests.conftest import run_cli
from tests.httpserver import TestServer, respond


def _ids(out: str) -> list[str]:
    return sorted(h["post_id"] for h in json.loads(out)["hits"])


def test_recheck_state_is_searchable_and_shown_with_its_date(tmp_path):
    from tests.web.helpers import client_for

    gone = {"/b.html": False}

    def page(path):
        def serve(h):
            if gone.get(path):
                respond(h, 404, b"<html><head><title>Not Found</title></head></html>")
            else:
                respond(h, 200, b"<html><head><title>ruta</title></head><body>still here</body></html>")
        return serve

    data = tmp_path / "data"
    data.mkdir()
    with TestServer({"/a.html": page("/a.html"), "/b.html": page("/b.html")}) as srv:
        (data / "routewatch.toml").write_text(f'[crawl]\nallow_hosts = ["{srv.hostport}"]\n', encoding="utf-8")
        cat = Catalog(data / "catalog.sqlite")
        ids = {}
        for name, caption in (("a", "走线 第一天 a"), ("b", "走线 第二天 b"), ("c", "走线 第三天 c")):
            url = f"{srv.base}/{name}.html" if name != "c" else "ftp://example.invalid/c.html"
            p = Post(post_id=post_id_for("web", url), platform="web", platform_id=url, url=url, source="web",
                     page_url=url, caption=caption, posted_at="2026-11-02T08:00:00Z")
            cat.upsert_post(p)
            cat.set_status(p.post_id, "extract", "done")  # indexed on its caption, with no facts
            ids[name] = p.post_id
        cat.close()
        run_cli("index", data_dir=data)

        # c has no page recheck can visit (E106): it stays unchecked
        out = json.loads(run_cli("recheck", "--older-than", "0", "--json", data_dir=data).stdout)
        assert (out["states"], out["failed_by_code"]) == ({"available": 2}, {"E106": 1})
        gone["/b.html"] = True
        out = json.loads(run_cli("recheck", "--older-than", "0", "--json", data_dir=data).stdout)
        assert out["states"] == {"available": 1, "deleted": 1}
    today = datetime.now(UTC).date().isoformat()

    # recheck re-indexed the posts whose state changed: the filter sees the new state at once
    def search(*args):
        return _ids(run_cli("search", *args, "--json", data_dir=data).stdout)

    assert search("--state", "deleted") == [ids["b"]]
    assert search("走线", "--state", "available") == [ids["a"]]
    assert search("--state", "unchecked") == [ids["c"]]
    assert search("--state", "Geo-Blocked") == []  # typed as a person writes it
    assert search("走线") == sorted(ids.values())
    bad = run_cli("search", "--state", "gone", data_dir=data, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("E903 --state must be one of")

    client = client_for(data)
    api = client.get("/api/search", params={"state": "deleted"}).json()
    assert [h["post_id"] for h in api["hits"]] == [ids["b"]] and api["resolved"]["state"] == "deleted"
    err = client.get("/api/search", params={"state": "gone"})
    assert err.status_code == 400 and err.json()["error"]["code"] == "E903"
    page_html = client.get("/", params={"state": "deleted"}).text
    assert ids["b"] in page_html and ids["a"] not in page_html and 'value="deleted" selected' in page_html

    post = client.get(f"/api/posts/{ids['b']}").json()["availability"]
    assert (post["state"], post["since"][:10], post["seen_at"][:10], post["http_status"]) == (
        "deleted", today, today, 404)
    html = client.get(f"/posts/{ids['b']}").text
    assert f"deleted</span> since {today} (last checked {today}, HTTP 404)" in html
    assert "available</span> (last checked" in client.get(f"/posts/{ids['a']}").text
    assert client.get(f"/api/posts/{ids['c']}").json()["availability"] is None

    week = week_of(date.fromisoformat(today))
    digest = client.get("/api/digest", params={"week": week}).json()
    assert [(x["state"], x["count"], x["since"], x["post"]["post_id"]) for x in digest["taken_down"]] == [
        ("deleted", "<5", today, ids["b"])]
    out = tmp_path / "digest"
    run_cli("digest", "--week", week, "--out", str(out), data_dir=data)
    md = (out / "digest.md").read_text(encoding="utf-8")
    assert "## Posts taken down this week" in md and f"| deleted | <5 | {today} | {ids['b']}" in md


def test_openapi_documents_the_confidence_relevance_and_state_parameters(tmp_path):
    from tests.web.helpers import client_for

    data = tmp_path / "data"
    data.mkdir()
    Catalog(data / "catalog.sqlite").close()
    client = client_for(data)
    spec = client.get("/openapi.json").json()

    def params(path):
        return {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}

    for path in ("/api/search", "/api/trends", "/api/routes", "/api/export", "/api/digest"):
        got = params(path)
        assert {"min_confidence", "relevant"} <= set(got), path
        assert "confidence" in got["min_confidence"]["description"]
    assert "recheck" in params("/api/search")["state"]["description"]
    for query in ({"min_confidence": "2"}, {"min_confidence": "abc"}, {"min_confidence": "nan"}, {"relevant": "maybe"}):
        for path in ("/api/search", "/api/trends", "/api/routes"):
            r = client.get(path, params=query)
            assert (r.status_code, r.json()["error"]["code"]) == (400, "E903"), (path, query)
    page = client.get("/trends", params={"min_confidence": "0.8", "relevant": "false"}).text
    assert 'name="min_confidence" value="0.8"' in page and '<option value="false" selected>every post' in page

