"""TikTok Research API client against a local server replaying responses in the documented format."""

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from crawlers.tiktok_research import FIELDS, ResearchQuery, TikTokResearchClient, collect
from routewatch.core.catalog import Catalog
from routewatch.core.errors import NotConfigured, RouteWatchError
from routewatch.core.records import post_id_for
from routewatch.settings import load_settings
from tests.crawlers.records import records

DATA = Path(__file__).resolve().parents[1] / "data" / "tiktok_research"
QUERY = ResearchQuery(start_date=date(2026, 9, 20), end_date=date(2026, 10, 10), keywords=("走线", "ruta migrante"),
                      hashtags=("#darien",), regions=("MX", "PA", "CO", "EC"))


class ApiServer:
    """Answers /v2/oauth/token/ and /v2/research/video/query/ from scripts of (HTTP status, fixture file)."""

    def __init__(self, queries: list[tuple[int, str]], token: tuple[int, str] = (200, "token.json")):
        self.queries = list(queries)
        self.token = token
        self.requests: list[dict] = []
        server = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                server.requests.append({"path": parts.path, "query": parse_qs(parts.query), "body": body,
                                        "headers": {k.lower(): v for k, v in self.headers.items()}})
                if parts.path == "/v2/oauth/token/":
                    status, name = server.token
                elif parts.path == "/v2/research/video/query/" and server.queries:
                    status, name = server.queries.pop(0)
                else:
                    status, name = 404, ""
                out = (DATA / name).read_bytes() if name else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def queries_sent(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests if r["path"] == "/v2/research/video/query/"]

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def settings_for(tmp_path, srv: ApiServer | None, **crawl):
    base = {"tiktok_research_client_key": "awx9research", "tiktok_research_client_secret": "s3cr3t-value",
            "tiktok_research_backoff_seconds": 0.0}
    if srv is not None:
        base |= {"origins": {"tiktok_research": f"http://{srv.hostport}"}, "allow_hosts": [srv.hostport]}
    return load_settings(tmp_path / "data", crawl=base | crawl).crawl


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


def test_query_conditions_in_the_documented_shape():
    assert QUERY.conditions() == {
        "and": [{"operation": "IN", "field_name": "region_code", "field_values": ["MX", "PA", "CO", "EC"]}],
        "or": [{"operation": "EQ", "field_name": "keyword", "field_values": ["走线"]},
               {"operation": "EQ", "field_name": "keyword", "field_values": ["ruta migrante"]},
               {"operation": "EQ", "field_name": "hashtag_name", "field_values": ["darien"]}],
    }
    q = ResearchQuery(start_date=date(2026, 9, 1), end_date=date(2026, 9, 2), hashtags=("zouxian", "走线"),
                      exclude_keywords=("tourism",))
    assert q.conditions() == {
        "or": [{"operation": "IN", "field_name": "hashtag_name", "field_values": ["zouxian", "走线"]}],
        "not": [{"operation": "EQ", "field_name": "keyword", "field_values": ["tourism"]}],
    }


def test_long_ranges_split_into_windows_of_at_most_30_days():
    q = ResearchQuery(start_date=date(2026, 9, 1), end_date=date(2026, 11, 15), keywords=("走线",))
    assert q.windows() == [(date(2026, 9, 1), date(2026, 10, 1)), (date(2026, 10, 2), date(2026, 11, 1)),
                           (date(2026, 11, 2), date(2026, 11, 15))]


