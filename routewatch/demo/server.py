"""The built-in demo platform: a local HTTP server that looks like the sources RouteWatch crawls.

In: `corpus/posts.json` and `corpus/media/`.  Out, over HTTP on 127.0.0.1:
  /s/<channel>[?before=N]   Telegram-style public channel preview pages (5 messages a page)
  /<channel>/<id>?embed=1   one message's own page (Telegram's embed widget), for its evidence snapshot
  /feed.xml                 an Atom feed whose entries link to watch pages
  /watch/<id>               watch pages with og:video, caption, date and subtitle tracks
  /seeds.txt                a seed-URL list
  /media/<file>             the media files (with HTTP Range support)
  /robots.txt
Canonical URLs are https://t.me/... and https://demo.routewatch.invalid/...; RouteWatch maps them
to this server through `crawl.origins` (SPEC §4). Never serves a file outside corpus/media.
"""

from __future__ import annotations

import html
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from routewatch.core.platforms import DEMO_HOST

CORPUS_DIR = Path(__file__).parent / "corpus"
DEMO_BASE = f"https://{DEMO_HOST}"
PAGE_SIZE = 5


@dataclass
class Corpus:
    posts: list[dict]
    media_dir: Path

    @classmethod
    def load(cls, corpus_dir: Path = CORPUS_DIR) -> Corpus:
        posts = json.loads((corpus_dir / "posts.json").read_text(encoding="utf-8"))
        return cls(posts=posts, media_dir=corpus_dir / "media")

    def channel(self, name: str) -> list[dict]:
        msgs = [p for p in self.posts if p.get("channel") == "telegram" and p.get("tg_channel") == name]
        return sorted(msgs, key=lambda p: p["msg_id"])

    def by_id(self, pid: str) -> dict | None:
        return next((p for p in self.posts if p["id"] == pid), None)

    @cached_property
    def channels(self) -> list[str]:
        return sorted({p["tg_channel"] for p in self.posts if p.get("channel") == "telegram"})


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def _text_html(text: str) -> str:
    return "<br/>".join(_e(line) for line in text.split("\n"))


def media_url(name: str) -> str:
    return f"{DEMO_BASE}/media/{quote(name)}"


def render_channel(corpus: Corpus, name: str, before: int | None) -> str | None:
    msgs = corpus.channel(name)
    if not msgs:
        return None
    if before is not None:
        msgs = [m for m in msgs if m["msg_id"] < before]
    page = msgs[-PAGE_SIZE:]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{_e(name)} – Telegram</title>",
        f"<meta property='og:title' content='{_e(name)}'>",
        f"<link rel='canonical' href='https://t.me/s/{_e(name)}'>",
        "</head><body><main class='tgme_main'>",
        f"<div class='tgme_channel_info_header_title'><span dir='auto'>{_e(name)}</span></div>",
        f"<div class='tgme_channel_info_header_username'><a href='https://t.me/{_e(name)}'>@{_e(name)}</a></div>",
        "<section class='tgme_channel_history js-message_history'>",
    ]
    if page and len(msgs) > len(page):
        first = page[0]["msg_id"]
        parts.append(
            "<div class='tme_messages_more_wrap'>"
            f"<a href='/s/{_e(name)}?before={first}' class='tme_messages_more js-messages_more' "
            f"data-before='{first}'></a></div>"
        )
    for m in page:
        parts += _message_parts(name, m)
    parts.append("</section></main></body></html>")
    return "".join(parts)


def render_post(corpus: Corpus, name: str, msg_id: str) -> str | None:
    """One message as Telegram's embed widget shows it (t.me/<channel>/<id>?embed=1)."""
    m = next((m for m in corpus.channel(name) if str(m["msg_id"]) == msg_id), None)
    if m is None:
        return None
    return "".join(["<!DOCTYPE html><html><head><meta charset='utf-8'>",
                    f"<title>{_e(name)}/{_e(msg_id)} – Telegram</title>",
                    f"<link rel='canonical' href='https://t.me/{_e(name)}/{_e(msg_id)}'>",
                    "</head><body class='widget_frame_base'>", *_message_parts(name, m), "</body></html>"])


