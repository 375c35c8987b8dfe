"""`routewatch recheck` against a local server whose posts change: each post ends in the right state with its
date and the platform's words (recorded pages of YouTube's player response, Telegram's embed widget, TikTok's
page data, and plain HTTP statuses), and the evidence already kept is untouched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from crawlers.recheck import classify, parse_age
from routewatch.core.catalog import Catalog
from routewatch.core.errors import RouteWatchError
from routewatch.core.records import Media, Post, post_id_for
from tests.conftest import run_cli
from tests.httpserver import TestServer, respond

DATA = Path(__file__).resolve().parents[1] / "data" / "recheck"


def page(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(("platform", "status", "name", "state", "words"), [
    ("youtube", 200, "youtube_available.html", "available", ""),
    ("youtube", 200, "youtube_removed.html", "deleted", "This video has been removed by the uploader"),
    ("youtube", 200, "youtube_private.html", "private", "This video is private"),
    ("youtube", 200, "youtube_geo.html", "geo_blocked", "The uploader has not made this video available in your country"),
    ("youtube", 200, "youtube_terminated.html", "account_gone",
     "This video is no longer available because the YouTube account associated with this video has been terminated."),
    ("telegram", 200, "telegram_embed_available.html", "available", ""),
    ("telegram", 200, "telegram_embed_deleted.html", "deleted", "Post not found"),
    ("telegram", 200, "telegram_embed_private.html", "private", "Channel is private"),
    ("tiktok", 200, "tiktok_private.html", "private", "author_secret"),
    ("web", 404, "", "deleted", "HTTP 404"),
    ("web", 451, "", "geo_blocked", "HTTP 451"),
    ("web", 403, "", "private", "HTTP 403"),
])
def test_recorded_pages_tell_the_state(platform, status, name, state, words):
    assert classify(platform, status, page(name) if name else "") == (state, words)


def test_ages():
    assert [parse_age(a).total_seconds() for a in ("7d", "12h", "30m", "0")] == [604800, 43200, 1800, 0]
    with pytest.raises(RouteWatchError) as e:
        parse_age("a week")
    assert e.value.code.value == "E903"


class Site:
    """What the local platform serves now; tests switch it between rechecks."""

    def __init__(self):
        self.youtube = {"Rn8uT2aJcQe": "youtube_available.html", "Zx7Vd0LpQ3k": "youtube_available.html",
                        "Kp3mW9sYt1E": "youtube_available.html"}
        self.telegram = "telegram_embed_available.html"
        self.web = 200

    def routes(self):
        def watch(h):
            vid = parse_qs(urlsplit(h.path).query).get("v", [""])[0]
            respond(h, 200, page(self.youtube[vid]).encode())

        def telegram(h):
            respond(h, 200, page(self.telegram).encode())

        def web(h):
            if self.web == 200:
                respond(h, 200, b"<html><head><title>ruta</title></head><body>still here</body></html>")
            else:
                respond(h, self.web, b"<html><head><title>Not Found</title></head></html>")

        return {"/watch": watch, "/ruta_norte/1201": telegram, "/posts/ruta.html": web}


def _posts(base: str) -> list[Post]:
    yt = [Post(post_id=post_id_for("youtube", v), platform="youtube", platform_id=v,
               url=f"https://www.youtube.com/watch?v={v}", source="yt", page_url=f"https://www.youtube.com/watch?v={v}")
          for v in ("Rn8uT2aJcQe", "Zx7Vd0LpQ3k", "Kp3mW9sYt1E")]
    tg = Post(post_id=post_id_for("telegram", "ruta_norte/1201"), platform="telegram", platform_id="ruta_norte/1201",
              url="https://t.me/ruta_norte/1201", source="tg", page_url="https://t.me/ruta_norte/1201",
              extra_json=json.dumps({"channel": "ruta_norte"}))
    web = Post(post_id=post_id_for("web", f"{base}/posts/ruta.html"), platform="web", platform_id=f"{base}/posts/ruta.html",
               url=f"{base}/posts/ruta.html", source="web", page_url=f"{base}/posts/ruta.html")
    return [*yt, tg, web]


def _evidence(data: Path) -> dict[str, str]:
    return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((data / "media").rglob("*")) + sorted((data / "snapshots").rglob("*")) if p.is_file()}


def test_posts_that_go_away_end_in_their_state_and_the_evidence_stays(tmp_path):
    site = Site()
    data = tmp_path / "data"
    with TestServer(site.routes()) as srv:
        (data).mkdir()
        (data / "routewatch.toml").write_text(
            f'[crawl]\nallow_hosts = ["{srv.hostport}"]\n[crawl.origins]\nyoutube = "{srv.base}"\n'
            f'telegram = "{srv.base}"\n', encoding="utf-8")
        cat = Catalog(data / "catalog.sqlite")
        posts = _posts(srv.base)
        for p in posts:
            cat.upsert_post(p)
        # evidence already kept for one post: a media file and a page snapshot
        (data / "media" / "ab").mkdir(parents=True)
        (data / "media" / "ab" / ("ab" * 32 + ".mp4")).write_bytes(b"\0\1media bytes")
        (data / "snapshots" / "cd").mkdir(parents=True)
        (data / "snapshots" / "cd" / ("cd" * 32 + ".gz")).write_bytes(b"\x1f\x8bsnapshot")
        cat.put_media(Media(post_id=posts[0].post_id, path=f"media/ab/{'ab' * 32}.mp4", sha256="ab" * 32, size=14))
        before = _evidence(data)
        media_row = tuple(cat.db.execute("SELECT * FROM media").fetchone())
        cat.close()

        out = run_cli("recheck", "--older-than", "0", "--json", data_dir=data).stdout
        assert json.loads(out)["states"] == {"available": 5}

        # then the platform changes: removed, private, geo-blocked, deleted message, 404
        site.youtube = {"Rn8uT2aJcQe": "youtube_removed.html", "Zx7Vd0LpQ3k": "youtube_private.html",
                        "Kp3mW9sYt1E": "youtube_geo.html"}
        site.telegram = "telegram_embed_deleted.html"
        site.web = 404
        out = run_cli("recheck", "--older-than", "0", "--json", data_dir=data).stdout
        assert json.loads(out)["states"] == {"deleted": 3, "private": 1, "geo_blocked": 1}
        # not due again within a week
        out = run_cli("recheck", "--json", data_dir=data).stdout
        assert json.loads(out)["checked"] == 0

    cat = Catalog(data / "catalog.sqlite", write=False)
    try:
        states = {r[0]: (r[1], r[2]) for r in cat.db.execute(
            "SELECT item_id, code, updated_at FROM stage_status WHERE stage='recheck' AND status='done'")}
        want = {post_id_for("youtube", "Rn8uT2aJcQe"): "deleted", post_id_for("youtube", "Zx7Vd0LpQ3k"): "private",
                post_id_for("youtube", "Kp3mW9sYt1E"): "geo_blocked", post_id_for("telegram", "ruta_norte/1201"): "deleted",
                posts[4].post_id: "deleted"}
        assert {k: v[0] for k, v in states.items()} == want
        removed = json.loads(cat.get_post(post_id_for("youtube", "Rn8uT2aJcQe")).extra_json)["availability"]
        assert [(h["state"], h["http_status"], h["words"]) for h in removed] == [
            ("available", 200, ""), ("deleted", 200, "This video has been removed by the uploader")]
        assert removed[1]["seen_at"] == states[post_id_for("youtube", "Rn8uT2aJcQe")][1]  # the date seen
        for pid, state in want.items():  # every post: seen available, then in its state, each with its date
            history = json.loads(cat.get_post(pid).extra_json)["availability"]
            assert [h["state"] for h in history] == ["available", state], pid
            assert history[1]["seen_at"] == states[pid][1] and history[0]["seen_at"] <= history[1]["seen_at"], pid
        assert removed[0]["seen_at"] <= removed[1]["seen_at"]
        tg = json.loads(cat.get_post(post_id_for("telegram", "ruta_norte/1201")).extra_json)
        assert tg["channel"] == "ruta_norte" and tg["availability"][-1]["words"] == "Post not found"
        assert tuple(cat.db.execute("SELECT * FROM media").fetchone()) == media_row
    finally:
        cat.close()
    assert _evidence(data) == before  # no evidence file touched
