"""The TikTok Research API as a configured source kind, run by the real crawl stage against a local server;
and the one back-off rule it shares with the scrapy middleware."""

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from routewatch.core.backoff import backoff_seconds
from routewatch.core.catalog import Catalog
from routewatch.core.errors import NotConfigured
from routewatch.core.stage import Context
from routewatch.pipeline import stage_crawl
from routewatch.settings import load_settings
from tests.httpserver import TestServer, respond

DATA = Path(__file__).resolve().parents[1] / "data" / "tiktok_research"
SOURCE = {"name": "tt-research", "kind": "tiktok_research", "keywords": ["走线", "ruta migrante"],
          "hashtags": ["#darien"], "region_codes": ["MX", "PA", "CO", "EC"], "start_date": "2026-09-20",
          "end_date": "2026-10-10"}


def _api(script: list[tuple[int, str, dict[str, str]]], bodies: list[dict]):
    def token(h):
        h.rfile.read(int(h.headers.get("Content-Length") or 0))
        respond(h, 200, (DATA / "token.json").read_bytes(), "application/json")

    def query(h):
        bodies.append(json.loads(h.rfile.read(int(h.headers.get("Content-Length") or 0))))
        status, name, headers = script.pop(0)
        respond(h, status, (DATA / name).read_bytes(), "application/json", headers)

    return {"/v2/oauth/token/": token, "/v2/research/video/query/": query}


def _settings(tmp_path, srv, **crawl):
    return load_settings(tmp_path / "data", sources=[SOURCE],
                         crawl={"origins": {"tiktok_research": srv.base}, "allow_hosts": [srv.hostport], **crawl})


def test_a_research_source_runs_through_the_crawl_stage_and_waits_as_the_server_says(tmp_path, monkeypatch):
    monkeypatch.setenv("ROUTEWATCH_TIKTOK_RESEARCH_CLIENT_KEY", "awx9research")
    monkeypatch.setenv("ROUTEWATCH_TIKTOK_RESEARCH_CLIENT_SECRET", "s3cr3t-value")
    bodies: list[dict] = []
    # page 1, then a rate limit whose Retry-After (1 s) is far below the configured base back-off (30 s)
    script = [(200, "query_page1.json", {}), (429, "rate_limit.json", {"Retry-After": "1"}),
              (200, "query_page2.json", {})]
    with TestServer(_api(script, bodies)) as srv:
        s = _settings(tmp_path, srv, tiktok_research_backoff_seconds=30.0)
        cat = Catalog(s.catalog_path)
        try:
            t0 = time.monotonic()
            rep = stage_crawl(Context(settings=s, catalog=cat))
            took = time.monotonic() - t0
            counters = cat.run_counters()
            stored = cat.pending("fetch", after="crawl")
        finally:
            cat.close()
    assert 1.0 <= took < 10  # waited the server's 1 s, not the 30 s base
    assert [(b["cursor"], b.get("search_id")) for b in bodies] == [(0, None), (3, "7423181951227987989"),
                                                                   (3, "7423181951227987989")]
    assert (rep.stage, rep.done, rep.failed, rep.extra["new"], rep.extra["pages"]) == ("crawl", 5, 0, 5, 2)
    assert rep.extra["per_source"] == {"tt-research": {"crawl/pages": 2, "crawl/discovered": 5, "crawl/new": 5}}
    assert (counters["crawl/discovered"], counters["crawl/new"], counters["crawl/pages"]) == (5, 5, 2)
    assert len(stored) == 5  # every video is a post the fetch stage takes


def test_an_unknown_source_kind_is_refused_before_any_request(tmp_path):
    with TestServer({}) as srv:
        s = load_settings(tmp_path / "data", sources=[{**SOURCE, "kind": "instagram_graph"}],
                          crawl={"allow_hosts": [srv.hostport]})
        cat = Catalog(s.catalog_path)
        try:
            with pytest.raises(NotConfigured) as ei:
                stage_crawl(Context(settings=s, catalog=cat))
        finally:
            cat.close()
        assert srv.log == []
    assert ei.value.code.value == "E902"
    assert "unknown source kind 'instagram_graph' (known: tiktok_research.v1)" in ei.value.reason


def test_one_back_off_rule():
    assert [backoff_seconds(None, n, 1.5, 120) for n in range(4)] == [1.5, 3.0, 6.0, 12.0]  # base·2^n
    assert backoff_seconds(b"7", 3, 1.5, 120) == 7.0  # the server's Retry-After wins (bytes, as scrapy has it)
    assert backoff_seconds("900", 0, 1.5, 120) == 120  # never longer than the longest wait
    assert backoff_seconds("soon", 1, 2.0, 120) == 4.0  # unreadable: the exponential rule
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= backoff_seconds(later, 0, 1.0, 120) <= 30  # an HTTP date
