"""Imports of what researchers already collected: Zeeschuimer NDJSON and 4CAT CSV exports.

In: an export file (one Zeeschuimer capture per line: `timestamp_collected`, `source_platform`,
`source_platform_url`, `user_agent`, `data` = the platform's raw TikTok item / Douyin aweme; or a
4CAT CSV with `id`, `body`, `author`, `timestamp`/`unix_timestamp`, a post URL, `video_url` …).
Out: Posts in the catalog (crawl stage done, so fetch picks them up), the capture metadata and raw
item kept in `extra_json`, an ImportReport. A bad line is a failure row (E601 not JSON / malformed
row, E602 missing fields) and the import goes on; an item already known is one post, its new
sighting recorded, and the newest capture (by capture time, not file order) sets its mutable fields.
Text is UTF-8 (BOM or not, any line ends), else a declared or detected legacy encoding (E603 when the
guess is unsure); ids in any script's digits are made ASCII, epoch units detected, impossible dates
flagged (E604) and kept aside. Never changes the input file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from yt_dlp.utils import traverse_obj

from crawlers import comments
from crawlers.base import Comment
from crawlers.platforms import douyin_aweme_post, douyin_url, tiktok_item_post, tiktok_url
from crawlers.settings import CrawlSettings
from crawlers.store import store_capture, store_comments
from crawlers.values import as_int, ascii_digits, iso_from_epoch, iso_time, json_safe
from routewatch.core.catalog import Catalog, now_iso
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.platforms import SOCIAL, platform_of_host
from routewatch.core.privacy import redact_text
from routewatch.core.records import Failure, Post, post_id_for

KINDS = ("zeeschuimer", "4cat")
# Zeeschuimer names a capture by the module's domain ("tiktok.com"); older exports use the module name
_ZS_PLATFORMS = {"tiktok.com": "tiktok", "tiktok": "tiktok", "douyin.com": "douyin", "douyin": "douyin"}


@dataclass
class ImportReport:
    kind: str
    file: str
    source: str
    read: int = 0  # non-empty lines / data rows
    imported: int = 0  # new posts
    duplicates: int = 0  # items already in the catalog (imported twice or crawled before)
    failed_by_code: dict[str, int] = field(default_factory=dict)
    # imported, but with a doubt: E603 encoding guessed, E604 an impossible date set aside
    warnings_by_code: dict[str, int] = field(default_factory=dict)
    encoding: str = "utf-8"  # of the file's text (the legacy one used for lines that were not UTF-8)
    refreshed: int = 0  # known posts whose fields a newer capture updated
    comments: int = 0  # new comment units (a comment line counts as its post: imported or duplicate)

    def warn(self, code: Code, n: int = 1) -> None:
        self.warnings_by_code[code.value] = self.warnings_by_code.get(code.value, 0) + n

    @property
    def failed(self) -> int:
        return sum(self.failed_by_code.values())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": self.failed}


class _Bad(Exception):  # noqa: N818 - internal signal, carries the code of one bad line
    def __init__(self, code: Code, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _capture_known(extra_json: str) -> bool:
    """Whether a stored post's captured_at is when it was seen (crawls, Zeeschuimer) rather than when
    it was imported (4CAT rows carry no capture time)."""
    try:
        imp = json.loads(extra_json or "{}").get("import")
    except (ValueError, AttributeError):
        return False
    if not isinstance(imp, dict):
        return True  # crawled: captured_at is the crawl's own time
    return bool(imp.get("capture_time_known", imp.get("kind") == "zeeschuimer"))


def import_file(kind: str, path: Path, catalog: Catalog, crawl: CrawlSettings | None = None,
                source_name: str | None = None, encoding: str | None = None) -> ImportReport:
    """Import one export file into the catalog. Raises E903 for an unknown kind, a missing file or an
    unknown `encoding` (the file's declared text encoding; by default UTF-8, else detected)."""
    if kind not in KINDS:
        raise RouteWatchError(Code.E903, f"unknown import kind {kind!r}: use one of {', '.join(KINDS)}")
    path = Path(path)
    if not path.is_file():
        raise RouteWatchError(Code.E903, f"import file not found: {path}")
    if encoding:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError as e:
            raise RouteWatchError(Code.E903, f"unknown text encoding {encoding!r} (e.g. utf-8, cp1252, gbk)") from e
    # The file's name becomes the source name, failure item ids and provenance, all shown on status and
    # post pages: contacts in it (a WeChat id people put in a file name) are redacted before anything stores it.
    name = _public_name(path)
    source = source_name or f"{kind}:{name}"
    report = ImportReport(kind=kind, file=str(path), source=source)
    text = _Text(encoding, report)
    rows = _zeeschuimer(path, name, source, text) if kind == "zeeschuimer" else _fourcat(path, name, source, text)
    seen: dict[tuple[str, str], int] = {}  # (post id, discovered_via) → captures of it in this file
    limit = (crawl or CrawlSettings()).max_comments
    for line, item in rows:
        report.read += 1
        if isinstance(item, _Bad):
            report.failed_by_code[item.code.value] = report.failed_by_code.get(item.code.value, 0) + 1
            catalog.record_failure(Failure("import", f"{name}:{line}", item.code.value, item.reason, now_iso()))
            continue
        if isinstance(item, _CommentLine):  # a comment: its post (made from the capture if unknown), then the unit
            if catalog.get_post(item.post.post_id) is None:
                store_capture(catalog, item.post, capture_known=False, stored_capture_known=_capture_known)
                report.imported += 1
            else:
                report.duplicates += 1
            report.comments += store_comments(catalog, [item.comment], limit)
            continue
        post, known = _checked_dates(item, report)
        # the same video captured again from the same page: still a sighting of its own (by line, so
        # importing the file again adds none)
        n = seen.get((post.post_id, post.discovered_via), 0)
        seen[(post.post_id, post.discovered_via)] = n + 1
        if n:
            post = replace(post, discovered_via=f"{post.discovered_via}#line={line}")
        outcome = store_capture(catalog, post, capture_known=known, stored_capture_known=_capture_known)
        if outcome == "new":
            report.imported += 1
        else:
            report.duplicates += 1
            report.refreshed += outcome == "refreshed"
    catalog.count("import/read", report.read, source=source)
    catalog.count("import/imported", report.imported, source=source)
    catalog.count("import/duplicates", report.duplicates, source=source)
    if report.refreshed:
        catalog.count("import/refreshed", report.refreshed, source=source)
    if report.comments:
        catalog.count("import/comments", report.comments, source=source)
    for code, n in report.warnings_by_code.items():
        catalog.count(f"import/warnings/{code}", n, source=source)
    return report


# ---- dates -----------------------------------------------------------------------------------------
# No platform imported here existed before 2005 (YouTube); a date before it is a placeholder (0 → 1970)
# or a unit mistake. A post "published" more than a day after it was captured is as impossible.
_EARLIEST = "2005-01-01T00:00:00Z"
_SLACK = timedelta(days=1)


def _checked_dates(post: Post, report: ImportReport) -> tuple[Post, bool]:
    """The post with impossible dates set aside (kept in extra.import.flags, coded E604), and whether
    its capture time is known."""
    extra = json.loads(post.extra_json or "{}")
    imp = extra.setdefault("import", {})
    known = bool(imp.get("capture_time_known"))
    flags: list[dict[str, str]] = []
    captured, posted = post.captured_at, post.posted_at
    if known and (captured < _EARLIEST or _parse(captured) > datetime.now(UTC) + _SLACK):
        flags.append({"code": Code.E604.value, "field": "captured_at", "value": captured,
                      "reason": f"captured before {_EARLIEST[:4]} or in the future: not a real capture time"})
        captured, known = now_iso(), False
    if posted and posted < _EARLIEST:
        flags.append({"code": Code.E604.value, "field": "posted_at", "value": posted,
                      "reason": f"posted before {_EARLIEST[:4]}: a placeholder or a unit mistake"})
        posted = ""
    if posted and _parse(posted) > _parse(captured) + _SLACK:  # (an undated capture: its import time)
        flags.append({"code": Code.E604.value, "field": "posted_at", "value": posted,
                      "reason": f"posted after it was captured ({captured})"})
        posted = ""
    if not flags:
        return post, known
    imp["flags"] = flags
    report.warn(Code.E604, len(flags))
    return replace(post, posted_at=posted, captured_at=captured,
                   extra_json=json.dumps(extra, ensure_ascii=False, default=str)), known


def _parse(iso: str) -> datetime:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)