def test_pages_until_has_more_is_false(tmp_path, catalog):
    with ApiServer([(200, "query_page1.json"), (200, "query_page2.json")]) as srv:
        rep = collect(QUERY, catalog, settings_for(tmp_path, srv), source_name="tiktok_research:zouxian", max_count=3)
    assert (rep.pages, rep.videos, rep.imported, rep.duplicates, rep.stopped) == (2, 5, 5, 0, "")
    assert (rep.search_id, rep.cursor, rep.windows_done) == ("7423181951227987989", 5, 1)
    token, first, second = srv.requests
    assert token["path"] == "/v2/oauth/token/"
    assert parse_qs(token["body"].decode()) == {"client_key": ["awx9research"], "client_secret": ["s3cr3t-value"],
                                                "grant_type": ["client_credentials"]}
    assert token["headers"]["content-type"] == "application/x-www-form-urlencoded"
    for r in (first, second):
        assert r["query"] == {"fields": [FIELDS]}
        assert r["headers"]["authorization"] == "Bearer clt.2.rW8qZt5LmN0pXc3Vb7Hj1Kd9Fs4Ga6Ue2Yi8Oo3Rw5Tq7Ps1Mn"
        assert "s3cr3t-value" not in r["body"].decode()  # the secret goes to the token endpoint only
    b1, b2 = srv.queries_sent()
    assert b1 == {"query": QUERY.conditions(), "start_date": "20260920", "end_date": "20261010", "max_count": 3,
                  "cursor": 0, "is_random": False}
    assert (b2["cursor"], b2["search_id"]) == (3, "7423181951227987989")


def test_videos_become_tiktok_posts_ready_for_fetch(tmp_path, catalog):
    with ApiServer([(200, "query_page1.json"), (200, "query_page2.json")]) as srv:
        collect(QUERY, catalog, settings_for(tmp_path, srv), source_name="tiktok_research:zouxian", max_count=3)
    p = catalog.get_post(post_id_for("tiktok", "7433301112223334441"))
    assert p.url == p.page_url == "https://www.tiktok.com/@camino.al.norte/video/7433301112223334441"
    assert p.caption == "Bus de Tapachula a CDMX: 1.800 pesos y tres retenes #migrantes #ruta"
    assert p.author_handle == "camino.al.norte"
    assert p.posted_at == "2026-09-26T08:00:00Z"
    assert p.views == 20411
    assert p.media_url == ""  # the API has no media: the fetch stage goes through the post page
    assert p.source == "tiktok_research:zouxian"
    assert p.discovered_via == QUERY.describe() == (
        "tiktok_research:走线 ruta migrante #darien region=MX,PA,CO,EC 20260920-20261010")
    extra = json.loads(p.extra_json)
    assert (extra["region_code"], extra["hashtags"], extra["search_id"]) == ("MX", ["migrantes", "ruta"],
                                                                             "7423181951227987989")
    assert extra["voice_to_text"] == "el bus sale a las ocho de la noche"
    assert len(catalog.pending("fetch", after="crawl")) == 5


def test_each_window_is_its_own_search(tmp_path, catalog):
    q = ResearchQuery(start_date=date(2026, 9, 1), end_date=date(2026, 11, 15), keywords=("走线",))
    script = [(200, "query_page1.json"), (200, "query_page2.json"), (200, "query_window2.json"), (200, "query_empty.json")]
    with ApiServer(script) as srv:
        rep = collect(q, catalog, settings_for(tmp_path, srv), max_count=3)
    sent = srv.queries_sent()
    assert [(b["start_date"], b["end_date"], b["cursor"], b.get("search_id")) for b in sent] == [
        ("20260901", "20261001", 0, None), ("20260901", "20261001", 3, "7423181951227987989"),
        ("20261002", "20261101", 0, None), ("20261102", "20261115", 0, None)]
    assert (rep.pages, rep.imported, rep.windows_done) == (4, 6, 3)


def test_daily_quota_stops_at_once_and_keeps_what_was_collected(tmp_path, catalog):
    with ApiServer([(200, "query_page1.json"), (429, "daily_quota.json"), (200, "query_page2.json")]) as srv:
        rep = collect(QUERY, catalog, settings_for(tmp_path, srv), max_count=3)
    assert (rep.stopped, rep.pages, rep.imported) == ("E107", 1, 3)
    assert "daily quota" in rep.reason
    assert (rep.search_id, rep.cursor) == ("7423181951227987989", 3)  # where to resume tomorrow
    assert len(srv.queries_sent()) == 2  # no retry against a spent quota
    assert catalog.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 3
    assert [(f.stage, f.item_id, f.code) for f in catalog.failures()] == [("crawl", QUERY.describe(), "E107")]


