"""Imports of what researchers already collected: Zeeschuimer NDJSON and 4CAT CSV exports.

In: an export file (one Zeeschuimer capture per line: `timestamp_collected`, `source_platform`,
`source_platform_url`, `user_agent`, `data` = the platform's raw TikTok item / Douyin aweme; or a
4CAT CSV with `id`, `body`, `author`, `timestamp`/`unix_timestamp`, a post URL, `video_url` …).
Out: Posts in the catalog (crawl stage done, so fetch picks them up), the capture metadata and raw
item kept in `extra_json`, an ImportReport. A bad line is a failure row (E601 not JSON / malformed
row, E602 missing fields) and the import goes on; an item already known is one post, its new
sighting recorded. Never changes the input file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawlers.base import without_lone_surrogates
from crawlers.origins import platform_of_host
from crawlers.platforms import (
    as_int,
    douyin_aweme_post,
    douyin_url,
    iso_from_epoch,
    tiktok_item_post,
    tiktok_url,
)
from routewatch.catalog import Catalog, now_iso
from routewatch.errors import Code, RouteWatchError
from routewatch.records import Failure, Post, post_id_for

KINDS = ("zeeschuimer", "4cat")
# Zeeschuimer names a capture by the module's domain ("tiktok.com"); older exports use the module name
_ZS_PLATFORMS = {"tiktok.com": "tiktok", "tiktok": "tiktok", "douyin.com": "douyin", "douyin": "douyin"}
_POST_PLATFORMS = ("telegram", "youtube", "tiktok", "douyin", "bilibili", "kuaishou", "x")


@dataclass
class ImportReport:
    kind: str
    file: str
    source: str
    read: int = 0  # non-empty lines / data rows
    imported: int = 0  # new posts
    duplicates: int = 0  # items already in the catalog (imported twice or crawled before)
    failed_by_code: dict[str, int] = field(default_factory=dict)

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


def store_post(catalog: Catalog, post: Post) -> bool:
    """Upsert a discovered post and mark its crawl done (so the fetch stage takes it). True when new."""
    post = without_lone_surrogates(post)
    with catalog.tx():
        new = catalog.upsert_post(post)
        if catalog.status_of(post.post_id, "crawl") != "done":
            catalog.set_status(post.post_id, "crawl", "done")
    return new


def import_file(kind: str, path: Path, catalog: Catalog, settings: Any = None,
                source_name: str | None = None) -> ImportReport:
    """Import one export file into the catalog. Raises E903 for an unknown kind or a missing file."""
    if kind not in KINDS:
        raise RouteWatchError(Code.E903, f"unknown import kind {kind!r}: use one of {', '.join(KINDS)}")
    path = Path(path)
    if not path.is_file():
        raise RouteWatchError(Code.E903, f"import file not found: {path}")
    source = source_name or f"{kind}:{path.name}"
    report = ImportReport(kind=kind, file=str(path), source=source)
    rows = _zeeschuimer(path, source) if kind == "zeeschuimer" else _fourcat(path, source)
    for line, item in rows:
        report.read += 1
        if isinstance(item, _Bad):
            report.failed_by_code[item.code.value] = report.failed_by_code.get(item.code.value, 0) + 1
            catalog.record_failure(Failure("import", f"{path.name}:{line}", item.code.value, item.reason, now_iso()))
            continue
        if store_post(catalog, item):
            report.imported += 1
        else:
            report.duplicates += 1
    catalog.count("import/read", report.read, source=source)
    catalog.count("import/imported", report.imported, source=source)
    catalog.count("import/duplicates", report.duplicates, source=source)
    return report


# ---- Zeeschuimer -----------------------------------------------------------------------------------


def _zeeschuimer(path: Path, source: str) -> Iterator[tuple[int, Post | _Bad]]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                yield n, _zs_post(raw, path.name, n, source)
            except _Bad as bad:
                yield n, bad
            except Exception as e:  # noqa: BLE001 - an item of an unexpected shape is one bad line, not a lost file
                yield n, _Bad(Code.E602, f"item has an unexpected shape: {type(e).__name__}: {e}"[:300])


def _zs_post(raw: bytes, file: str, line: int, source: str) -> Post:
    try:
        obj = json.loads(raw.decode("utf-8").replace("\0", ""))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _Bad(Code.E601, f"line is not JSON: {e}") from e
    if not isinstance(obj, dict):
        raise _Bad(Code.E601, f"line is JSON but not an object ({type(obj).__name__})")
    data = obj.get("data")
    if not isinstance(data, dict):
        raise _Bad(Code.E602, "capture has no `data` object (the platform's item)")
    sp = str(obj.get("source_platform") or "").lower()
    platform = _ZS_PLATFORMS.get(sp)
    if platform is None:
        raise _Bad(Code.E602, f"source_platform {sp or '(none)'!r} is not imported (TikTok and Douyin are)")
    capture = {k: obj.get(k) for k in ("timestamp_collected", "source_platform", "source_platform_url", "source_url",
                                      "user_agent", "item_id", "nav_index", "id") if k in obj}
    captured = iso_from_epoch(obj.get("timestamp_collected"), millis=True) or now_iso()
    via = str(obj.get("source_platform_url") or f"zeeschuimer:{file}")
    extra = {"import": {"kind": "zeeschuimer", "file": file, "line": line, **capture}, "raw": data}
    mapper = tiktok_item_post if platform == "tiktok" else douyin_aweme_post
    post = mapper(data, source=source, captured_at=captured, discovered_via=via, extra=extra)
    if post is None:
        raise _Bad(Code.E602, f"{platform} item has no numeric id")
    if not (post.caption or post.media_url):
        raise _Bad(Code.E602, f"{platform} item {post.platform_id} has neither a caption nor a play address")
    return post


# ---- 4CAT ------------------------------------------------------------------------------------------

_URL_COLUMNS = ("tiktok_url", "post_url", "url", "link", "permalink", "video_link")
_DT = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?$")


def _fourcat(path: Path, source: str) -> Iterator[tuple[int, Post | _Bad]]:
    text = path.read_bytes().decode("utf-8-sig", errors="replace").replace("\0", "")
    reader = csv.reader(io.StringIO(text, newline=""))
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
            yield reader.line_num, _fourcat_post(row, path.name, reader.line_num, source, hint)
        except _Bad as bad:
            yield reader.line_num, bad


def _fourcat_time(row: dict[str, str]) -> str:
    unix = (row.get("unix_timestamp") or "").strip()
    if unix.isdigit():
        return iso_from_epoch(unix)
    ts = (row.get("timestamp") or "").strip()
    if ts.isdigit():
        return iso_from_epoch(ts)
    if _DT.match(ts):  # 4CAT writes UTC as "YYYY-MM-DD HH:MM:SS"
        try:
            dt = datetime.fromisoformat(ts.replace(" ", "T")).replace(tzinfo=UTC)
        except ValueError:  # 2026-13-45 matches the pattern but is no date
            return ""
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return ""


def _fourcat_post(row: dict[str, str], file: str, line: int, source: str, hint: str) -> Post:
    pid = (row.get("id") or "").strip()
    if not pid:
        raise _Bad(Code.E602, "row has no id")
    link = next((row[c].strip() for c in _URL_COLUMNS if (row.get(c) or "").strip()), "")
    host = urlsplit(link).hostname or ""
    platform = platform_of_host(host) if link else None
    if platform not in _POST_PLATFORMS:
        platform = hint or ("web" if link else None)
    if platform is None:
        raise _Bad(Code.E602, f"row {pid}: no post URL and no platform in the file name")
    author = (row.get("author") or row.get("author_username") or "").strip()
    if platform == "tiktok":
        if not pid.isdigit():
            raise _Bad(Code.E602, f"TikTok row id {pid!r} is not a video id")
        url = tiktok_url(author or (urlsplit(link).path.split("/")[1].lstrip("@") if link else ""), pid)
    elif platform == "douyin":
        if not pid.isdigit():
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
        extra_json=json.dumps({"import": {"kind": "4cat", "file": file, "line": line}, "row": row}, ensure_ascii=False),
    )
