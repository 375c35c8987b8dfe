"""The crawl stage's one door to the catalog: every post, comment, text, page snapshot and failure a source
finds is written here, and counted here once, into one `CrawlReport`.

In: what source kinds find (Posts, Comments, platform texts, fetched pages, failures).  Out: catalog rows —
the post (crawl status done, so the fetch stage takes it), its sightings and snapshots, counters per run and
source — and the report the runner shows. Never writes outside the data dir's `snapshots/`.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from crawlers.base import Comment, without_lone_surrogates
from routewatch.core.catalog import Catalog, now_iso
from routewatch.core.records import Failure, Post, TextUnit
from routewatch.core.stage import failpoint


@dataclass
class CrawlReport:
    """What one crawl found, in all and per source (the counters it also wrote to the catalog)."""

    pages: int = 0
    discovered: int = 0
    new: int = 0
    already_known: int = 0
    failed: int = 0
    per_source: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def store_post(catalog: Catalog, post: Post, page_url: str = "") -> bool:
    """Upsert a discovered post (a sighting of it; a post seen again only fills empty fields), link the page
    it was read from, and mark its crawl done so the fetch stage takes it — one transaction. True when new."""
    post = without_lone_surrogates(post)  # embedded JSON may carry half an emoji
    with catalog.tx():
        new = catalog._upsert_post(post)
        if page_url:
            catalog.link_snapshot(post.post_id, page_url)
        if catalog.status_of(post.post_id, "crawl") != "done":
            catalog.set_status(post.post_id, "crawl", "done")
    return new


# What a later capture of the same video may change (a caption edited, a handle renamed, counts grown,
# a fresh play address); the id, platform and first discovery stay.
_MUTABLE = ("caption", "author_handle", "url", "page_url", "media_url", "subtitles_url", "lang", "posted_at",
            "extra_json", "captured_at")


def store_capture(catalog: Catalog, post: Post, *, capture_known: bool,
                  stored_capture_known: Callable[[str], bool]) -> str:
    """One capture of a post (an import): "new", "refreshed" (a newer capture of a known post: its mutable
    fields now come from this one) or "duplicate" (an older or undated capture: it fills only what is empty).
    `stored_capture_known(extra_json)` says whether the stored post's capture time is a real one."""
    post = without_lone_surrogates(post)
    with catalog.tx():
        row = catalog.capture_of(post.post_id)
        outcome = "new" if row is None else "duplicate"
        if row is not None:
            newer = capture_known and (not stored_capture_known(row[1]) or post.captured_at > row[0])
            if newer:
                d = asdict(post)
                catalog.set_post_fields(post.post_id, {k: d[k] for k in _MUTABLE if d[k]})
                if post.caption and post.caption != row[2]:
                    catalog.invalidate(post.post_id, "extract", "index")  # the text changed: read it again
                outcome = "refreshed"
            else:
                post = replace(post, views=None)  # an older count never replaces a newer one
        catalog._upsert_post(post)
        if catalog.status_of(post.post_id, "crawl") != "done":
            catalog.set_status(post.post_id, "crawl", "done")
    return outcome


def store_comments(catalog: Catalog, comments: list[Comment], limit: int) -> int:
    """Comment units and their thread data stored with their posts (which must exist); a post with new
    comments is extracted and indexed again. Returns how many were new. Within `limit` per post."""
    new = 0
    by_post: dict[str, list[Comment]] = {}
    for c in comments:
        by_post.setdefault(c.post_id, []).append(c)
    for pid, items in by_post.items():
        with catalog.tx():
            extra = catalog.post_extra(pid)
            if extra is None:
                continue
            thread = extra.get("comments") if isinstance(extra.get("comments"), dict) else {}
            added = 0
            for c in items:
                if c.comment_id not in thread and len(thread) >= limit:
                    continue  # the post's bound is reached
                if c.comment_id not in thread:
                    added += 1
                thread[c.comment_id] = c.meta()
                catalog.put_unit(c.unit())
            extra["comments"] = thread
            catalog.set_post_extra(pid, extra)
            if added:
                catalog.invalidate(pid, "extract", "index")
            new += added
    return new


