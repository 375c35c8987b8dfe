"""Imports of researchers' exports (Zeeschuimer NDJSON, 4CAT CSV), then their media fetched through yt-dlp."""

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawlers.imports import import_file
from routewatch.core.catalog import Catalog
from routewatch.core.errors import RouteWatchError
from routewatch.core.records import post_id_for
from routewatch.settings import load_settings

TESTS = Path(__file__).resolve().parents[1]
NDJSON = TESTS / "data" / "zeeschuimer" / "tiktok_douyin.ndjson"
TIKTOK_CSV = TESTS / "data" / "fourcat" / "tiktok_4cat_export.csv"
DOUYIN_CSV = TESTS / "data" / "fourcat" / "douyin_4cat_export.csv"
MEDIA = TESTS.parent / "routewatch" / "demo" / "corpus" / "media"
CLIPS = ("p01_shanghai_to_colombia.mp4", "p04_darien_day3.mp4", "p07_panama_bus.mp4")


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


def _sightings(cat, post_id):
    return sorted(r[0] for r in cat.db.execute("SELECT discovered_via FROM post_sightings WHERE post_id=?", (post_id,)))


def test_zeeschuimer_counts_and_failure_codes(catalog):
    rep = import_file("zeeschuimer", NDJSON, catalog, None)
    assert (rep.read, rep.imported, rep.duplicates) == (56, 52, 1)
    assert rep.failed_by_code == {"E601": 1, "E602": 2}
    assert rep.source == "zeeschuimer:tiktok_douyin.ndjson"
    assert [(f.item_id, f.code) for f in catalog.failures("import")] == [
        ("tiktok_douyin.ndjson:13", "E601"), ("tiktok_douyin.ndjson:44", "E602"), ("tiktok_douyin.ndjson:56", "E602")]
    platforms = dict(catalog.db.execute("SELECT platform, COUNT(*) FROM posts GROUP BY platform").fetchall())
    assert platforms == {"tiktok": 32, "douyin": 20}
    counters = catalog.run_counters()
    assert (counters["import/read"], counters["import/imported"], counters["import/duplicates"]) == (56, 52, 1)
    assert counters["import/failed/E601"] == 1 and counters["import/failed/E602"] == 2


def test_tiktok_capture_becomes_a_post_with_its_capture_metadata(catalog):
    import_file("zeeschuimer", NDJSON, catalog, None)
    p = catalog.get_post(post_id_for("tiktok", "7431029384756102905"))
    assert p.url == p.page_url == "https://www.tiktok.com/@xiao_lu_walks/video/7431029384756102905"
    assert p.caption == "内科克利的船票，每人 40 美元，救生衣要自己买 #走线 #达连"
    assert p.author_handle == "xiao_lu_walks"
    assert p.posted_at == "2026-09-07T21:00:00Z"
    assert p.captured_at == "2026-10-20T08:01:30Z"  # timestamp_collected (ms) of its newest capture
    assert p.lang == "zh"
    assert p.views == 5565
    assert p.media_url.startswith("https://v16-webapp-prime.tiktok.com/video/tos/useast2a/")
    assert p.discovered_via == "https://www.tiktok.com/search?q=%E8%B5%B0%E7%BA%BF&t=1792483190123"
    extra = json.loads(p.extra_json)
    # the capture metadata of its newest capture (line 55, from the tag page)
    assert extra["import"] == {
        "kind": "zeeschuimer", "file": "tiktok_douyin.ndjson", "line": 55, "timestamp_collected": 1792483290000,
        "source_platform": "tiktok.com", "source_platform_url": "https://www.tiktok.com/tag/zouxian",
        "source_url": "https://www.tiktok.com/api/challenge/item_list/?aid=1988&keyword=%E8%B5%B0%E7%BA%BF&offset=0",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "item_id": "7431029384756102905", "nav_index": "1:3:0", "id": 53, "capture_time_known": True,
    }
    assert extra["raw"]["author"]["nickname"] == "小鹿走天涯"  # the platform's item, kept whole
    assert extra["hashtags"] == ["走线", "达连"]
    assert extra["duration"] == 55