def _message_parts(name: str, m: dict) -> list[str]:
    """One message's widget: author, forward source, video, text, signer, views and date."""
    parts: list[str] = []
    post_ref = f"{name}/{m['msg_id']}"
    parts.append("<div class='tgme_widget_message_wrap js-widget_message_wrap'>")
    parts.append(f"<div class='tgme_widget_message js-widget_message' data-post='{_e(post_ref)}'>")
    parts.append("<div class='tgme_widget_message_bubble'>")
    parts.append(
        "<div class='tgme_widget_message_author accent_color'>"
        f"<a class='tgme_widget_message_owner_name' href='https://t.me/{_e(name)}'>"
        f"<span dir='auto'>{_e(name)}</span></a></div>"
    )
    if m.get("forwarded_from"):
        parts.append(
            "<div class='tgme_widget_message_forwarded_from accent_color'>Forwarded from "
            f"<a class='tgme_widget_message_forwarded_from_name' href='https://t.me/{_e(m['forwarded_from'])}'>"
            f"<span dir='auto'>{_e(m['forwarded_from'])}</span></a></div>"
        )
    if m.get("media"):
        parts.append(
            f"<a class='tgme_widget_message_video_player js-message_video_player' "
            f"href='https://t.me/{_e(post_ref)}'>"
            "<div class='tgme_widget_message_video_wrap'>"
            f"<video src='{_e(media_url(m['media']))}' class='tgme_widget_message_video js-message_video' "
            "width='100%' height='100%'></video></div></a>"
        )
    parts.append(f"<div class='tgme_widget_message_text js-message_text' dir='auto'>{_text_html(m['text'])}</div>")
    if m.get("author"):
        parts.append(f"<span class='tgme_widget_message_from_author' dir='auto'>{_e(m['author'])}</span>")
    views = m.get("views")
    parts.append("<div class='tgme_widget_message_footer compact js-message_footer'>"
                 "<div class='tgme_widget_message_info short js-message_info'>")
    if views is not None:
        parts.append(f"<span class='tgme_widget_message_views'>{_e(views)}</span>")
    parts.append(
        "<span class='tgme_widget_message_meta'>"
        f"<a class='tgme_widget_message_date' href='https://t.me/{_e(post_ref)}'>"
        f"<time datetime='{_e(m['posted_at'])}' class='time'>{_e(m['posted_at'][11:16])}</time></a></span>"
    )
    parts.append("</div></div></div></div></div>")
    return parts


def render_watch(p: dict) -> str:
    title = p.get("title") or p["text"][:60]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{_e(title)}</title>",
        f"<link rel='canonical' href='{DEMO_BASE}/watch/{_e(p['id'])}'>",
        f"<meta property='og:title' content='{_e(title)}'>",
        f"<meta property='og:description' content='{_e(p['text'])}'>",
        "<meta property='og:type' content='video.other'>",
        f"<meta property='article:published_time' content='{_e(p['posted_at'])}'>",
        f"<meta name='author' content='{_e(p.get('author') or '')}'>",
        f"<meta http-equiv='content-language' content='{_e(p.get('lang') or '')}'>",
    ]
    if p.get("media"):
        parts.append(f"<meta property='og:video' content='{_e(media_url(p['media']))}'>")
        vtype = "audio/ogg" if p["media"].endswith(".ogg") else "video/mp4"
        parts.append(f"<meta property='og:video:type' content='{vtype}'>")
    parts.append("</head><body>")
    parts.append(f"<h1>{_e(title)}</h1>")
    if p.get("media"):
        parts.append(f"<video controls preload='none' src='{_e(media_url(p['media']))}'>")
        if p.get("subtitles"):
            lang = (p.get("speech") or {}).get("lang") or p.get("lang") or "und"
            parts.append(f"<track kind='subtitles' srclang='{_e(lang)}' src='{_e(media_url(p['subtitles']))}'>")
        parts.append("</video>")
    parts.append(f"<div class='caption' lang='{_e(p.get('lang') or '')}'>{_text_html(p['text'])}</div>")
    parts.append(f"<p class='author'>{_e(p.get('author') or '')}</p>")
    if p.get("views") is not None:
        parts.append(f"<p class='views' data-views='{_e(p['views'])}'>{_e(p['views'])} views</p>")
    parts.append("</body></html>")
    return "".join(parts)


def render_feed(corpus: Corpus) -> str:
    entries = sorted((p for p in corpus.posts if p.get("channel") == "feed"), key=lambda p: p["posted_at"],
                     reverse=True)
    out = [
        "<?xml version='1.0' encoding='utf-8'?>",
        "<feed xmlns='http://www.w3.org/2005/Atom'>",
        "<title>Ruta videos (demo)</title>",
        f"<id>{DEMO_BASE}/feed.xml</id>",
        f"<link rel='self' href='{DEMO_BASE}/feed.xml'/>",
        f"<updated>{_e(entries[0]['posted_at'] if entries else '2026-01-01T00:00:00Z')}</updated>",
    ]
    for p in entries:
        out.append("<entry>")
        out.append(f"<id>{DEMO_BASE}/watch/{_e(p['id'])}</id>")
        out.append(f"<title>{_e(p.get('title') or p['text'][:60])}</title>")
        out.append(f"<link rel='alternate' href='{DEMO_BASE}/watch/{_e(p['id'])}'/>")
        out.append(f"<published>{_e(p['posted_at'])}</published><updated>{_e(p['posted_at'])}</updated>")
        out.append(f"<author><name>{_e(p.get('author') or '')}</name></author>")
        out.append(f"<summary>{_e(p['text'])}</summary>")
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out)