# ---- text encodings --------------------------------------------------------------------------------
_LEGACY = ["cp1252", "gb18030"]  # Windows Western (Excel's CSV default) and Chinese (GBK's superset)


class _Text:
    """Bytes of an export → text. UTF-8 first (a BOM dropped); otherwise the declared encoding, or the
    legacy one charset_normalizer finds most plausible (once per file, reported as E603 when the
    guess is weak: little text to go on, or two encodings read equally well)."""

    def __init__(self, declared: str | None, report: ImportReport):
        self.declared = declared
        self.report = report
        self.fallback: str | None = declared
        if declared:
            report.encoding = declared

    def decode(self, data: bytes, *, first: bool = False) -> str:
        if first and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8):]
        if not self.declared or self.declared in ("utf-8", "utf-8-sig"):
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                if self.declared:
                    return data.decode("utf-8", errors="replace")
        if self.fallback is None:
            self.fallback = self._detect(data)
        return data.decode(self.fallback, errors="replace")

    def _detect(self, data: bytes) -> str:
        from charset_normalizer import from_bytes

        found = from_bytes(data[: 2 << 20], cp_isolation=_LEGACY)
        best = found.best()
        enc = codecs.lookup(best.encoding).name if best is not None else "cp1252"
        rivals = [m for m in found if m is not best and best is not None and m.chaos - best.chaos < 0.05]
        non_ascii = sum(b >= 0x80 for b in data[: 2 << 20])
        if best is None or rivals or best.chaos > 0.1 or non_ascii < 16:
            self.report.warn(Code.E603)
        self.report.encoding = enc
        return enc