def test_douyin_capture_prefers_the_durable_play_address(catalog):
    import_file("zeeschuimer", NDJSON, catalog, None)
    p = catalog.get_post(post_id_for("douyin", "7429876543210987603"))
    assert p.url == "https://www.douyin.com/video/7429876543210987603"
    assert p.author_handle == "beishang88"
    assert p.posted_at == "2026-09-08T03:00:00Z"
    assert p.media_url.startswith("https://www.douyin.com/aweme/v1/play/?video_id=v0200fg10000")
    assert p.views is None  # Douyin's web API says 0 plays for everything: unknown
    assert json.loads(p.extra_json)["duration"] == 24.411
    anonymous = catalog.get_post(post_id_for("douyin", "7429876543210987608"))
    assert anonymous.author_handle == "1880000008"  # no unique_id: the numeric short id Douyin shows


def test_repeat_capture_is_one_post_with_two_sightings(catalog):
    import_file("zeeschuimer", NDJSON, catalog, None)
    pid = post_id_for("tiktok", "7431029384756102905")
    assert _sightings(catalog, pid) == ["https://www.tiktok.com/search?q=%E8%B5%B0%E7%BA%BF&t=1792483190123",
                                        "https://www.tiktok.com/tag/zouxian"]


def test_importing_twice_adds_nothing(catalog):
    import_file("zeeschuimer", NDJSON, catalog, None)
    again = import_file("zeeschuimer", NDJSON, catalog, None)
    assert (again.imported, again.duplicates, again.failed_by_code) == (0, 53, {"E601": 1, "E602": 2})
    assert catalog.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 52
    # the same bad lines are the same failure rows, attempted twice
    assert catalog.db.execute("SELECT COUNT(*), MIN(attempts) FROM failures").fetchone()[:] == (3, 2)


def test_imported_posts_are_ready_for_fetch(catalog):
    import_file("zeeschuimer", NDJSON, catalog, None)
    assert len(catalog.pending("fetch", after="crawl")) == 52


def test_fourcat_tiktok_csv(catalog):
    rep = import_file("4cat", TIKTOK_CSV, catalog, None, source_name="4cat:zouxian-oct")
    assert (rep.read, rep.imported, rep.duplicates) == (8, 5, 0)
    assert rep.failed_by_code == {"E601": 1, "E602": 2}
    assert sorted((f.item_id, f.code) for f in catalog.failures("import")) == [
        ("tiktok_4cat_export.csv:7", "E601"), ("tiktok_4cat_export.csv:8", "E602"), ("tiktok_4cat_export.csv:9", "E602")]
    multi = catalog.get_post(post_id_for("tiktok", "7432200000000000001"))
    assert multi.caption == ("Del Darién a Bajo Chiquito: 4 días.\n"
                             "Llevamos agua, pastillas y plástico para la mochila, nada más.")
    assert multi.url == "https://www.tiktok.com/@camino.al.norte/video/7432200000000000001"
    assert multi.posted_at == "2026-10-04T13:20:00Z"
    assert multi.views == 18230
    assert multi.source == "4cat:zouxian-oct"
    quoted = catalog.get_post(post_id_for("tiktok", "7432200000000000002"))
    assert quoted.caption == '墨西哥的检查站, 有的要钱, 有的不要。我们这次交了 "过路费" 100 美元。#走线'
    assert quoted.posted_at == "2026-10-06T22:05:00Z"  # no unix_timestamp: the UTC "timestamp" column
    row = json.loads(quoted.extra_json)
    assert row["import"] == {"kind": "4cat", "file": "tiktok_4cat_export.csv", "line": 5, "capture_time_known": False}
    assert row["row"]["location_created"] == "MX"


def test_same_video_from_zeeschuimer_and_4cat_is_one_post(catalog):
    import_file("zeeschuimer", NDJSON, catalog, None)
    tt = import_file("4cat", TIKTOK_CSV, catalog, None)
    dy = import_file("4cat", DOUYIN_CSV, catalog, None)
    assert (tt.imported, tt.duplicates) == (4, 1)
    assert (dy.read, dy.imported, dy.duplicates) == (2, 1, 1)
    pid = post_id_for("tiktok", "7431029384756102905")
    assert "4cat:tiktok_4cat_export.csv" in _sightings(catalog, pid)
    # the first capture's metadata stays: an import never overwrites what was collected
    assert json.loads(catalog.get_post(pid).extra_json)["import"]["kind"] == "zeeschuimer"


def test_bad_kind_and_missing_file_are_E903(catalog, tmp_path):
    with pytest.raises(RouteWatchError) as kind:
        import_file("instaloader", NDJSON, catalog, None)
    with pytest.raises(RouteWatchError) as missing:
        import_file("zeeschuimer", tmp_path / "nope.ndjson", catalog, None)
    assert (kind.value.code.value, missing.value.code.value) == ("E903", "E903")