def test_rate_limit_backs_off_then_continues(tmp_path, catalog):
    waits: list[float] = []
    with ApiServer([(200, "query_page1.json"), (429, "rate_limit.json"), (429, "rate_limit.json"),
                    (200, "query_page2.json")]) as srv:
        s = settings_for(tmp_path, srv, tiktok_research_backoff_seconds=1.5)
        client = TikTokResearchClient(s, sleep=waits.append)
        rep = collect(QUERY, catalog, s, max_count=3, client=client)
    assert waits == [1.5, 3.0]
    assert (rep.stopped, rep.pages, rep.imported) == ("", 2, 5)


def test_rate_limit_that_persists_is_E107(tmp_path, catalog):
    waits: list[float] = []
    with ApiServer([(429, "rate_limit.json")] * 5) as srv:
        s = settings_for(tmp_path, srv, tiktok_research_retries=2)
        rep = collect(QUERY, catalog, s, client=TikTokResearchClient(s, sleep=waits.append))
    assert (rep.stopped, rep.pages, rep.imported) == ("E107", 0, 0)
    assert len(srv.queries_sent()) == 3 and len(waits) == 2


def test_expired_token_is_renewed_once(tmp_path, catalog):
    with ApiServer([(401, "access_token_invalid.json"), (200, "query_page2.json")]) as srv:
        rep = collect(QUERY, catalog, settings_for(tmp_path, srv))
    assert [r["path"] for r in srv.requests] == ["/v2/oauth/token/", "/v2/research/video/query/",
                                                 "/v2/oauth/token/", "/v2/research/video/query/"]
    assert (rep.stopped, rep.imported) == ("", 2)


def test_other_api_errors_stop_with_E101(tmp_path, catalog):
    with ApiServer([(400, "invalid_params.json")]) as srv:
        rep = collect(QUERY, catalog, settings_for(tmp_path, srv))
    assert rep.stopped == "E101"
    assert "invalid_params" in rep.reason


def test_refused_credentials_stop_with_E101(tmp_path, catalog):
    with ApiServer([], token=(401, "token_invalid_client.json")) as srv:
        rep = collect(QUERY, catalog, settings_for(tmp_path, srv))
    assert rep.stopped == "E101"
    assert "Client key or secret is incorrect." in rep.reason


def test_missing_credentials_is_not_configured(tmp_path):
    with pytest.raises(NotConfigured) as ei:
        TikTokResearchClient(load_settings(tmp_path).crawl)
    assert ei.value.code.value == "E902"


def test_local_origin_needs_the_allow_list(tmp_path, catalog):
    with ApiServer([(200, "query_page2.json")]) as srv:
        s = settings_for(tmp_path, srv, allow_hosts=[])
        with pytest.raises(RouteWatchError) as ei:
            collect(QUERY, catalog, s)
        assert srv.requests == []
    assert ei.value.code.value == "E103"


@pytest.mark.parametrize("kwargs", [
    {"start_date": date(2026, 10, 2), "end_date": date(2026, 10, 1), "keywords": ("走线",)},
    {"start_date": date(2026, 10, 1), "end_date": date(2026, 10, 2)},
])
def test_bad_queries_are_E903(kwargs):
    with pytest.raises(RouteWatchError) as ei:
        ResearchQuery(**kwargs)
    assert ei.value.code.value == "E903"


def test_max_count_above_100_and_windows_over_30_days_are_refused(tmp_path):
    client = TikTokResearchClient(settings_for(tmp_path, None))
    with pytest.raises(RouteWatchError) as too_many:
        client.query_page(QUERY, date(2026, 9, 20), date(2026, 10, 10), max_count=101)
    with pytest.raises(RouteWatchError) as too_long:
        client.query_page(QUERY, date(2026, 9, 1), date(2026, 10, 2))
    assert (too_many.value.code.value, too_long.value.code.value) == ("E903", "E903")