# ---- Zeeschuimer -----------------------------------------------------------------------------------


def _public_name(path: Path) -> str:
    """The file name with contacts redacted (its extension kept)."""
    stem, suffix = (path.stem, path.suffix) if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", path.suffix) else (path.name, "")
    return redact_text(stem) + suffix


def _lines(path: Path) -> Iterator[bytes]:
    """The file's lines, whatever ends them (LF, CRLF, or a lone CR as old Mac tools write; JSON never holds
    a raw CR inside a string); a UTF-16 file (Windows "Unicode") is re-encoded as UTF-8 first."""
    with path.open("rb") as f:
        head = f.read(2)
        f.seek(0)
        if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            for line in f.read().decode("utf-16", errors="replace").splitlines():
                yield line.encode("utf-8")
            return
        rest = b""
        for chunk in iter(lambda: f.read(1 << 20), b""):
            buf = rest + chunk
            hold = b"\r" if buf.endswith(b"\r") else b""  # a CRLF may be cut between two chunks
            parts = re.split(rb"\r\n|\r|\n", buf[: len(buf) - len(hold)])
            rest = parts.pop() + hold
            yield from parts
        if rest.rstrip(b"\r"):
            yield rest.rstrip(b"\r")


def _zeeschuimer(path: Path, name: str, source: str, text: _Text) -> Iterator[tuple[int, Post | _CommentLine | _Bad]]:
    for n, raw in enumerate(_lines(path), 1):
        if not raw.strip() or raw.strip() == codecs.BOM_UTF8:
            continue
        try:
            yield n, _zs_post(text.decode(raw, first=n == 1), name, n, source, text)
        except _Bad as bad:
            yield n, bad
        except Exception as e:  # noqa: BLE001 - an item of an unexpected shape is one bad line, not a lost file
            yield n, _Bad(Code.E602, f"item has an unexpected shape: {type(e).__name__}: {e}"[:300])


