"""Helpers for the web tests: settings and a TestClient for a data dir, a catalog of hostile posts, a
live uvicorn server on a free loopback port."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import asdict
from pathlib import Path

from routewatch.core.catalog import Catalog
from routewatch.core.records import (
    CountryMention,
    Evidence,
    Extraction,
    Media,
    Place,
    Post,
    Segment,
    TextUnit,
    Transcript,
    post_id_for,
)


def settings_for(data_dir: Path, **overrides):
    from routewatch.settings import load_settings

    return load_settings(data_dir, **overrides)


def client_for(data_dir: Path, **overrides):
    from fastapi.testclient import TestClient

    from routewatch.web import create_app

    return TestClient(create_app(settings_for(data_dir, **overrides)))


# ---- hostile posts ----------------------------------------------------------------------------------------
RLO = "\u202e"
SCRIPT = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'
LONG = "厄瓜多尔" + "A" * 60000 + "END-OF-LONG"


def _index(cat: Catalog, data_dir: Path) -> None:
    from index.sqlite_fts import SqliteIndex
    from routewatch.pipeline import build_doc

    idx = SqliteIndex(data_dir / "catalog.sqlite")
    try:
        res = idx.upsert(build_doc(cat, p.post_id) for p in cat.posts())
        assert not res.failed
    finally:
        idx.close()


def make_hostile_dir(data_dir: Path) -> dict[str, str]:
    """A data dir whose posts carry markup, script URLs, bidi overrides and over-long text everywhere a
    string can go (caption, title, URL, handle, source, transcript, evidence, route codes)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    cat = Catalog(data_dir / "catalog.sqlite")
    ids: dict[str, str] = {}
    try:
        def post(key: str, **kw) -> Post:
            pid = post_id_for("web", key)
            ids[key] = pid
            base = dict(post_id=pid, platform="web", platform_id=key, url="https://example.org/p/" + key,
                        source="feed:hostile", posted_at="2026-11-02T08:00:00Z", captured_at="2026-11-03T00:00:00Z",
                        lang="zh", author_handle="@someone_" + key)
            base.update(kw)
            p = Post(**base)
            cat.upsert_post(p)
            return p

        markup = post(
            "markup", caption=f"厄瓜多尔 {SCRIPT} {IMG} <a href=\"javascript:alert(2)\">click</a> 免签",
            url="javascript:alert(3)", source=f"feed:{IMG}",
            extra_json=json.dumps({"title": f"<svg onload=alert(4)>{SCRIPT}"}),
            author_handle="@<b>bold</b>", forwarded_from=f"{SCRIPT}")
        rtl = post("rtl", caption=f"厄瓜多尔 invoice{RLO}fdp.exe 看这里", url='https://example.org/"><script>alert(5)</script>')
        long = post("long", caption=LONG)
        for p in (markup, rtl, long):
            with cat.tx():
                cat.put_unit(TextUnit(f"{p.post_id}:caption", p.post_id, "caption", p.caption, "zh"))
        # a transcript with hostile segment text, on a media file that really exists
        media_rel = "media/ab/" + "ab" * 32 + ".mp4"
        (data_dir / media_rel).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / media_rel).write_bytes(b"\x00" * 4096)
        cat.put_media(Media(markup.post_id, media_rel, "ab" * 32, 4096, 4.0, "video/mp4"))
        segs = (Segment(0.0, 2.0, f"厄瓜多尔 {IMG}"), Segment(2.0, 4.0, f"<iframe src=javascript:alert(6)> {RLO}x"))
        cat.save_transcript_for_post(markup.post_id, Transcript("ab" * 32, "zh", TextUnit.join_segments(segs), segs,
                                                                "test-model", 4.0))
        # a media row whose path points outside the media dir (a tampered catalog)
        cat.put_media(Media(rtl.post_id, "../../../etc/passwd", "cd" * 32, 10, None, "video/mp4"))
        ev = Evidence(f"{markup.post_id}:caption", "caption", 0, 4, "厄瓜多尔")
        bad_ev = Evidence(f"{markup.post_id}:caption", "caption", 5, 5 + len(SCRIPT), SCRIPT)
        ex = Extraction(markup.post_id, "", True, countries=(CountryMention("EC", (ev,)),),
                        route=("EC", "<img src=x onerror=alert(7)>"),
                        places=(Place(SCRIPT, IMG, "EC", (bad_ev,)),))
        cat.save_extraction(ex, json.dumps(asdict(ex), ensure_ascii=False))
        for p in (rtl, long):
            e = Extraction(p.post_id, "", True, countries=(CountryMention("EC", ()),), route=("EC", "CO"))
            cat.save_extraction(e, json.dumps(asdict(e), ensure_ascii=False))
        _index(cat, data_dir)
    finally:
        cat.close()
    return ids


# ---- live server and browser ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, data_dir: Path):
        import uvicorn

        from routewatch.web import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(settings_for(data_dir)), host="127.0.0.1",
                                                    port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
