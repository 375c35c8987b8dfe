"""The hostile-input corpus (tests/data/hostile/cases.yaml) as test fixtures: the manifest, the recipes that
build big or binary inputs at test time, the local server that serves them, the one crawl / import / fetch /
extract / index run over all of them (the "world"), and the inertness checks for HTML, JSON and CSV output.
Writes only under the directories it is given (pytest's tmp dirs)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import re
import resource
import struct
import subprocess
import sys
import time
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from tests.httpserver import TestServer, respond

REPO = Path(__file__).resolve().parents[1]
HOSTILE = REPO / "tests" / "data" / "hostile"
STAGES = ("crawl-page", "crawl-feed", "import", "fetch", "decode", "extract", "index+search", "web", "digest", "export",
          "cli")
TIME_LIMIT = 30.0  # seconds per case and stage (CONVENTIONS: bounded time whatever the bytes are)
POSTED = "2026-11-03T12:00:00Z"  # every dated hostile post falls in ISO week 2026-W45
WEEK = "2026-W45"
DOWNLOAD_BUDGET = 8.0  # crawl.max_download_seconds of the world: the slow-drip cases must end with E210 by then
CANARY = "rw_pwned"  # every path-traversal payload names its target with this; no such file may appear


# ---- the manifest ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    what: str
    input: dict[str, Any]
    stages: dict[str, dict[str, Any]]

    @property
    def source(self) -> str:
        """The source name this case's posts carry in the world catalog."""
        return f"hostile:{self.id}"

    @property
    def channel(self) -> str:
        return re.sub(r"[^A-Za-z0-9_]", "_", self.id)[:64]


def expectation(raw: Any) -> dict[str, Any]:
    """A stage entry of the manifest as {"expect": "inert" | code | [codes], ...checks, "xfail"?}."""
    if isinstance(raw, str | list):
        return {"expect": raw}
    out = dict(raw or {})
    out.setdefault("expect", "inert")
    return out


def load_cases() -> list[Case]:
    doc = yaml.safe_load((HOSTILE / "cases.yaml").read_text(encoding="utf-8"))
    cases = []
    for c in doc["cases"]:
        stages = {name: expectation(v) for name, v in c["stages"].items()}
        unknown = set(stages) - set(STAGES)
        if unknown:
            raise ValueError(f"{c['id']}: unknown stages {sorted(unknown)}")
        cases.append(Case(c["id"], c["what"], c["input"], stages))
    if len({c.id for c in cases}) != len(cases):
        raise ValueError("duplicate case ids in cases.yaml")
    return cases


def codes_of(exp: dict[str, Any]) -> list[str] | None:
    """The expected error codes, or None when the stage must be inert."""
    e = exp["expect"]
    if e == "inert":
        return None
    return sorted(e) if isinstance(e, list) else [e]


# ---- recipes: inputs built at test time (big, binary, or things a repository cannot hold) -------------------
def _tone_pcm(seconds: float, rate: int = 16000, silence: bool = False) -> bytes:
    n = int(seconds * rate)
    if silence:
        return b"\0\0" * n
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(n))


def _wav(seconds: float = 1, rate: int = 16000, channels: int = 1, bits: int = 16, samples: int | None = None,
         declared_data: int | None = None) -> bytes:
    pcm = _tone_pcm(samples / 16000 if samples is not None else seconds)
    block = channels * bits // 8
    hdr = b"RIFF" + struct.pack("<I", min(0xFFFFFFFF, 36 + (declared_data if declared_data is not None else len(pcm))))
    hdr += b"WAVE" + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate & 0xFFFFFFFF,
                                           (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    hdr += b"data" + struct.pack("<I", declared_data if declared_data is not None else len(pcm))
    return hdr + pcm


def _ffmpeg(args: list[str], out: Path) -> bytes:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args, str(out)], check=True, timeout=60)
    return out.read_bytes()


def _tone(work: Path, seconds: float, ext: str, faststart: bool = False, silence: bool = False,
          rate: int = 16000) -> bytes:
    src = f"anullsrc=r={rate}:cl=mono" if silence else f"sine=frequency=440:sample_rate={rate}"
    args = ["-f", "lavfi", "-i", src, "-t", str(seconds)]
    args += {"mp4": ["-c:a", "aac", "-b:a", "32k"], "flac": ["-c:a", "flac"], "ogg": ["-c:a", "libopus"]}[ext]
    if faststart:
        args += ["-movflags", "+faststart"]
    return _ffmpeg(args, work / f"tone-{seconds}-{faststart}-{silence}-{rate}.{ext}")