def test_settings_defaults_and_environment(tmp_path, monkeypatch):
    for k in list(__import__("os").environ):
        if k.startswith("ROUTEWATCH_") and k != "ROUTEWATCH_SHARED_DATA":
            monkeypatch.delenv(k)
    c = load_settings(tmp_path).crawl
    assert (c.tiktok_research_client_key, c.tiktok_research_client_secret.get_secret_value()) == ("", "")
    assert (c.tiktok_research_max_pages, c.tiktok_research_retries, c.tiktok_research_backoff_seconds) == (10, 3, 6.0)
    assert c.ytdlp_max_entries == 50
    monkeypatch.setenv("ROUTEWATCH_CRAWL__TIKTOK_RESEARCH_CLIENT_KEY", "awx9research")
    monkeypatch.setenv("ROUTEWATCH_CRAWL__TIKTOK_RESEARCH_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("ROUTEWATCH_ORIGIN_TIKTOK_RESEARCH", "http://127.0.0.1:8099")
    c = load_settings(tmp_path).crawl
    assert c.tiktok_research_client_key == "awx9research"
    assert c.tiktok_research_client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(c)  # never printed with the settings
    assert c.origins == {"tiktok_research": "http://127.0.0.1:8099"}


# ---- a configured source, through the CLI, killed between pages (issue 19) ----------------------------------------
def _config(data: Path, srv: ApiServer) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / "routewatch.toml").write_text(
        f'[crawl]\nallow_hosts = ["{srv.hostport}"]\ntiktok_research_backoff_seconds = 0\n'
        f'[crawl.origins]\ntiktok_research = "http://{srv.hostport}"\ntiktok = "http://{srv.hostport}"\n'
        '[[sources]]\nname = "tt-research"\nkind = "tiktok_research"\nkeywords = ["走线", "ruta migrante"]\n'
        'hashtags = ["#darien"]\nregion_codes = ["MX", "PA", "CO", "EC"]\nstart_date = "2026-09-20"\n'
        'end_date = "2026-10-10"\n', encoding="utf-8")


def _env(**extra):
    import os

    return {**os.environ, "ROUTEWATCH_TIKTOK_RESEARCH_CLIENT_KEY": "awx9research",
            "ROUTEWATCH_TIKTOK_RESEARCH_CLIENT_SECRET": "s3cr3t-value", **extra}


def test_a_configured_research_source_resumes_after_a_kill_between_pages(tmp_path):
    import subprocess
    import sys

    data = tmp_path / "data"
    cmd = [sys.executable, "-m", "routewatch", "run", "--json", "--data-dir", str(data)]
    with ApiServer([(200, "query_page1.json"), (200, "query_page2.json")]) as srv:
        _config(data, srv)
        killed = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                                env=_env(ROUTEWATCH_FAILPOINT="research:0:after"))
        assert killed.returncode == -9, killed.stderr[-2000:]  # SIGKILL right after page 1 was stored
        cat = Catalog(data / "catalog.sqlite")
        try:
            assert cat.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 3
        finally:
            cat.close()
        assert len(list((data / ".research").glob("*.json"))) == 1  # where the query stood
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=_env())
        assert again.returncode == 0, again.stderr[-2000:]
        sent = srv.queries_sent()
    assert [(b["cursor"], b.get("search_id")) for b in sent] == [(0, None), (3, "7423181951227987989")]
    crawl = next(r for r in json.loads(again.stdout) if r["stage"] == "crawl")  # one report per stage
    assert crawl["extra"]["per_source"]["tt-research"]["crawl/new"] == 2
    cat = Catalog(data / "catalog.sqlite")
    try:
        rows = cat.db.execute("SELECT platform, COUNT(*), COUNT(DISTINCT platform_id) FROM posts GROUP BY platform").fetchall()
        assert [tuple(r) for r in rows] == [("tiktok", 5, 5)]  # all five videos, none twice
        assert {r[0] for r in cat.db.execute("SELECT source FROM posts")} == {"tt-research"}
    finally:
        cat.close()
    assert list((data / ".research").glob("*.json")) == []  # complete: nothing left to resume
    # every field of every video; ids above 2^53 exact. The API gives no file: fetch goes through the video page with
    # yt-dlp's TikTok extractor, which a local origin cannot stand in for (the page answers no GET here)
    plain = {"platform": "tiktok", "signer": "", "forwarded_from": "", "edited": False, "reply_to": "", "media": "failed E203"}

    def video(handle, vid, posted, views, text):
        return {**plain, "author": handle, "url": f"https://www.tiktok.com/@{handle}/video/{vid}", "posted_at": posted,
                "views": views, "text": text}

    assert records(data) == {
        "7433301112223334441": video("camino.al.norte", "7433301112223334441", "2026-09-26T08:00:00Z", 20411,
                                     "Bus de Tapachula a CDMX: 1.800 pesos y tres retenes #migrantes #ruta"),
        "7433301112223334442": video("zx_laowang", "7433301112223334442", "2026-09-26T14:00:00Z", 8820,
                                     "从塔帕丘拉到墨西哥城，一路上查了三次证件 #走线"),
        "7433301112223334443": video("ruta.norte.2026", "7433301112223334443", "2026-09-26T20:00:00Z", 3310,
                                     "Necoclí → Capurganá en lancha, 2 horas #darien"),
        "7433301112223334444": video("darien_diary", "7433301112223334444", "2026-09-27T12:00:00Z", 15230,
                                     "达连出来以后在巴拿马营地休息两天 #走线 #巴拿马"),
        "7433301112223334445": video("camino.al.norte", "7433301112223334445", "2026-09-27T21:00:00Z", 990,
                                     "Tulcán bridge at night: don't cross alone #zouxian"),
    }