def test_lines_that_are_not_captures(catalog, tmp_path):
    f = tmp_path / "odd.ndjson"
    f.write_bytes(b'[1, 2]\n\n{"source_platform": "instagram.com", "data": {"id": "1"}}\n\xff\xfe\n'
                  b'{"source_platform": "tiktok.com", "data": {"id": "7431029384756100001"}}\n')
    rep = import_file("zeeschuimer", f, catalog, None)
    assert rep.read == 4  # the blank line is not a line of data
    assert rep.failed_by_code == {"E601": 2, "E602": 2}
    assert rep.imported == 0


def test_half_an_emoji_in_json_is_replaced_and_the_import_goes_on(catalog, tmp_path):
    f = tmp_path / "cut.ndjson"
    line = ('{"source_platform": "tiktok.com", "data": {"id": "%s", "desc": %s, "author": {"uniqueId": %s}}}\n')
    f.write_text(line % ("7431029384756100001", r'"走线 \ud83c"', r'"\udc00walker"')
                 + line % ("7431029384756100002", r'"a pair \ud83c\uddea\ud83c\udde8 stays"', '"ok"'), encoding="utf-8")
    rep = import_file("zeeschuimer", f, catalog, None)
    assert (rep.read, rep.imported, rep.failed_by_code) == (2, 2, {})
    cut = catalog.get_post(post_id_for("tiktok", "7431029384756100001"))
    assert (cut.caption, cut.author_handle) == ("走线 \ufffd", "\ufffdwalker")
    assert json.loads(cut.extra_json)["raw"]["desc"] == "走线 \ufffd"
    assert catalog.get_post(post_id_for("tiktok", "7431029384756100002")).caption == "a pair 🇪🇨 stays"


# ---- acceptance: imported media fetched from a local server through yt-dlp -------------------------


class _MediaServer:
    """Answers every path with one of the demo clips (chosen by path), as a CDN would: video/mp4."""

    def __init__(self) -> None:
        self.log: list[str] = []
        log = self.log
        clips = [(MEDIA / n).read_bytes() for n in CLIPS]

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                log.append(self.path)
                body = clips[int(hashlib.sha1(self.path.encode()).hexdigest(), 16) % len(clips)]
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    try:
                        self.wfile.write(body)
                    except (BrokenPipeError, ConnectionResetError):
                        pass  # yt-dlp probes and hangs up: fine

            do_HEAD = do_GET  # noqa: N815

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # a client hanging up is not a test failure
                pass

        self.httpd = Quiet(("127.0.0.1", 0), H)

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.slow
def test_imported_zeeschuimer_media_is_fetched_through_ytdlp(tmp_path):
    from routewatch.pipeline import Context, stage_fetch

    data = tmp_path / "data"
    with _MediaServer() as srv:
        origin = f"http://{srv.hostport}"
        # TikTok's CDN and Douyin's play endpoint both come from the local server; URLs stay canonical
        settings = load_settings(data, crawl={"origins": {"tiktok_cdn": origin, "douyin": origin},
                                              "allow_hosts": [srv.hostport]})
        cat = Catalog(settings.catalog_path)
        try:
            rep = import_file("zeeschuimer", NDJSON, cat, settings.crawl)
            assert rep.imported == 52
            fetched = stage_fetch(Context(settings, cat))
            assert (fetched.done, fetched.failed, fetched.skipped) == (52, 0, 0)
            rows = cat.db.execute("SELECT p.platform, m.path, m.size, m.sha256, m.duration FROM media m "
                                  "JOIN posts p ON p.post_id = m.post_id").fetchall()
            assert len(rows) == 52
            assert {r[0] for r in rows} == {"tiktok", "douyin"}
            clip_sha = {hashlib.sha256((MEDIA / n).read_bytes()).hexdigest() for n in CLIPS}
            for _platform, path, size, sha, duration in rows:
                f = data / path
                assert f.is_file() and f.stat().st_size == size
                assert sha in clip_sha and path == f"media/{sha[:2]}/{sha}.mp4"
                assert duration and duration > 0
            assert {r[0] for r in cat.db.execute("SELECT status FROM stage_status WHERE stage='fetch'")} == {"done"}
        finally:
            cat.close()
    # every play address was requested at the local server, by its canonical path
    assert len(set(srv.log)) == 52
    assert any(p.startswith("/video/tos/useast2a/") for p in srv.log)
    assert any(p.startswith("/aweme/v1/play/?video_id=v0200fg10000") for p in srv.log)