def _zs_post(line_text: str, file: str, line: int, source: str, text: _Text) -> Post | _CommentLine:
    try:
        obj = json.loads(line_text.replace("\0", ""))
    except (ValueError, RecursionError) as e:
        raise _Bad(Code.E601, f"line is not JSON: {e}") from e
    if not isinstance(obj, dict):
        raise _Bad(Code.E601, f"line is JSON but not an object ({type(obj).__name__})")
    data = obj.get("data")
    if not isinstance(data, dict):
        raise _Bad(Code.E602, "capture has no `data` object (the platform's item)")
    sp = str(obj.get("source_platform") or "").lower()
    if sp in _ZS_COMMENTS or ("cid" in data and "aweme_id" in data and "text" in data):
        comment = comments.from_zeeschuimer(data)
        if comment is None:
            raise _Bad(Code.E602, "comment capture without a comment id, video id or text")
        return _CommentLine(comment, _comment_post(data, comment, source, file, obj))
    platform = _ZS_PLATFORMS.get(sp)
    if platform is None:
        raise _Bad(Code.E602, f"source_platform {sp or '(none)'!r} is not imported (TikTok and Douyin are)")
    capture = {k: obj.get(k) for k in ("timestamp_collected", "source_platform", "source_platform_url", "source_url",
                                      "user_agent", "item_id", "nav_index", "id") if k in obj}
    collected = iso_time(obj.get("timestamp_collected"))
    captured = collected or now_iso()
    via = str(obj.get("source_platform_url") or f"zeeschuimer:{file}")
    imp = {"kind": "zeeschuimer", "file": file, "line": line, **capture, "capture_time_known": bool(collected)}
    if text.report.encoding != "utf-8":
        imp["encoding"] = text.report.encoding
    extra = {"import": imp, "raw": json_safe(data)}
    mapper = tiktok_item_post if platform == "tiktok" else douyin_aweme_post
    post = mapper(data, source=source, captured_at=captured, discovered_via=via, extra=extra)
    if post is None:
        raise _Bad(Code.E602, f"{platform} item has no numeric id")
    if post.media_url and not urlsplit(post.media_url).scheme:
        # a play address relative in the capture ("//v16…", "/video/…") is relative to the page it was
        # captured from
        base = via if urlsplit(via).scheme in ("http", "https") else f"https://www.{platform}.com/"
        post = replace(post, media_url=urljoin(base, post.media_url))
    if not (post.caption or post.media_url):
        raise _Bad(Code.E602, f"{platform} item {post.platform_id} has neither a caption nor a play address")
    return post


_ZS_COMMENTS = ("tiktok-comments", "tiktok.com-comments", "tiktok comments")


@dataclass(frozen=True)
class _CommentLine:
    """A comment capture: the comment, and the post it belongs to (from the capture's share_info)."""

    comment: Comment
    post: Post


def _comment_post(data: dict[str, Any], comment: Comment, source: str, file: str, obj: dict[str, Any]) -> Post:
    vid = comments.video_id(data)
    share = traverse_obj(data, ("share_info", {dict})) or {}
    link = str(share.get("url") or "").split(".html")[0]
    handle = urlsplit(link).path.split("/")[1].lstrip("@") if "/@" in link else ""
    url = tiktok_url(handle, vid)
    collected = iso_time(obj.get("timestamp_collected"))
    return Post(post_id=post_id_for("tiktok", vid), platform="tiktok", platform_id=vid, url=url, source=source,
                caption=str(share.get("title") or ""), author_handle=handle, captured_at=collected or now_iso(),
                page_url=url, discovered_via=str(obj.get("source_platform_url") or f"zeeschuimer:{file}"),
                extra_json=json.dumps({"import": {"kind": "zeeschuimer", "file": file, "from": "comment capture",
                                                  "capture_time_known": False}}, ensure_ascii=False))


# ---- 4CAT ------------------------------------------------------------------------------------------

_URL_COLUMNS = ("tiktok_url", "post_url", "url", "link", "permalink", "video_link")
_DT = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?$")