def _patch_mp4_durations(data: bytes) -> bytes:
    """Set the duration of every mvhd / tkhd / mdhd box (version 0) to 2^31-1 units."""
    b = bytearray(data)
    for box, off in ((b"mvhd", 16), (b"mdhd", 16), (b"tkhd", 24)):
        i = 0
        while (i := b.find(box, i)) >= 0:
            if b[i + 4] == 0:
                b[i + 4 + off:i + 8 + off] = struct.pack(">I", 0x7FFFFFFF)
            i += 4
    return bytes(b)


def _huge_html(size: int) -> bytes:
    head = ("<!doctype html><html><head><meta charset='utf-8'>"
            "<meta property='og:description' content='巨大页面：厄瓜多尔到哥伦比亚'>"
            f"<meta property='article:published_time' content='{POSTED}'></head><body>").encode()
    tail = b"</body></html>"
    unit = b"<p class='filler'>lorem ipsum dolor sit amet</p>\n"
    n = max(0, size - len(head) - len(tail))
    return head + unit * (n // len(unit)) + b" " * (n % len(unit)) + tail


def _gzip_bomb(mib: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [c.compress(b"<html><head><meta property='og:description' content='bomb'></head><body>")]
    chunk = b" " * (1 << 20)
    parts += [c.compress(chunk) for _ in range(mib)]
    parts.append(c.flush())
    return b"".join(parts)


def _nested_html(depth: int) -> bytes:
    return (b"<html><head><meta property='og:description' content='deeply nested \xe5\x8e\x84\xe7\x93\x9c\xe5\xa4\x9a"
            b"\xe5\xb0\x94'></head><body>" + b"<div>" * depth + b"<div class='caption'>deep caption</div>"
            + b"</div>" * depth + b"</body></html>")


def _invalid_utf8_page() -> bytes:
    bad = b"caf\xe9 \xc0\xaf \xff\xfe \xe5\x8e \xed\xa0\x80 \xf8\x88\x80\x80\x80"
    return (b"\xef\xbb\xbf<!doctype html><html><head><meta charset='utf-8'><meta property='og:description' content='"
            + "走线 厄瓜多尔 ".encode() + bad + " 哥伦比亚".encode() + b"'><meta property='article:published_time' "
            b"content='" + POSTED.encode() + b"'></head><body>" + bad + b"</body></html>")


def _nul_page() -> bytes:
    return (b"\0\0\0<!doctype html><html><head>\0<meta property='og:description' content='a\0b \x01\x1b[31m "
            + "走线 哥伦比亚".encode() + b" \x7f'><meta property='article:published_time' content='"
            + POSTED.encode() + b"'></head>\0<body>\0</body></html>")


def _huge_feed(entries: int) -> bytes:
    items = "".join(f"<item><title>{i}</title><link>{{{{BASE}}}}/hostile/empty.html?entry={i}</link></item>"
                    for i in range(entries))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>huge</title>{items}</channel></rss>'.encode()


def _zip_bomb(mib: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("video.mp4", b"\0" * (mib << 20))
    return buf.getvalue()


def _zs_line(item_id: str, desc: Any, **data: Any) -> str:
    return json.dumps({"timestamp_collected": 1793692800000, "source_platform": "tiktok.com",
                       "data": {"id": item_id, "desc": desc, "createTime": 1793692800, **data}}, ensure_ascii=False)


def _huge_caption(chars: int) -> str:
    filler = "今天天气很好我们去公园散步。"
    body = (filler * (chars // len(filler) + 1))[:chars]
    return "走线第一天，从厄瓜多尔出发。" + body + "最后到了墨西哥城。"


def text_recipe(spec: dict[str, Any]) -> str:
    r = spec["recipe"]
    if r == "repeat":
        return (spec["text"] * (spec["chars"] // len(spec["text"]) + 1))[: spec["chars"]]
    if r == "zalgo":
        return "厄" + "\u0301" * spec["marks"] + "瓜多尔 到 哥伦比亚 走线"
    if r == "huge_caption":
        return _huge_caption(spec["chars"])
    if r == "many_terms":
        return " ".join(f"w{i}" for i in range(spec["terms"]))
    raise ValueError(f"unknown text recipe {r!r}")


def text_of(src: Any) -> str:
    return src if isinstance(src, str) else text_recipe(src)


def build_bytes(src: Any, work: Path) -> bytes:
    """The bytes of a manifest source: a file under tests/data/hostile/ or a recipe."""
    if isinstance(src, str):
        return (HOSTILE / src).read_bytes()
    r = src["recipe"]
    work.mkdir(parents=True, exist_ok=True)
    if r == "raw":
        return src["text"].encode()
    if r == "huge_html":
        return _huge_html(src["bytes"])
    if r == "gzip_bomb":
        return _gzip_bomb(src["mib"])
    if r == "nested_html":
        return _nested_html(src["depth"])
    if r == "reencode":
        text = (HOSTILE / src["file"]).read_text(encoding="utf-8").replace("{charset}", src["encoding"])
        return text.encode(src["encoding"])
    if r == "invalid_utf8_page":
        return _invalid_utf8_page()
    if r == "nul_page":
        return _nul_page()
    if r == "fill":
        return (HOSTILE / src["file"]).read_bytes().replace(src["token"].encode(), (src["repeat"] * src["times"]).encode())
    if r == "huge_feed":
        return _huge_feed(src["entries"])
    if r == "random_bytes":
        return random.Random(src["seed"]).randbytes(src["size"])
    if r == "truncate":
        data = build_bytes(src["of"], work)
        return data[: int(len(data) * src["keep"])]
    if r == "concat":
        return b"".join(build_bytes(p, work) for p in src["parts"])
    if r == "tone":
        return _tone(work, src["seconds"], src["ext"], src.get("faststart", False), src.get("silence", False),
                     src.get("rate", 16000))
    if r == "wav":
        return _wav(**{k: v for k, v in src.items() if k != "recipe"})
    if r == "zip_bomb":
        return _zip_bomb(src["mib"])
    if r == "patch_mp4_durations":
        return _patch_mp4_durations(build_bytes(src["of"], work))
    if r == "video_only":
        return _ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-c:v", "mpeg4"], work / "video.mp4")
    if r == "huge_vtt":
        return b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n" + b"x" * src["bytes"] + b"\n"
    if r == "deep_json":
        return b"[" * src["depth"] + b"]" * src["depth"] + b"\n"
    if r == "huge_ndjson_caption":
        return (_zs_line("7500000000000001001", _huge_caption(src["chars"]), author={"uniqueId": "huge_line"}) + "\n").encode()
    if r == "zs_lines":  # Zeeschuimer captures: {id, desc, collected?, createTime?, ...item fields}, a BOM, line ends
        lines = []
        for it in src["items"]:
            it = dict(it)
            cap = {"timestamp_collected": it.pop("collected", 1793692800000), "source_platform": "tiktok.com",
                   "source_platform_url": it.pop("page", "https://www.tiktok.com/tag/zouxian")}
            data = {"createTime": 1793692800, **it}
            lines.append(json.dumps({**cap, "data": data}, ensure_ascii=False))
        eol = src.get("eol", "\n")
        return ("\ufeff" if src.get("bom") else "").encode() + "".join(line + eol for line in lines).encode()
    if r == "huge_csv_field":
        return ("id,body,author,timestamp,url,video_url,plays\n"
                f'7500000000000001101,"{"x" * src["chars"]}",walker,2026-11-03 08:00:00,https://t.me/x/1101,,\n'
                "7500000000000001102,走线 ordinary row 厄瓜多尔,walker,2026-11-03 08:00:00,https://t.me/x/1102,,\n").encode()
    raise ValueError(f"unknown recipe {r!r}")


def build_path(src: Any, work: Path, name: str = "clip.mp4") -> Path:
    """A file (or a hostile non-file) for decode_audio: named, a FIFO, a directory or a symlink."""
    work.mkdir(parents=True, exist_ok=True)
    if isinstance(src, dict) and src.get("recipe") in ("fifo", "directory", "symlink", "named"):
        r = src["recipe"]
        if r == "named":
            return build_path(src["of"], work, src["name"])
        p = work / name
        if r == "fifo":
            os.mkfifo(p)
        elif r == "directory":
            p.mkdir()
        else:
            p.symlink_to(src["target"])
        return p
    p = work / name
    p.write_bytes(build_bytes(src, work / "parts"))
    return p


# ---- the local server ----------------------------------------------------------------------------------------
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
EMPTY_PAGE = b"<!doctype html><html><head><title>empty</title></head><body></body></html>"


def _static(body: bytes, ctype: str, headers: dict[str, str] | None = None):
    def handler(h):
        if b"{{BASE}}" in body:
            host = f"http://127.0.0.1:{h.server.server_address[1]}"
            respond(h, 200, body.replace(b"{{BASE}}", host.encode()), ctype, headers)
        else:
            respond(h, 200, body, ctype, headers)
    return handler


def _is_drip(src: Any) -> bool:
    return isinstance(src, dict) and src.get("recipe") == "drip"


def _drip(spec: dict[str, Any], ctype: str):
    """A server that promises a big body and sends `bytes` bytes every `every` seconds (never idle long
    enough for a read time-out), for at most `for` seconds."""
    def handler(h):
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(10 * 1024 * 1024))
        h.end_headers()
        t_end = time.monotonic() + spec.get("for", 120)
        try:
            while time.monotonic() < t_end:
                h.wfile.write(b"\0" * spec["bytes"])
                h.wfile.flush()
                time.sleep(spec["every"])
        except OSError:
            pass  # the client gave up, as it should once its time budget is spent
    return handler


def _redirect_self(h):
    respond(h, 302, b"", "text/plain", {"Location": h.path})


def _redirect_chain(h):
    m = re.search(r"/(\d+)$", h.path)
    n = int(m.group(1)) + 1 if m else 0
    base = h.path.rsplit("/", 1)[0] if m else h.path
    respond(h, 302, b"", "text/plain", {"Location": f"{base}/{n}"})


class HostileServer(TestServer):
    """TestServer whose routes serve every case; prefix routes (redirect chains) match by path start."""

    def __init__(self, cases: list[Case], work: Path):
        routes: dict[str, Any] = {"/robots.txt": _static(ROBOTS, "text/plain"),
                                  "/hostile/empty.html": _static(EMPTY_PAGE, "text/html; charset=utf-8")}
        self.prefixes: dict[str, Any] = {}
        self.start_urls: dict[str, list[str]] = {}  # case id -> start URLs (a {base} placeholder)
        self.media_paths: dict[str, str] = {}  # case id -> path of its served media
        for c in cases:
            inp = c.input
            ctype = inp.get("content_type", "text/html; charset=utf-8")
            headers = inp.get("headers")
            if "page" in inp:
                routes[f"/hostile/{c.id}.html"] = _static(build_bytes(inp["page"], work / c.id), ctype, headers)
                start = f"{{base}}/hostile/{c.id}.html"
                if "start_url_chars" in inp:  # the start URL padded with a query string to at least this length
                    start += "?pad=" + "a" * max(0, inp["start_url_chars"] - len(start))
                self.start_urls[c.id] = [start]
            elif "telegram" in inp:
                routes[f"/s/{c.channel}"] = _static(build_bytes(inp["telegram"], work / c.id), ctype, headers)
                self.start_urls[c.id] = [f"https://t.me/s/{c.channel}"]
            elif "feed" in inp:
                routes[f"/hostile/{c.id}/feed.xml"] = _static(build_bytes(inp["feed"], work / c.id),
                                                              inp.get("content_type", "application/rss+xml"))
                self.start_urls[c.id] = [f"{{base}}/hostile/{c.id}/feed.xml"]
            elif "seeds" in inp:
                routes[f"/hostile/{c.id}/seeds.txt"] = _static(build_bytes(inp["seeds"], work / c.id), "text/plain")
                self.start_urls[c.id] = [f"{{base}}/hostile/{c.id}/seeds.txt"]
            elif "redirect" in inp:
                path = f"/hostile/{c.id}.html"
                if inp["redirect"] == "self":
                    routes[path] = _redirect_self
                else:
                    self.prefixes[path] = _redirect_chain
                self.start_urls[c.id] = [f"{{base}}{path}"]
            elif "url" in inp:
                self.start_urls[c.id] = [inp["url"]]
            elif "urls" in inp:  # several start URLs in one source, in order
                self.start_urls[c.id] = list(inp["urls"])
            if "media" in inp and "fetch" in c.stages:
                path = f"/media/{c.id}.mp4"
                routes[path] = _static(build_bytes(inp["media"], work / c.id), inp.get("content_type", "video/mp4"))
                self.media_paths[c.id] = path
            if "fetch" in inp:
                f = inp["fetch"]
                path = f.get("path", f"/media/{c.id}.mp4")
                routes[path] = (_drip(f["media"], "video/mp4") if _is_drip(f["media"])
                                else _static(build_bytes(f["media"], work / c.id), "video/mp4", f.get("headers")))
                self.media_paths[c.id] = path
                if "subtitles" in f:
                    routes[f"/subs/{c.id}.vtt"] = (_drip(f["subtitles"], "text/vtt") if _is_drip(f["subtitles"]) else
                                                   _static(build_bytes(f["subtitles"], work / c.id), "text/vtt"))
        super().__init__(routes)
        prefixes = self.prefixes
        plain = self.routes
        self.routes = _PrefixRoutes(plain, prefixes)
        self.httpd.handle_error = lambda *a: None  # clients hang up on purpose (size caps): no tracebacks

    def url(self, template: str) -> str:
        return template.replace("{base}", self.base).replace("{hostport}", self.hostport).replace("{port}", str(self.port))


class _PrefixRoutes(dict):
    def __init__(self, plain: dict[str, Any], prefixes: dict[str, Any]):
        super().__init__(plain)
        self.prefixes = prefixes

    def get(self, key, default=None):
        found = super().get(key)
        if found is not None:
            return found
        for p, fn in self.prefixes.items():
            if key.startswith(p):
                return fn
        return default


# ---- inertness checks ----------------------------------------------------------------------------------------
# Direction overrides / embeddings / isolates and marks that reorder what a reader sees.
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BAD_SCHEMES = ("javascript:", "vbscript:", "data:text", "file:")
ACTIVE_TAGS = {"script", "iframe", "object", "embed", "img", "frame", "frameset", "applet", "base", "style", "textarea",
               "image", "math", "template", "portal", "meta", "link", "form"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))


def html_problems(html: str, ours: tuple[str, ...] = ()) -> list[str]:
    """What in a rendered page is not inert: elements that run or load things (other than the app's own
    /static script and head tags), event-handler attributes, script/file links, bidi overrides, controls."""
    p = _Tags()
    p.feed(html)
    p.close()
    out = []
    for tag, attrs in p.tags:
        a = dict(attrs)
        local = next((a.get(k) or "" for k in ("src", "action") if a.get(k)), "")
        relative = not local.startswith("//") and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", local)
        own = (tag == "script" and local.startswith("/static/")) or tag in ("meta", "link") or tag in ours or \
              (tag in ("form", "img") and bool(local) and relative)
        if tag in ACTIVE_TAGS and not own:
            out.append(f"element <{tag} {a}>")
        for name, value in attrs:
            if name.startswith("on"):
                out.append(f"event handler {name}= on <{tag}>")
            if name in ("href", "src", "action", "formaction", "xlink:href", "poster", "background"):
                v = re.sub(r"[\s\x00-\x20]", "", (value or "")).lower()
                if v.startswith(BAD_SCHEMES):
                    out.append(f"{name}={value!r} on <{tag}>")
    if BIDI.search(html):
        out.append(f"bidi control U+{ord(BIDI.search(html).group(0)):04X} in the page")
    if CONTROL.search(html):
        out.append(f"control character U+{ord(CONTROL.search(html).group(0)):04X} in the page")
    return out


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN / Infinity (not JSON, and what strict readers choke on)."""
    def refuse(tok: str) -> Any:
        raise ValueError(f"non-standard JSON constant {tok}")
    return json.loads(text, parse_constant=refuse)


def visible(s: str) -> str:
    """The characters a reader sees: format (Cf) characters such as zero-width and soft hyphen removed."""
    return "".join(c for c in s if unicodedata.category(c) != "Cf")


def contact_leaks(text: str, digits: str) -> bool:
    """True when the digits of a contact still appear together once invisible characters are removed
    (separators a reader skips over: spaces, dots, dashes, parentheses, plus signs)."""
    joined = re.sub(r"[\s().+\-]", "", visible(text))
    return digits in joined


def canary_files(*roots: Path, depth: int = 6) -> list[Path]:
    """Files named after the path-traversal canary under the given roots, at most `depth` levels down."""
    found = []
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in (".git", ".venv", "node_modules", "proc")]
            found += [Path(dirpath) / f for f in filenames if CANARY in f]
            if dirpath.count(os.sep) - str(root).count(os.sep) >= depth:
                dirnames[:] = []
    return found


def maxrss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


# ---- the world: every hostile input through crawl, import, fetch, extract and index once ------------------
@dataclass
class ImportOutcome:
    report: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    source: str = ""


@dataclass
class World:
    data_dir: Path
    settings: Any
    server: HostileServer
    crawl: dict[str, dict[str, int]] = field(default_factory=dict)  # source -> counters from `crawl --json`
    crawl_seconds: float = 0.0
    crawl_maxrss_mb: float = 0.0
    crawl_stderr: str = ""
    imports: dict[str, ImportOutcome] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # case id -> source name of its posts
    fetch_seconds: dict[str, float] = field(default_factory=dict)  # post id -> seconds
    extract_seconds: dict[str, float] = field(default_factory=dict)
    server_log: list[str] = field(default_factory=list)

    def catalog(self):
        from routewatch.core.catalog import Catalog

        return Catalog(self.data_dir / "catalog.sqlite", write=False)

    def post_ids(self, case: Case) -> list[str]:
        import sqlite3

        con = sqlite3.connect(self.data_dir / "catalog.sqlite")
        try:
            src = self.sources.get(case.id, case.source)
            return [r[0] for r in con.execute("SELECT post_id FROM posts WHERE source=? ORDER BY post_id", (src,))]
        finally:
            con.close()


def _crawl_config(cases: list[Case], srv: HostileServer) -> str:
    lines = ["[crawl]", f'allow_hosts = ["{srv.hostport}"]', "max_pages_per_source = 50", "timeout_seconds = 10",
             "retry_times = 0", f"max_download_seconds = {DOWNLOAD_BUDGET}",
             # the corpus's Telegram cases are listing pages; each post's own page (?embed=1) is not served here
             # (tests/crawlers/test_telegram.py and the evidence tests cover those pages)
             "telegram_post_pages = false", "[crawl.origins]", f'telegram = "{srv.base}"']
    for c in cases:
        if c.id in srv.start_urls and ("crawl-page" in c.stages or "crawl-feed" in c.stages):
            urls = [srv.url(u) for u in srv.start_urls[c.id]]
            lines += ["[[sources]]", f"name = {json.dumps(c.source)}", f"urls = {json.dumps(urls)}"]
    return "\n".join(lines) + "\n"


# Runs a command and reports its peak memory on stderr: RUSAGE_CHILDREN of this small wrapper is that one child.
_PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
         "sys.stderr.write(f'\\nRW_PEAK_KB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n'); "
         "sys.exit(r.returncode)")


def run_crawl_cli(data_dir: Path, timeout: float) -> tuple[int, str, str, float, float]:
    """`routewatch crawl --json` in a child process; returns (rc, stdout, stderr, seconds, its peak RSS in MB)."""
    cmd = [sys.executable, "-c", _PEAK, sys.executable, "-m", "routewatch", "crawl", "--json", "--data-dir", str(data_dir)]
    t0 = time.monotonic()
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        return -9, str(e.stdout or ""), f"(killed after {timeout:.0f} s)", time.monotonic() - t0, 0.0
    peak = re.search(r"RW_PEAK_KB=(\d+)", cp.stderr)
    return cp.returncode, cp.stdout, cp.stderr, time.monotonic() - t0, int(peak.group(1)) / 1024.0 if peak else 0.0


def _settings_for(data_dir: Path, srv: HostileServer):
    from routewatch.settings import load_settings

    s = load_settings(data_dir)
    return s.model_copy(update={"crawl": s.crawl.model_copy(update={"allow_hosts": [srv.hostport]})})


def _add_post(cat, case: Case, key: str, **kw: Any):
    from routewatch.core.records import Post, post_id_for

    base = dict(post_id=post_id_for("web", f"{case.id}/{key}"), platform="web", platform_id=f"{case.id}/{key}",
                url=f"https://example.org/hostile/{case.id}/{key}", source=case.source, caption="",
                posted_at=POSTED, captured_at=POSTED, lang="")
    base.update(kw)
    post = Post(**base)
    with cat.tx():
        cat.upsert_post(post)
        cat.set_status(post.post_id, "crawl", "done")
    return post


def build_world(cases: list[Case], root: Path) -> World:
    """Crawl (CLI) → imports → text and media posts → fetch → extract → index, each once for all cases."""
    root.mkdir(parents=True, exist_ok=True)
    srv = HostileServer(cases, root / "served")
    srv.__enter__()
    try:
        return _build_world(cases, root, srv)
    except BaseException:
        srv.__exit__()
        raise


def _build_world(cases: list[Case], root: Path, srv: HostileServer) -> World:
    from crawlers.imports import import_file
    from routewatch import pipeline
    from routewatch.core.catalog import Catalog

    data = root / "data"
    data.mkdir()
    (data / "routewatch.toml").write_text(_crawl_config(cases, srv), encoding="utf-8")
    world = World(data_dir=data, settings=_settings_for(data, srv), server=srv)
    # 1. crawl: one `routewatch crawl` for every page, feed and start URL
    rc, out, err, secs, rss = run_crawl_cli(data, timeout=180)
    world.crawl_seconds, world.crawl_maxrss_mb, world.crawl_stderr = secs, rss, err
    if rc != 0:
        raise AssertionError(f"routewatch crawl exited {rc}: {err[-2000:]}")
    world.crawl = json.loads(out)[0]["extra"]["per_source"]
    cat = Catalog(data / "catalog.sqlite")
    try:
        # 2. imports, each file on its own (a crash is recorded, and the next file goes on)
        for c in cases:
            kind = "zeeschuimer" if "zeeschuimer" in c.input else "4cat" if "fourcat" in c.input else None
            if kind is None:
                continue
            src = c.input.get("zeeschuimer") or c.input.get("fourcat")
            name = c.input.get("name") or f"{c.id}.{'ndjson' if kind == 'zeeschuimer' else 'csv'}"
            f = root / "imports" / c.id / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(build_bytes(src, root / "imports" / c.id))
            source = None if "name" in c.input else c.source
            oc = ImportOutcome(source=source or f"{kind}:{name}")
            t0 = time.monotonic()
            try:
                oc.report = import_file(kind, f, cat, world.settings.crawl, source_name=source)
            except Exception as e:  # noqa: BLE001 - the import stage's test reports it
                oc.error = e
                if cat.db.in_transaction:
                    cat.db.rollback()
            oc.seconds = time.monotonic() - t0
            world.imports[c.id] = oc
            if oc.report is not None:
                oc.source = oc.report.source  # the name the import recorded (contacts in a file name redacted)
            world.sources[c.id] = oc.source
        # 3. posts for text cases, fetch-only cases and URL cases that go through fetch
        for c in cases:
            inp = c.input
            if "text" in inp and "extract" in c.stages and c.stages["extract"].get("isolate"):
                continue  # run alone, in a child process (tests/test_hostile_inputs.py)
            if "text" in inp:
                post = _add_post(cat, c, "caption", caption=text_of(inp["text"]), author_handle="@hostile_author")
                if "media_path" in inp:
                    from routewatch.core.records import Media

                    cat.put_media(Media(post_id=post.post_id, path=inp["media_path"], sha256="0" * 64, size=1))
            elif "fetch" in c.stages and ("url" in inp or c.id in srv.media_paths):
                url = srv.url(inp["url"]) if "url" in inp else f"{srv.base}{srv.media_paths[c.id]}"
                subs = f"{srv.base}/subs/{c.id}.vtt" if "subtitles" in inp.get("fetch", {}) else ""
                _add_post(cat, c, "media", caption=f"hostile media {c.id}", media_url=url, subtitles_url=subs)
        # 4. fetch only the posts of cases that list it (no DNS look-ups, no network beyond loopback)
        fetching = {c.source for c in cases if "fetch" in c.stages} | {world.sources[c.id] for c in cases
                                                                     if "fetch" in c.stages and c.id in world.sources}
        with cat.tx():
            for p in cat.posts():
                if p.source not in fetching:
                    cat.set_status(p.post_id, "fetch", "skipped", "E207")
        world.fetch_seconds = _timed_stage(pipeline.stage_fetch, world, cat, "fetch")
        # 5. extract (the extractor is built first so its load time is not charged to the first post)
        import nlp

        nlp.build_extractor(settings=world.settings.extract)
        world.extract_seconds = _timed_stage(pipeline.stage_extract, world, cat, "extract")
        # 6. index, as the pipeline does it: posts whose extraction failed (E401) are indexed on their texts
        pipeline.stage_index(pipeline.Context(settings=world.settings, catalog=cat))
    finally:
        cat.close()
    world.server_log = list(srv.log)
    return world


def _timed_stage(fn: Any, world: World, cat: Any, stage: str) -> dict[str, float]:
    """Run a pipeline stage; seconds per item from its progress callbacks (item i ends at call i)."""
    from routewatch import pipeline

    todo = cat.pending(stage, after="crawl")
    out: dict[str, float] = {}
    last = [time.monotonic()]

    def progress(name: str, done: int, total: int) -> None:
        # called after item `done` (skipped items call nothing: their time goes to the next item)
        now = time.monotonic()
        if name == stage and 0 < done <= len(todo):
            out[todo[done - 1]] = now - last[0]
        last[0] = now

    fn(pipeline.Context(settings=world.settings, catalog=cat, progress=progress))
    return out


# ---- downstream outputs --------------------------------------------------------------------------------------
def write_exports(world: World, out: Path) -> dict[str, Path]:
    from routewatch.core.catalog import Catalog
    from routewatch.export import export

    out.mkdir(parents=True, exist_ok=True)
    cat = Catalog(world.data_dir / "catalog.sqlite")
    try:
        paths = {fmt: out / f"posts.{fmt}" for fmt in ("csv", "jsonl")}
        for fmt, p in paths.items():
            export(cat, world.settings, fmt, p)
    finally:
        cat.close()
    return paths


def read_csv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)  # captions of megabytes are exported whole
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_digest_for(world: World, out: Path) -> dict[str, str]:
    from routewatch.core.catalog import Catalog
    from routewatch.digest import build_digest, write_digest

    cat = Catalog(world.data_dir / "catalog.sqlite")
    try:
        return write_digest(build_digest(cat, world.settings, WEEK), out)
    finally:
        cat.close()


# ---- the `cli` stage: one `routewatch` command against a small data dir of its own ---------------------------
CLI_FILLER = 800  # posts that make `index --rebuild` long enough for a reader to query during it
CLI_GOLD = {"relevant": True, "countries": ["EC", "CO"], "route": ["EC", "CO"], "places": [], "costs": [],
            "bribes": []}


def build_cli_data(data: Path) -> Path:
    """A data dir for the `cli` cases: CLI_FILLER + 2 extracted posts (every caption says "ruta") and one
    whose extraction failed (E401) before its caption unit was stored, indexed by the pipeline."""
    from routewatch import pipeline
    from routewatch.core.catalog import Catalog
    from routewatch.core.privacy import install_secret
    from routewatch.core.records import Failure, Post, post_id_for
    from routewatch.settings import load_settings

    cat = Catalog(data / "catalog.sqlite")
    try:
        with cat.tx():
            for i in range(CLI_FILLER + 3):
                cap = "达连丛林 tapachula ruta final" if i == CLI_FILLER + 2 else f"先飞土耳其再到厄瓜多尔 ruta {i}"
                pid = post_id_for("telegram", f"cli/{i}")
                cat._upsert_post(Post(post_id=pid, platform="telegram", platform_id=f"cli/{i}",
                                      url=f"https://t.me/cli/{i}", source="cli", caption=cap, lang="zh",
                                      posted_at=f"2026-11-0{2 + i % 5}T08:00:00Z", captured_at=POSTED))
                cat.set_status(pid, "crawl", "done")
                if i == CLI_FILLER + 2:
                    continue
                cat.db.execute("INSERT INTO units(unit_id, post_id, kind, text, lang) VALUES (?,?,?,?,?)",
                               (f"{pid}:caption", pid, "caption", cap, "zh"))
                cat.db.execute("INSERT INTO extractions(post_id, relevant, gold_json, facts_json, created_at) "
                               "VALUES (?,?,?,?,?)", (pid, 1, json.dumps(CLI_GOLD), "{}", POSTED))
                cat.set_status(pid, "extract", "done")
        cat.record_failure(Failure("extract", post_id_for("telegram", f"cli/{CLI_FILLER + 2}"), "E401",
                                   "text over spaCy's max_length", POSTED))
        pipeline.stage_index(pipeline.Context(settings=load_settings(data), catalog=cat))
        cat.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        install_secret(data)
    finally:
        cat.close()
    return data


def _damage_catalog(path: Path, how: str) -> None:
    import sqlite3

    if how == "text":
        path.write_text("post_id,caption\n1,走线\n" * 200, encoding="utf-8")
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    elif how in ("newer-schema", "bad-json"):
        con = sqlite3.connect(path)
        with con:
            if how == "newer-schema":
                con.execute("INSERT INTO schema_version(version) VALUES (999)")
            else:
                con.execute("UPDATE extractions SET gold_json='{\"relevant\": tru' WHERE rowid = 1")
                con.execute("UPDATE posts SET extra_json='[[[' WHERE rowid = 2")
                con.execute("UPDATE units SET segments_json='{\"start\": \"x\"}' WHERE rowid = 3")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
    else:
        raise ValueError(f"unknown catalog damage {how!r}")


def _fill(value: str, case_dir: Path, data: Path) -> str:
    out = value.replace("{dir}", str(case_dir)).replace("{data}", str(data))
    return re.sub(r"\{byte:([0-9a-f]{2})\}", lambda m: os.fsdecode(bytes([int(m.group(1), 16)])), out)


def prepare_cli_case(spec: dict[str, Any], template: Path, case_dir: Path) -> tuple[list[str], dict[str, str], Path]:
    """The case's own copy of the data dir and files; returns (argv after `routewatch`, env, data dir)."""
    import shutil

    data = case_dir / "data"
    shutil.copytree(template, data)
    if spec.get("damage"):
        _damage_catalog(data / "catalog.sqlite", spec["damage"])
    for name, text in (spec.get("files") or {}).items():
        (case_dir / name).write_text(text, encoding="utf-8")
    for name, target in (spec.get("links") or {}).items():
        (case_dir / name).symlink_to(_fill(target, case_dir, data))
    for name, target in (spec.get("hardlinks") or {}).items():
        os.link(_fill(target, case_dir, data), case_dir / name)
    for name in spec.get("fifos") or []:
        os.mkfifo(case_dir / name)
    if "config" in spec:
        body = spec["config"].encode("utf-8")
        (data / "routewatch.toml").write_bytes((b"\xef\xbb\xbf" if spec.get("bom") else b"") + body)
    args = [_fill(a, case_dir, data) for a in spec["args"]]
    if spec.get("data_dir", True) and "--data-dir" not in args:
        args += ["--data-dir", str(data)]
    env = {k: _fill(str(v), case_dir, data) for k, v in (spec.get("env") or {}).items()}
    return args, env, data