# ---- hostile exports (issue 21 group 9) -------------------------------------------------------------------------
def _zs(item_id, desc, collected=1793692800000, **data):
    return json.dumps({"timestamp_collected": collected, "source_platform": "tiktok.com",
                       "source_platform_url": "https://www.tiktok.com/tag/zouxian",
                       "data": {"id": item_id, "desc": desc, "createTime": 1793606400, **data}}, ensure_ascii=False)


def test_declared_encoding_and_an_unknown_one(catalog, tmp_path):
    f = tmp_path / "gbk.csv"
    f.write_bytes("id,body,author,timestamp,url\n7432200000000000099,走线到巴拿马,阿强,2026-11-03 08:00:00,"
                  "https://www.tiktok.com/@a/video/7432200000000000099\n".encode("gbk"))
    rep = import_file("4cat", f, catalog, None, encoding="GBK")
    assert (rep.imported, rep.encoding, rep.warnings_by_code) == (1, "gbk", {})
    assert catalog.get_post(post_id_for("tiktok", "7432200000000000099")).caption == "走线到巴拿马"
    with pytest.raises(RouteWatchError) as bad:
        import_file("4cat", f, catalog, None, encoding="klingon-8")
    assert bad.value.code.value == "E903"


def test_newest_capture_wins_whatever_the_file_order(catalog, tmp_path):
    older = _zs("7431029384756100777", "old caption", 1793600000000, stats={"playCount": 10},
                author={"uniqueId": "old_handle"})
    newer = _zs("7431029384756100777", "new caption", 1793700000000, stats={"playCount": 99},
                author={"uniqueId": "new_handle"})
    pid = post_id_for("tiktok", "7431029384756100777")
    for order, name in (((newer, older), "a.ndjson"), ((older, newer), "b.ndjson")):
        f = tmp_path / name
        f.write_text("\n".join(order) + "\n", encoding="utf-8")
        import_file("zeeschuimer", f, catalog, None)
        p = catalog.get_post(pid)
        assert (p.caption, p.views, p.author_handle, p.captured_at) == \
               ("new caption", 99, "new_handle", "2026-11-03T10:00:00Z"), name
        assert p.url == "https://www.tiktok.com/@new_handle/video/7431029384756100777"
        assert json.loads(p.extra_json)["stats"] == {"playCount": 99}  # stats and views from the same capture
    # two files, two captures each: four sightings
    assert catalog.db.execute("SELECT COUNT(*) FROM post_sightings WHERE post_id=?", (pid,)).fetchone()[0] == 4


def test_an_undated_4cat_row_never_overrides_a_dated_capture(catalog, tmp_path):
    z = tmp_path / "z.ndjson"
    z.write_text(_zs("7432200000000000555", "zeeschuimer caption", stats={"playCount": 50}) + "\n", encoding="utf-8")
    c = tmp_path / "c.csv"
    c.write_text("id,body,author,timestamp,url,plays\n7432200000000000555,4cat caption,x,2026-11-02 08:00:00,"
                 "https://www.tiktok.com/@x/video/7432200000000000555,7\n", encoding="utf-8")
    import_file("zeeschuimer", z, catalog, None)
    rep = import_file("4cat", c, catalog, None)
    p = catalog.get_post(post_id_for("tiktok", "7432200000000000555"))
    assert (rep.duplicates, rep.refreshed, p.caption, p.views) == (1, 0, "zeeschuimer caption", 50)


def test_relative_play_address_is_resolved_against_the_captured_page(catalog, tmp_path):
    f = tmp_path / "rel.ndjson"
    f.write_text(_zs("7431029384756100888", "x", video={"playAddr": "//v16-webapp-prime.tiktok.com/video/a.mp4"}) + "\n"
                 + _zs("7431029384756100889", "y", video={"playAddr": "/video/b.mp4"}) + "\n", encoding="utf-8")
    import_file("zeeschuimer", f, catalog, None)
    assert catalog.get_post(post_id_for("tiktok", "7431029384756100888")).media_url == \
        "https://v16-webapp-prime.tiktok.com/video/a.mp4"
    assert catalog.get_post(post_id_for("tiktok", "7431029384756100889")).media_url == \
        "https://www.tiktok.com/video/b.mp4"