class PostStore:
    """The store a source kind writes into during one crawl (one catalog, one report)."""

    def __init__(self, catalog: Catalog, data_dir: Path, report: CrawlReport | None = None,
                 on_progress: Callable[[CrawlReport], None] | None = None):
        self.catalog = catalog
        self.data_dir = Path(data_dir)
        self.report = report if report is not None else CrawlReport()
        self.on_progress = on_progress

    # ---- counters and failures ----------------------------------------------------------------------
    def _mirror(self, source: str, name: str, n: int) -> None:
        d = self.report.per_source.setdefault(source, {})
        d[name] = d.get(name, 0) + n

    def count(self, source: str, name: str, n: int = 1) -> None:
        """One event counted once: in the catalog's counters of the run, mirrored in the report."""
        self.catalog.count(name, n, source=source)
        self._mirror(source, name, n)

    def fail(self, source: str, item: str, code: str, reason: str) -> None:
        """A failure row (the catalog counts `crawl/failed/{code}` with it), mirrored in the report."""
        self.catalog.record_failure(Failure("crawl", item, code, reason, now_iso()), source=source)
        self.report.failed += 1
        self._mirror(source, f"crawl/failed/{code}", 1)

    def fetched(self, source: str) -> None:
        """One page (or API page) read for `source`."""
        self.report.pages += 1
        self.count(source, "crawl/pages")

    def progress(self) -> None:
        if self.on_progress:
            self.on_progress(self.report)

    # ---- what sources find --------------------------------------------------------------------------
    def post(self, post: Post, *, page_url: str = "") -> bool:
        """A post found (on the page `page_url`, whose snapshot it links): stored, counted; True when new."""
        failpoint("crawl", self.report.discovered, "before")
        new = store_post(self.catalog, post, page_url)
        self.report.discovered += 1
        self.count(post.source, "crawl/discovered")
        if new:
            self.report.new += 1
            self.count(post.source, "crawl/new")
        else:
            self.report.already_known += 1
            self.count(post.source, "crawl/already_known")
        return new

    def comments(self, source: str, found: list[Comment], limit: int) -> int:
        """Comments under posts found before, within `limit` per post; returns how many were new."""
        new = store_comments(self.catalog, found, limit)
        self.count(source, "crawl/comments", new)
        return new

    def text(self, unit: TextUnit) -> bool:
        """A platform's own text of a stored post (e.g. the Research API's voice_to_text), kept beside any
        other capture's; a post read before is read again. True when it was not stored yet."""
        with self.catalog.tx():
            if unit in self.catalog.units(unit.post_id):
                return False
            self.catalog.put_unit(unit)
            self.catalog.invalidate(unit.post_id, "extract", "index")
        return True

    def page(self, canonical: str, status: int, body: bytes, source: str, tool: str) -> str:
        """A fetched page kept as a gzip snapshot (content-addressed) and recorded; an earlier failure of the
        page is resolved. Returns its sha256."""
        sha = hashlib.sha256(body).hexdigest()
        rel = Path("snapshots") / sha[:2] / f"{sha}.gz"
        dest = self.data_dir / rel
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_suffix(".tmp")
            tmp.write_bytes(gzip.compress(body, mtime=0))
            tmp.replace(dest)
        self.catalog.add_snapshot(canonical, status, sha, str(rel), source, tool)
        if self.catalog.status_of(canonical, "crawl") == "failed":  # fetched now: the old failure is resolved
            with self.catalog.tx():
                self.catalog.clear_failures(canonical, "crawl")
                self.catalog.invalidate(canonical, "crawl")
        return sha

    def link(self, post_id: str, page_url: str) -> None:
        """A post's own page (fetched after the listing that found it) linked as one of its snapshots."""
        with self.catalog.tx():
            self.catalog.link_snapshot(post_id, page_url)

    def has_page(self, post_id: str, page_url: str) -> bool:
        return self.catalog.has_snapshot(post_id, page_url)