def _fourcat(path: Path, name: str, source: str, text: _Text) -> Iterator[tuple[int, Post | _Bad]]:
    data = path.read_bytes()
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        body = data.decode("utf-16", errors="replace")
        text.report.encoding = "utf-16"
    else:
        body = text.decode(data, first=True)
    body = body.replace("\0", "")
    enc = text.report.encoding
    first = body.split("\n", 1)[0]
    # a spreadsheet in a comma-decimal locale saves with ";" (and a tab export with tabs)
    delimiter = max((",", ";", "\t"), key=first.count) if first.count(",") == 0 else ","
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        return
    hint = "douyin" if "douyin" in path.name.lower() else ("tiktok" if "tiktok" in path.name.lower() else "")
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield reader.line_num, _Bad(Code.E601, f"malformed CSV row: {e}")
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield reader.line_num, _Bad(Code.E601, f"row has {len(cells)} fields, the header {len(header)}")
            continue
        row = dict(zip(header, cells, strict=True))
        try:
            yield reader.line_num, _fourcat_post(row, name, reader.line_num, source, hint, enc)
        except _Bad as bad:
            yield reader.line_num, bad


def _fourcat_time(row: dict[str, str]) -> str:
    unix = ascii_digits(row.get("unix_timestamp") or "")
    if unix.isascii() and unix.isdigit():
        return iso_from_epoch(unix)
    ts = (row.get("timestamp") or "").strip()
    if ascii_digits(ts).isascii() and ascii_digits(ts).isdigit():
        return iso_from_epoch(ascii_digits(ts))
    # 4CAT writes UTC as "YYYY-MM-DD HH:MM:SS"; a spreadsheet may have made it ISO with a zone.
    # 2026-13-45 looks like a date but is none: ''
    return iso_time(ts) if ts else ""


def _fourcat_post(row: dict[str, str], file: str, line: int, source: str, hint: str, enc: str = "utf-8") -> Post:
    pid = ascii_digits(row.get("id") or "")
    if not pid:
        raise _Bad(Code.E602, "row has no id")
    link = next((row[c].strip() for c in _URL_COLUMNS if (row.get(c) or "").strip()), "")
    host = urlsplit(link).hostname or ""
    platform = platform_of_host(host) if link else None
    if platform not in SOCIAL:
        platform = hint or ("web" if link else None)
    if platform is None:
        raise _Bad(Code.E602, f"row {pid}: no post URL and no platform in the file name")
    author = (row.get("author") or row.get("author_username") or "").strip()
    if platform == "tiktok":
        if not (pid.isascii() and pid.isdigit()):
            raise _Bad(Code.E602, f"TikTok row id {pid!r} is not a video id")
        url = tiktok_url(author or (urlsplit(link).path.split("/")[1].lstrip("@") if link else ""), pid)
    elif platform == "douyin":
        if not (pid.isascii() and pid.isdigit()):
            raise _Bad(Code.E602, f"Douyin row id {pid!r} is not a video id")
        url = douyin_url(pid)
    else:
        url = link
        if not url:
            raise _Bad(Code.E602, f"row {pid}: no post URL")
    platform_id = pid if platform in ("tiktok", "douyin") else (url if platform == "web" else pid)
    caption = (row.get("body") or "").strip()
    media = (row.get("video_url") or "").strip()
    if not (caption or media):
        raise _Bad(Code.E602, f"row {pid} has neither a body nor a video_url")
    views = next((as_int(row.get(c)) for c in ("plays", "play_count", "views", "view_count") if as_int(row.get(c)) is not None),
                 None)
    return Post(
        post_id=post_id_for(platform, platform_id), platform=platform, platform_id=platform_id, url=url,
        source=source, caption=caption, author_handle=author, posted_at=_fourcat_time(row), captured_at=now_iso(),
        media_url=media, page_url=url, discovered_via=f"4cat:{file}", views=views,
        extra_json=json.dumps({"import": {"kind": "4cat", "file": file, "line": line, "capture_time_known": False,
                                          **({"encoding": enc} if enc != "utf-8" else {})}, "row": row},
                              ensure_ascii=False),
    )