def test_a_contact_in_the_file_name_is_not_stored(catalog, tmp_path):
    f = tmp_path / "走线 微信zx73915.ndjson"
    f.write_text(_zs("7431029384756100999", "x") + "\n" + "not json\n", encoding="utf-8")
    rep = import_file("zeeschuimer", f, catalog, None)
    assert rep.source == "zeeschuimer:走线 微信[id removed].ndjson"
    dump = "\n".join(str(tuple(r)) for t in ("posts", "post_sightings", "failures", "counters")
                     for r in catalog.db.execute(f"SELECT * FROM {t}"))  # noqa: S608 - fixed table names
    assert "zx73915" not in dump


def test_line_ends_utf16_iso_times_and_semicolons(catalog, tmp_path):
    a, b = _zs("7431029384756101001", "cr one"), _zs("7431029384756101002", "cr two")
    (tmp_path / "cr.ndjson").write_bytes((a + "\r" + b + "\r").encode())  # old Mac line ends
    (tmp_path / "u16.ndjson").write_bytes(  # Windows "Unicode": UTF-16 with its BOM
        (_zs("7431029384756101003", "utf16 走线", collected="2026-11-03T09:30:00+01:00") + "\r\n").encode("utf-16"))
    (tmp_path / "semi.csv").write_text("id;body;author;timestamp;url\n7432200000000000777;punto y coma;x;"
                                       "2026-11-03T08:00:00Z;https://www.tiktok.com/@x/video/7432200000000000777\n",
                                       encoding="utf-8")
    assert import_file("zeeschuimer", tmp_path / "cr.ndjson", catalog, None).imported == 2
    rep = import_file("zeeschuimer", tmp_path / "u16.ndjson", catalog, None)
    assert (rep.imported, rep.failed_by_code) == (1, {})
    p = catalog.get_post(post_id_for("tiktok", "7431029384756101003"))
    assert (p.caption, p.captured_at) == ("utf16 走线", "2026-11-03T08:30:00Z")  # an ISO capture time, its zone applied
    assert import_file("4cat", tmp_path / "semi.csv", catalog, None).imported == 1
    semi = catalog.get_post(post_id_for("tiktok", "7432200000000000777"))
    assert (semi.caption, semi.posted_at) == ("punto y coma", "2026-11-03T08:00:00Z")


def test_a_capture_time_in_the_future_is_set_aside(catalog, tmp_path):
    f = tmp_path / "future.ndjson"
    f.write_text(_zs("7431029384756101004", "x", collected=4102444800000) + "\n", encoding="utf-8")  # year 2100
    rep = import_file("zeeschuimer", f, catalog, None)
    assert rep.warnings_by_code == {"E604": 1}
    flags = json.loads(catalog.get_post(post_id_for("tiktok", "7431029384756101004")).extra_json)["import"]["flags"]
    assert [(x["code"], x["field"]) for x in flags] == [("E604", "captured_at")]


# ---- every field of every imported post, media fetched from a local CDN (issue 19) -----------------------------

def test_zeeschuimer_records_newest_capture_wins_and_media_resolves(tmp_path):
    """records.ndjson: a TikTok video captured twice (the newer capture first in the file, its play address
    protocol-relative), one whose counts are strings (statsV2) and whose play address is relative to the page it was
    captured from, and a Douyin video whose web API says 0 plays. Imported and fetched through the real CLI."""
    from tests.crawlers.records import collect, media_bytes, origin_env, records, sha256
    from tests.httpserver import TestServer, respond

    video = media_bytes("p05_retenes_chiapas.mp4")
    with TestServer({"*": lambda h: respond(h, 200, video, "video/mp4")}) as srv:
        out = collect(tmp_path / "data", origin_env(srv, "tiktok", "tiktok_cdn", "douyin"),
                      "import", "zeeschuimer", str(TESTS / "data" / "zeeschuimer" / "records.ndjson"))
        assert sorted({p.split("?")[0] for p in srv.log}) == [
            "/aweme/v1/play/", "/video/tos/useast2a/tos-useast2a-ve-0068c001/oA1new/",
            "/video/tos/useast2a/tos-useast2a-ve-0068c001/oB2/"]
    assert (out["read"], out["imported"], out["duplicates"], out["refreshed"]) == (4, 3, 1, 0)
    plain = {"signer": "", "forwarded_from": "", "edited": False, "reply_to": "", "media": sha256(video)}
    assert records(tmp_path / "data", captured=True) == {
        "7431029384756103001": {**plain, "platform": "tiktok", "author": "ruta.norte.2026",
                                "url": "https://www.tiktok.com/@ruta.norte.2026/video/7431029384756103001",
                                "posted_at": "2026-10-13T14:00:00Z", "text": "巴拿马营地到边境的大巴涨到 70 美元了 #达连",
                                "views": 2301, "captured_at": "2026-10-20T08:10:00Z"},
        "7431029384756103002": {**plain, "platform": "tiktok", "author": "camino.al.norte",
                                "url": "https://www.tiktok.com/@camino.al.norte/video/7431029384756103002",
                                "posted_at": "2026-10-14T03:53:20Z", "text": "Bajo Chiquito: registro y comida caliente #darien",
                                "views": 48213, "captured_at": "2026-10-20T08:01:00Z"},
        "7429876543210988001": {**plain, "platform": "douyin", "author": "1880000123",
                                "url": "https://www.douyin.com/video/7429876543210988001",
                                "posted_at": "2026-10-14T06:40:00Z", "text": "达连出来第一顿饭 #巴拿马",
                                "views": None, "captured_at": "2026-10-20T08:02:00Z"},
    }