def render_seeds(corpus: Corpus) -> str:
    lines = ["# demo seed list: one URL per line"]
    lines += [f"{DEMO_BASE}/watch/{p['id']}" for p in corpus.posts if p.get("channel") == "seed"]
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    corpus: Corpus
    server_version = "RouteWatchDemo/1"

    def log_message(self, fmt: str, *args: object) -> None:  # quiet: the demo prints its own summary
        self.server.request_log.append(self.path)  # type: ignore[attr-defined]

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server API
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        faults = getattr(self.server, "faults", None)
        if faults is not None and self._inject(faults(self.path)):
            return
        url = urlsplit(self.path)
        path, qs = url.path, parse_qs(url.query)
        c = self.corpus
        if path == "/robots.txt":
            return self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if path == "/feed.xml":
            return self._send(200, render_feed(c).encode(), "application/atom+xml; charset=utf-8")
        if path == "/seeds.txt":
            return self._send(200, render_seeds(c).encode(), "text/plain; charset=utf-8")
        if path.startswith("/s/"):
            name = path[3:].strip("/")
            before = qs.get("before", [None])[0]
            try:
                b = int(before) if before else None
            except ValueError:
                b = None
            page = render_channel(c, name, b)
            if page is None:
                return self._send(404, b"not found", "text/plain")
            return self._send(200, page.encode(), "text/html; charset=utf-8")
        if path.startswith("/watch/"):
            p = c.by_id(path[len("/watch/"):].strip("/"))
            if not p or p.get("channel") not in ("feed", "seed"):
                return self._send(404, b"not found", "text/plain")
            return self._send(200, render_watch(p).encode(), "text/html; charset=utf-8")
        if path.startswith("/media/"):
            return self._media(path[len("/media/"):])
        seg = path.strip("/").split("/")
        if len(seg) == 2 and seg[1].isdigit():  # /<channel>/<id>: one Telegram message's page
            page = render_post(c, seg[0], seg[1])
            if page is not None:
                return self._send(200, page.encode(), "text/html; charset=utf-8")
        return self._send(404, b"not found", "text/plain")

    def _inject(self, fault: str | None) -> bool:
        """Fault injection for resilience tests: 500, 429, a stall past the client's time-out, or a
        body cut short of its Content-Length. Returns True when the request was answered by a fault."""
        if not fault:
            return False
        if fault == "500":
            self._send(500, b"internal error", "text/plain")
        elif fault == "429":
            self._send(429, b"slow down", "text/plain", {"Retry-After": "1"})
        elif fault == "stall":
            import time

            time.sleep(float(getattr(self.server, "stall_seconds", 3.0)))
            self.close_connection = True
        elif fault == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\0" * 1000)
            self.close_connection = True
        else:
            return False
        return True

    def _media(self, name: str) -> None:
        # Only plain names listed in the corpus folder: no traversal.
        if "/" in name or "\\" in name or name.startswith("."):
            return self._send(404, b"not found", "text/plain")
        f = self.corpus.media_dir / name
        if not f.is_file():
            return self._send(404, b"not found", "text/plain")
        data = f.read_bytes()
        ctype = {
            ".mp4": "video/mp4", ".ogg": "audio/ogg", ".vtt": "text/vtt; charset=utf-8", ".m4a": "audio/mp4",
        }.get(f.suffix, "application/octet-stream")
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start_s, _, end_s = rng[6:].partition("-")
            try:
                start = int(start_s or 0)
                end = int(end_s) if end_s else len(data) - 1
            except ValueError:
                start, end = 0, len(data) - 1
            end = min(end, len(data) - 1)
            if start > end:
                return self._send(416, b"", ctype, {"Content-Range": f"bytes */{len(data)}"})
            return self._send(206, data[start:end + 1], ctype,
                              {"Content-Range": f"bytes {start}-{end}/{len(data)}", "Accept-Ranges": "bytes"})
        return self._send(200, data, ctype, {"Accept-Ranges": "bytes"})


class DemoServer:
    """Start/stop the demo platform in a background thread (port 0 = any free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, corpus: Corpus | None = None,
                 faults: Callable[[str], str | None] | None = None):
        corpus = corpus or Corpus.load()
        handler = type("Handler", (_Handler,), {"corpus": corpus})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.request_log = []  # type: ignore[attr-defined]
        self.httpd.faults = faults  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        self.corpus = corpus
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def hostport(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"{host}:{port}"

    @property
    def requests(self) -> list[str]:
        return self.httpd.request_log  # type: ignore[attr-defined]

    def start(self) -> DemoServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="demo-platform", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:  # python -m routewatch.demo.server [PORT]
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    srv = DemoServer(port=port)
    print(f"demo platform on {srv.origin}", flush=True)
    srv.httpd.serve_forever()


if __name__ == "__main__":
    main()