def test_voice_to_text_is_a_text_of_its_own_and_big_ids_stay_exact(tmp_path, catalog):
    with ApiServer([(200, "query_page1.json"), (200, "query_page2.json")]) as srv:
        collect(QUERY, catalog, settings_for(tmp_path, srv), source_name="tiktok_research:zouxian", max_count=3)
    units = {u.unit_id: u for u in catalog.all_units()}
    spoken = [u for u in units.values() if u.unit_id.endswith(":voice_to_text")]
    assert [(u.kind, u.text) for u in spoken] == [("subtitle", "el bus sale a las ocho de la noche")]
    from crawlers.values import json_safe

    assert json_safe({"id": 7431029384756102938, "n": 5, "deep": [2**53 - 1, -(2**60)]}) == \
        {"id": "7431029384756102938", "n": 5, "deep": [2**53 - 1, str(-(2**60))]}


def test_a_video_already_imported_and_extracted_gains_the_api_s_voice_to_text(tmp_path, catalog):
    """The same video from a Zeeschuimer capture and from the API is one post; the API's `voice_to_text` becomes its
    own text of that post, and the post is read again (extract, index) so the spoken words are searchable."""
    from crawlers.imports import import_file

    capture = {"timestamp_collected": 1790500000000, "source_platform": "tiktok.com",
               "source_platform_url": "https://www.tiktok.com/tag/migrantes",
               "data": {"id": "7433301112223334441", "desc": "Bus de Tapachula a CDMX #migrantes",
                        "createTime": 1790409600, "author": {"uniqueId": "camino.al.norte"}, "stats": {"playCount": 20000}}}
    f = tmp_path / "capture.ndjson"
    f.write_text(json.dumps(capture) + "\n", encoding="utf-8")
    import_file("zeeschuimer", f, catalog, None)
    pid = post_id_for("tiktok", "7433301112223334441")
    catalog.set_status(pid, "extract", "done")
    catalog.set_status(pid, "index", "done")
    with ApiServer([(200, "query_page1.json"), (200, "query_page2.json")]) as srv:
        rep = collect(QUERY, catalog, settings_for(tmp_path, srv), source_name="tiktok_research:zouxian", max_count=3)
    assert (rep.imported, rep.duplicates) == (4, 1)
    assert [(u.unit_id.rsplit(":", 1)[1], u.kind, u.text) for u in catalog.units(pid)] == [
        ("voice_to_text", "subtitle", "el bus sale a las ocho de la noche")]
    assert (catalog.status_of(pid, "extract"), catalog.status_of(pid, "index")) == (None, None)  # to be read again
    sources = {r[0] for r in catalog.db.execute("SELECT source FROM post_sightings WHERE post_id=?", (pid,))}
    assert sources == {"zeeschuimer:capture.ndjson", "tiktok_research:zouxian"}