def test_fourcat_records_every_field_and_media(tmp_path):
    """4CAT's TikTok and Douyin CSV exports (no capture time: each row is a sighting), imported and fetched."""
    from tests.crawlers.records import collect, media_bytes, origin_env, records, sha256
    from tests.httpserver import TestServer, respond

    video = media_bytes("p08_colombia_ecuador_futbol.mp4")
    data = tmp_path / "data"
    with TestServer({"*": lambda h: respond(h, 200, video, "video/mp4")}) as srv:
        env = origin_env(srv, "tiktok", "tiktok_cdn", "douyin")
        collect(data, env, "import", "4cat", str(TIKTOK_CSV), fetch=False)
        collect(data, env, "import", "4cat", str(DOUYIN_CSV))
    got = sha256(video)
    plain = {"platform": "tiktok", "signer": "", "forwarded_from": "", "edited": False, "reply_to": "", "media": got}

    def tiktok(handle, vid):
        return {**plain, "author": handle, "url": f"https://www.tiktok.com/@{handle}/video/{vid}"}

    assert records(data) == {
        "7431029384756102905": {**tiktok("xiao_lu_walks", "7431029384756102905"), "posted_at": "2026-09-07T21:00:00Z",
                                "text": "内科克利的船票，每人 40 美元，救生衣要自己买 #走线 #达连", "views": 5565},
        "7432200000000000001": {**tiktok("camino.al.norte", "7432200000000000001"), "posted_at": "2026-10-04T13:20:00Z",
                                "text": "Del Darién a Bajo Chiquito: 4 días.\nLlevamos agua, pastillas y plástico para la "
                                        "mochila, nada más.", "views": 18230},
        "7432200000000000002": {**tiktok("zx_laowang", "7432200000000000002"), "posted_at": "2026-10-06T22:05:00Z",
                                "text": '墨西哥的检查站, 有的要钱, 有的不要。我们这次交了 "过路费" 100 美元。#走线', "views": 9120},
        "7432200000000000003": {**tiktok("ruta.norte.2026", "7432200000000000003"), "posted_at": "2026-10-07T09:00:00Z",
                                "text": "Precio actualizado del bus Quito–Tulcán: 18 USD", "views": 2210},
        "7432200000000000006": {**tiktok("zx_laowang", "7432200000000000006"), "posted_at": "2026-10-10T03:30:00Z",
                                "text": "从蒂华纳到边境墙的那条路，晚上千万别一个人走 #美墨边境", "views": 31877},
        "7429876543210987603": {**plain, "platform": "douyin", "author": "beishang88", "posted_at": "2026-09-08T03:00:00Z",
                                "url": "https://www.douyin.com/video/7429876543210987603",
                                "text": "内科克利等船，海边的帐篷营地 #达连", "views": None},
        "7433300000000000001": {**plain, "platform": "douyin", "author": "lu_shang_de_ren", "posted_at": "2026-10-11T12:00:00Z",
                                "url": "https://www.douyin.com/video/7433300000000000001",
                                "text": "巴拿马到哥斯达黎加的边境，大巴一人 60 美元 #走线", "views": None},
    }
