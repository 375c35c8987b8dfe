"""The catalog: the source of truth (SPEC §2), an SQLite file or a PostgreSQL database (`catalog.url`).

In: records from every stage.  Out: records, stage status and failures for the next stage.
SQLite: WAL mode, one writer per data dir (a lock file). PostgreSQL: the same SQL through the adapter
`routewatch.core.pgdb`, several writers. Ordered schema migrations from a version table on both.
Every write of an item's result goes in one transaction together with its stage status, so a
process killed at any point leaves either the whole result or none of it. Never used with
string-built SQL: parameters only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from routewatch.core.catalog_reports import ReportReads
from routewatch.core.catalog_url import parse_catalog_url
from routewatch.core.catalog_web import WebReads
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.pgdb import PgConnection, redact
from routewatch.core.records import (
    Extraction,
    Failure,
    Media,
    OnscreenText,
    Post,
    Provenance,
    Segment,
    TextUnit,
    Transcript,
)
from routewatch.core.stored import StoredJSONError, log, stored_json  # noqa: F401 - re-exported: the catalog's JSON decoder

STAGES = ("crawl", "fetch", "transcribe", "extract", "index")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Ordered migrations: append only. Each is run once, in order, inside a transaction.
MIGRATIONS: list[str] = [
    # 1: the spine
    """
    CREATE TABLE posts (
        post_id TEXT PRIMARY KEY,
        platform TEXT NOT NULL,
        platform_id TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        caption TEXT NOT NULL DEFAULT '',
        author_handle TEXT NOT NULL DEFAULT '',
        posted_at TEXT NOT NULL DEFAULT '',
        captured_at TEXT NOT NULL DEFAULT '',
        lang TEXT NOT NULL DEFAULT '',
        media_url TEXT NOT NULL DEFAULT '',
        page_url TEXT NOT NULL DEFAULT '',
        subtitles_url TEXT NOT NULL DEFAULT '',
        forwarded_from TEXT NOT NULL DEFAULT '',
        discovered_via TEXT NOT NULL DEFAULT '',
        views INTEGER,
        extra_json TEXT NOT NULL DEFAULT '{}',
        UNIQUE (platform, platform_id)
    );
    CREATE TABLE post_sightings (
        post_id TEXT NOT NULL,
        source TEXT NOT NULL,
        discovered_via TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (post_id, source, discovered_via)
    );
    CREATE TABLE media (
        post_id TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        duration REAL,
        mime TEXT NOT NULL DEFAULT '',
        info_json TEXT NOT NULL DEFAULT '{}',
        provenance_json TEXT NOT NULL DEFAULT '{}',
        fetched_at TEXT NOT NULL
    );
    CREATE INDEX media_sha ON media(sha256);
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        status INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        path TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        fetched_at TEXT NOT NULL,
        tool TEXT NOT NULL DEFAULT '',
        UNIQUE (url, sha256)
    );
    CREATE TABLE post_snapshots (
        post_id TEXT NOT NULL,
        snapshot_id INTEGER NOT NULL,
        PRIMARY KEY (post_id, snapshot_id)
    );
    CREATE TABLE units (
        unit_id TEXT PRIMARY KEY,
        post_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        lang TEXT NOT NULL DEFAULT '',
        segments_json TEXT NOT NULL DEFAULT '[]',
        transcript_id TEXT
    );
    CREATE INDEX units_post ON units(post_id);
    CREATE TABLE transcripts (
        transcript_id TEXT PRIMARY KEY,
        audio_sha256 TEXT NOT NULL,
        fingerprint TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL,
        language TEXT NOT NULL,
        text TEXT NOT NULL,
        raw_text TEXT NOT NULL DEFAULT '',
        segments_json TEXT NOT NULL,
        seconds REAL NOT NULL,
        provenance_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        UNIQUE (audio_sha256, model)
    );
    CREATE TABLE post_transcripts (
        post_id TEXT NOT NULL,
        transcript_id TEXT NOT NULL,
        reused INTEGER NOT NULL DEFAULT 0,
        linked_at TEXT NOT NULL,
        PRIMARY KEY (post_id, transcript_id)
    );
    CREATE TABLE extractions (
        post_id TEXT PRIMARY KEY,
        relevant INTEGER NOT NULL,
        gold_json TEXT NOT NULL,
        facts_json TEXT NOT NULL,
        provenance_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    );
    CREATE TABLE stage_status (
        item_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('done', 'failed', 'skipped')),
        code TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (item_id, stage)
    );
    CREATE TABLE failures (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        stage TEXT NOT NULL,
        item_id TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 1,
        UNIQUE (stage, item_id, code)
    );
    CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE TABLE counters (
        run_id INTEGER NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (run_id, source, name)
    );
    """,
    # on-screen text (ocr stage): read once per media file and model; reposts link to the same row
    """
    CREATE TABLE onscreen (
        media_sha256 TEXT NOT NULL,
        model TEXT NOT NULL,
        text TEXT NOT NULL,
        raw_text TEXT NOT NULL DEFAULT '',
        segments_json TEXT NOT NULL DEFAULT '[]',
        persistent_json TEXT NOT NULL DEFAULT '[]',
        overlays_json TEXT NOT NULL DEFAULT '[]',
        seconds REAL NOT NULL DEFAULT 0,
        provenance_json TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        PRIMARY KEY (media_sha256, model)
    );
    """,
    # saved searches and their alerts (routewatch/alerts.py): every post a saved search has matched, once
    # (kind 'match'; kind 'change': a change of changes.py among its posts, keyed "week|feature|direction" in
    # post_id); `baseline` rows were there when it was saved (never alerted), `seen_at` / `delivered_at` say
    # who got it
    """
    CREATE TABLE saved_searches (
        name TEXT PRIMARY KEY,
        query TEXT NOT NULL DEFAULT '',
        filters_json TEXT NOT NULL DEFAULT '{}',
        webhook TEXT NOT NULL DEFAULT '',
        changes INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        checked_at TEXT
    );
    CREATE TABLE saved_alerts (
        name TEXT NOT NULL,
        post_id TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'match',
        detail_json TEXT NOT NULL DEFAULT '{}',
        found_at TEXT NOT NULL,
        baseline INTEGER NOT NULL DEFAULT 0,
        seen_at TEXT,
        delivered_at TEXT,
        PRIMARY KEY (name, post_id, kind)
    );
    CREATE INDEX saved_alerts_unseen ON saved_alerts(name, seen_at);
    """,
]


def _segments_to_json(segs: tuple[Segment, ...] | list[Segment]) -> str:
    return json.dumps([asdict(s) for s in segs], ensure_ascii=False)


def segments_from_json(text: str, *, where: str = "segments") -> tuple[Segment, ...]:
    out = []
    for d in stored_json(text, [], where=where):
        try:
            seg = Segment(**d) if isinstance(d, dict) else Segment(*d)
        except TypeError:
            log.warning("%s; read as empty", StoredJSONError(where, "a segment of another shape"))
            return ()
        out.append(seg)
    return tuple(out)


def provenance_json(p: Provenance | None) -> str:
    return p.to_json() if p else "{}"


class DataDirLocked(RouteWatchError):  # noqa: N818 - reads as a state, like scrapy's NotConfigured
    pass


SYSTEM_ROOTS = (Path("/dev"), Path("/proc"), Path("/sys"))
SQLITE_HEADER = b"SQLite format 3\x00"


def check_data_dir(data_dir: Path | str) -> Path:
    """A data dir must be a directory (or not exist yet) outside /dev, /proc and /sys (E922)."""
    d = Path(data_dir)
    real = Path(os.path.realpath(d))
    for root in SYSTEM_ROOTS:
        if real == root or real.is_relative_to(root):
            raise RouteWatchError(Code.E922, f"data dir {d} is under {root}: give a directory of your own")
    try:
        st = os.stat(d)
    except FileNotFoundError:
        return d
    except OSError as e:
        raise RouteWatchError(Code.E922, f"data dir {d} cannot be used: {e.strerror or e}") from e
    if not stat.S_ISDIR(st.st_mode):
        raise RouteWatchError(Code.E922, f"data dir {d} is not a directory (a file or device): give a directory")
    return d


def check_catalog_file(path: Path) -> None:
    """An existing catalog must be a regular file that starts as an SQLite database and is not shorter
    than its header says (a truncated copy); E920 otherwise. An empty file is a new catalog."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise RouteWatchError(Code.E920, f"catalog {path} cannot be read: {e.strerror or e}") from e
    if not stat.S_ISREG(st.st_mode):
        raise RouteWatchError(Code.E920, f"catalog {path} is not a regular file")
    if st.st_size == 0:
        return
    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as e:
        raise RouteWatchError(Code.E920, f"catalog {path} cannot be read: {e.strerror or e}") from e
    if not head.startswith(SQLITE_HEADER):
        raise RouteWatchError(Code.E920, f"catalog {path} is not an SQLite database; restore it from a backup "
                              "or move it away and run the pipeline again")
    if len(head) < 100:
        raise RouteWatchError(Code.E920, f"catalog {path} is truncated ({st.st_size} bytes)")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    valid = head[24:28] == head[92:96]  # the in-header size is current only when these agree
    if valid and pages and st.st_size < pages * page:
        raise RouteWatchError(Code.E920, f"catalog {path} is truncated: {st.st_size:,} bytes of "
                              f"{pages * page:,}; restore it from a backup")


def db_error(e: sqlite3.Error, path: Path | str = "catalog") -> RouteWatchError:
    """An SQLite error met while using the catalog, as a coded one-line error."""
    text = str(e)
    low = text.lower()
    if "full" in low or "readonly" in low or "read-only" in low or "disk i/o" in low:
        return RouteWatchError(Code.E924, f"cannot write {path}: {text} (free disk space or check permissions)")
    if "locked" in low or "busy" in low:
        return RouteWatchError(Code.E901, f"{path} is busy: {text}")
    return RouteWatchError(Code.E920, f"{path} is damaged or not a RouteWatch catalog: {text}")


class Catalog(WebReads, ReportReads):
    """Open (and migrate) the catalog of one data dir. Refuses a file that is not an SQLite database
    (E920) and, for writing, a catalog of a newer schema than this RouteWatch (E921); readers open such
    a catalog read-only. `dsn` (a postgresql:// URL) opens a PostgreSQL catalog instead of the file at
    `path`: no lock file there (several writers), E961 when the server cannot be reached."""

    def __init__(self, path: Path | None = None, *, write: bool = True, lock_timeout: float = 0.0, dsn: str = "",
                 data_dir: Path | None = None):
        self._lock_fd: int | None = None
        self.read_only = not write
        self.run_id: int | None = None
        if dsn:
            self.backend = "postgresql"
            self.path = redact(dsn)  # type: ignore[assignment] - what messages name
            self.data_dir = Path(data_dir) if data_dir is not None else None
            self.db = PgConnection(dsn)  # type: ignore[assignment]
            try:
                self._open_schema(write)
            except BaseException:
                self.close()
                raise
            return
        if path is None:
            raise ValueError("a catalog needs a path or a dsn")
        self.backend = "sqlite"
        self.path = Path(path)
        self.data_dir = self.path.parent
        check_data_dir(self.path.parent)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RouteWatchError(Code.E922, f"cannot create data dir {self.path.parent}: {e.strerror or e}") from e
        check_catalog_file(self.path)
        if write:
            self._acquire_lock(lock_timeout)
        try:
            self._connect(write)
        except sqlite3.Error as e:
            self.close()
            raise db_error(e, self.path) from e
        except RouteWatchError:
            self.close()
            raise

    def _connect(self, write: bool) -> None:
        self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        if self._open_schema(write):
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            if write:
                self._migrate()

    def _open_schema(self, write: bool) -> bool:
        """Check the stored schema version; False when the catalog is newer and was opened read-only. On
        PostgreSQL this also migrates (SQLite sets its pragmas first)."""
        stored = self._stored_version()
        if stored > len(MIGRATIONS):
            if write:
                raise RouteWatchError(Code.E921, f"catalog {self.path} has schema version {stored}, newer than this "
                                      f"RouteWatch ({len(MIGRATIONS)}): upgrade RouteWatch; nothing was written")
            # a newer catalog is read as it is, never changed: status, search and export still work
            if self.backend == "postgresql":
                self.db.set_read_only()  # type: ignore[attr-defined]
            else:
                self.db.close()
                self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                                          isolation_level=None, check_same_thread=False)
                self.db.row_factory = sqlite3.Row
            log.warning("%s", RouteWatchError(Code.E921, f"catalog schema {stored} is newer than this RouteWatch "
                                              f"({len(MIGRATIONS)}): opened read-only"))
            return False
        if self.backend == "postgresql" and write:
            self._migrate()
        return True

    def _stored_version(self) -> int:
        """The schema version the file says it has; 0 for an empty file. A database with tables but no
        version table is someone else's SQLite file: refused (E920), never migrated into."""
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" not in tables:
            # a PostgreSQL database may hold other software's tables (the job queue's); only ours must be absent
            foreign = tables - {"sqlite_sequence"} if self.backend == "sqlite" else tables & _OWN_TABLES
            if foreign:
                kind = "an SQLite" if self.backend == "sqlite" else "a PostgreSQL"
                raise RouteWatchError(Code.E920, f"{self.path} is {kind} database but not a RouteWatch catalog "
                                      f"(tables: {', '.join(sorted(foreign)[:5])})")
            return 0
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        try:
            return int(row[0] or 0)
        except (TypeError, ValueError):
            raise RouteWatchError(Code.E920, f"{self.path} has a damaged schema version ({row[0]!r})") from None

    # ---- locking: one writer per data dir ---------------------------------------------------------
    def _acquire_lock(self, timeout: float) -> None:
        lock_path = self.path.parent / ".routewatch.lock"
        try:
            fd = os.open(str(lock_path), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as e:  # read-only file system, a lock that is a symlink, a directory ...
            raise RouteWatchError(Code.E922, f"cannot lock data dir {self.path.parent} ({lock_path.name}: "
                                  f"{e.strerror or e})") from e
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise DataDirLocked(
                        Code.E901,
                        f"another routewatch process is writing to {self.path.parent}; "
                        "wait for it to finish (or pass --wait SECONDS)",
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()  # type: ignore[has-type]
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- schema -----------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self.tx():
            self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for version, sql in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with self.tx():  # holds the write lock: another process migrating at once waits, then skips
                if (self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0) >= version:
                    continue
                for stmt in _split_sql(sql):
                    self.db.execute(stmt)
                self.db.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))

    def check_integrity(self, limit: int = 20) -> None:
        """Read every page (SQLite's quick_check); a damaged file is E920 with what SQLite found. PostgreSQL
        checks its own pages: there every table is read once (a count), which a damaged heap page fails."""
        if self.backend == "postgresql":
            try:
                for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
                    if name in _OWN_TABLES or name == "schema_version":
                        self.db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()  # noqa: S608 - our table names
            except sqlite3.DatabaseError as e:
                raise RouteWatchError(Code.E920, f"catalog {self.path} failed its integrity check: {e}") from e
            return
        try:
            rows = [r[0] for r in self.db.execute(f"PRAGMA quick_check({int(limit)})")]
        except sqlite3.DatabaseError as e:
            raise db_error(e, self.path) from e
        if rows != ["ok"]:
            more = f" (and {len(rows) - 1} more problems)" if len(rows) > 1 else ""
            raise RouteWatchError(Code.E920, f"catalog {self.path} failed its integrity check: {rows[0]}{more}")

    def schema_version(self) -> int:
        return self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested use joins the outer one (a savepoint)."""
        if self.db.in_transaction:
            self.db.execute("SAVEPOINT nested")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK TO nested")
                self.db.execute("RELEASE nested")
                raise
            else:
                self.db.execute("RELEASE nested")
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # ---- runs and counters --------------------------------------------------------------------------
    def start_run(self, command: str) -> int:
        with self.tx():
            rows = self.db.execute("INSERT INTO runs(command, started_at) VALUES (?, ?) RETURNING run_id",
                                   (command, now_iso())).fetchall()  # all: the statement ends before COMMIT
        self.run_id = int(rows[0][0])
        return self.run_id

    def finish_run(self) -> None:
        if self.run_id is None:
            return
        with self.tx():
            self.db.execute("UPDATE runs SET finished_at=? WHERE run_id=?", (now_iso(), self.run_id))

    def count(self, name: str, n: int = 1, source: str = "") -> None:
        """Add to a counter of the current run (CONVENTIONS §11)."""
        if self.run_id is None:
            self.start_run("adhoc")
        self.db.execute(
            "INSERT INTO counters(run_id, source, name, value) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(run_id, source, name) DO UPDATE SET value = counters.value + excluded.value",
            (self.run_id, source, name, n),
        )

    def run_counters(self, run_id: int | None = None) -> dict[str, int]:
        rid = run_id if run_id is not None else self.run_id
        rows = self.db.execute("SELECT source, name, value FROM counters WHERE run_id=?", (rid,)).fetchall()
        out: dict[str, int] = {}
        for r in rows:
            out[r["name"]] = out.get(r["name"], 0) + r["value"]
        return out

    # ---- posts --------------------------------------------------------------------------------------
    def upsert_post(self, post: Post) -> bool:
        """Insert a post or refresh its metadata. Returns True when it is new."""
        with self.tx():
            return self._upsert_post(post)

    def _upsert_post(self, post: Post) -> bool:
        existing = self.db.execute("SELECT post_id FROM posts WHERE post_id=?", (post.post_id,)).fetchone()
        d = asdict(post)
        if existing is None:
            cols = ",".join(d)
            marks = ",".join("?" for _ in d)
            self.db.execute(f"INSERT INTO posts({cols}) VALUES ({marks})", tuple(d.values()))  # noqa: S608 - column names are the dataclass fields
        else:
            # A fuller text of the same post (a search result's first lines, then the page's whole description)
            # replaces the cut one; any other caption stays as first collected.
            old = self.db.execute("SELECT caption FROM posts WHERE post_id=?", (post.post_id,)).fetchone()[0]
            cut = old.rstrip("…. \n")
            if old and len(post.caption) > len(old) and post.caption.startswith(cut) and post.caption != old:
                self.db.execute("UPDATE posts SET caption=? WHERE post_id=?", (post.caption, post.post_id))
                self.invalidate(post.post_id, "extract", "index")
            # The address the platform shows replaces the generic one: a YouTube Short first seen as watch?v=<id>
            # (a search or a listing that did not say) is /shorts/<id> once a capture shows it as one.
            if post.platform == "youtube" and post.url.endswith(f"/shorts/{post.platform_id}"):
                self.db.execute("UPDATE posts SET url=?, page_url=? WHERE post_id=? AND url=?",
                                (post.url, post.page_url or post.url, post.post_id,
                                 f"https://www.youtube.com/watch?v={post.platform_id}"))
            # Fill fields that were empty before; never erase what was collected.
            for key in ("caption", "posted_at", "media_url", "page_url", "subtitles_url", "lang",
                        "forwarded_from", "author_handle"):
                if d[key]:
                    self.db.execute(
                        f"UPDATE posts SET {key}=? WHERE post_id=? AND {key}=''",  # noqa: S608 - fixed names
                        (d[key], post.post_id),
                    )
            if post.views is not None:
                self.db.execute("UPDATE posts SET views=? WHERE post_id=?", (post.views, post.post_id))
        self.db.execute(
            "INSERT INTO post_sightings(post_id, source, discovered_via, seen_at) VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
            (post.post_id, post.source, post.discovered_via, now_iso()),
        )
        return existing is None

    def post_extra(self, post_id: str) -> dict[str, Any] | None:
        """A post's `extra` object (platform fields, comments, availability); None when there is no such post.
        Unreadable JSON reads as {}, a stored value that is not an object as {"extra": value}."""
        r = self.db.execute("SELECT extra_json FROM posts WHERE post_id=?", (post_id,)).fetchone()
        if r is None:
            return None
        try:
            extra = json.loads(r[0] or "{}")
        except ValueError:
            return {}
        return extra if isinstance(extra, dict) else {"extra": extra}

    def set_post_extra(self, post_id: str, extra: dict[str, Any]) -> None:
        self.db.execute("UPDATE posts SET extra_json=? WHERE post_id=?", (json.dumps(extra, ensure_ascii=False), post_id))

    def capture_of(self, post_id: str) -> tuple[str, str, str] | None:
        """(captured_at, extra_json, caption) of a stored post, for an import deciding which capture is newer."""
        r = self.db.execute("SELECT captured_at, extra_json, caption FROM posts WHERE post_id=?", (post_id,)).fetchone()
        return (r[0], r[1], r[2]) if r else None

    def set_post_fields(self, post_id: str, fields: dict[str, Any]) -> None:
        """Overwrite these post columns (names from the `Post` record only)."""
        bad = set(fields) - _POST_FIELDS
        if bad or not fields:
            raise ValueError(f"not post fields: {sorted(bad)}")
        self.db.execute(f"UPDATE posts SET {', '.join(f'{k}=?' for k in fields)} WHERE post_id=?",  # noqa: S608 - checked names
                        (*fields.values(), post_id))

    def get_post(self, post_id: str) -> Post | None:
        row = self.db.execute("SELECT * FROM posts WHERE post_id=?", (post_id,)).fetchone()
        return _row_to_post(row) if row else None

    def posts(self) -> list[Post]:
        return [_row_to_post(r) for r in self.db.execute("SELECT * FROM posts ORDER BY post_id")]

    def add_snapshot(self, url: str, status: int, sha256: str, path: str, source: str, tool: str,
                     post_ids: list[str] | None = None) -> int:
        with self.tx():
            self.db.execute(
                "INSERT INTO snapshots(url, status, sha256, path, source, fetched_at, tool) "
                "VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (url, status, sha256, path, source, now_iso(), tool),
            )
            sid = self.db.execute("SELECT id FROM snapshots WHERE url=? AND sha256=?", (url, sha256)).fetchone()[0]
            for pid in post_ids or []:
                self.db.execute("INSERT INTO post_snapshots(post_id, snapshot_id) VALUES (?,?) ON CONFLICT DO NOTHING", (pid, sid))
        return int(sid)

    def has_snapshot(self, post_id: str, url: str) -> bool:
        """Whether a snapshot of this URL is linked to the post (a page already kept is not fetched again)."""
        return self.db.execute("SELECT 1 FROM post_snapshots ps JOIN snapshots s ON s.id = ps.snapshot_id "
                               "WHERE ps.post_id = ? AND s.url = ?", (post_id, url)).fetchone() is not None

    def link_snapshot(self, post_id: str, url: str) -> None:
        row = self.db.execute("SELECT id FROM snapshots WHERE url=? ORDER BY id DESC LIMIT 1", (url,)).fetchone()
        if row:
            self.db.execute("INSERT INTO post_snapshots(post_id, snapshot_id) VALUES (?,?) ON CONFLICT DO NOTHING",
                            (post_id, row[0]))

    # ---- stage status and failures -------------------------------------------------------------------
    def pending(self, stage: str, *, after: str | None = None, retry_failed: bool = False,
                after_status: tuple[str, ...] = ("done",), only: Sequence[str] | None = None) -> list[str]:
        """Post ids that still need `stage` (and, if given, have `after` in one of `after_status`); `only`: among
        these ids (a distributed worker's job), else every post."""
        sql = "SELECT p.post_id FROM posts p "
        params: list[Any] = []
        if after:
            marks = ",".join("?" for _ in after_status)
            sql += f"JOIN stage_status a ON a.item_id=p.post_id AND a.stage=? AND a.status IN ({marks}) "  # noqa: S608 - placeholders only
            params += [after, *after_status]
        sql += "LEFT JOIN stage_status s ON s.item_id=p.post_id AND s.stage=? "
        params.append(stage)
        sql += "WHERE (s.status IS NULL" + (" OR s.status='failed')" if retry_failed else ")")
        if only is not None:
            if not only:
                return []
            sql += f" AND p.post_id IN ({','.join('?' for _ in only)})"  # noqa: S608 - placeholders only
            params += list(only)
        sql += " ORDER BY p.posted_at, p.post_id"
        return [r[0] for r in self.db.execute(sql, params)]

    def set_status(self, item_id: str, stage: str, status: str, code: str = "", at: str | None = None) -> None:
        """An item's status for a stage (and its code: a failure's, or recheck's state), as of `at` (now when not
        given); done clears the item's failures of that stage."""
        self.db.execute(
            "INSERT INTO stage_status(item_id, stage, status, code, updated_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(item_id, stage) DO UPDATE SET status=excluded.status, code=excluded.code, "
            "updated_at=excluded.updated_at",
            (item_id, stage, status, code, at or now_iso()),
        )
        if status == "done":
            self.db.execute("DELETE FROM failures WHERE stage=? AND item_id=?", (stage, item_id))

    def status_of(self, item_id: str, stage: str) -> str | None:
        row = self.db.execute("SELECT status FROM stage_status WHERE item_id=? AND stage=?",
                              (item_id, stage)).fetchone()
        return row[0] if row else None

    def clear_failures(self, item_id: str, stage: str) -> None:
        self.db.execute("DELETE FROM failures WHERE stage=? AND item_id=?", (stage, item_id))

    def due_for(self, stage: str, cutoff: str) -> list[str]:
        """Posts this stage never handled, or last handled at or before `cutoff` (ISO time), oldest first."""
        return [r[0] for r in self.db.execute(
            "SELECT p.post_id FROM posts p LEFT JOIN stage_status s ON s.item_id = p.post_id AND s.stage = ? "
            "WHERE s.updated_at IS NULL OR s.updated_at <= ? ORDER BY COALESCE(s.updated_at, ''), p.post_id",
            (stage, cutoff))]

    def done_code(self, item_id: str, stage: str) -> str | None:
        """The code a stage finished this item with (recheck: the post's state), None when not done."""
        r = self.db.execute("SELECT code FROM stage_status WHERE item_id=? AND stage=? AND status='done'",
                            (item_id, stage)).fetchone()
        return r[0] if r else None

    def items_done_with(self, stage: str, codes: tuple[str, ...]) -> list[str]:
        """Every item this stage finished with one of these codes, by id."""
        return [r[0] for r in self.db.execute(
            f"SELECT item_id FROM stage_status WHERE stage = ? AND status = 'done' AND code IN ({','.join('?' * len(codes))}) "  # noqa: S608
            "ORDER BY item_id", (stage, *codes))]

    def items_with_status(self, stage: str) -> list[str]:
        """Every item that has a status (done, failed or skipped) for this stage, by id."""
        return [r[0] for r in self.db.execute("SELECT item_id FROM stage_status WHERE stage=? ORDER BY item_id", (stage,))]

    def forget_stage(self, stage: str) -> None:
        """Drop every item's status for this stage (inside the caller's transaction: the index rebuild)."""
        self.db.execute("DELETE FROM stage_status WHERE stage=?", (stage,))

    def post_with_media_url(self, media_url: str) -> str | None:
        """A post whose media was fetched from this media URL, if any."""
        r = self.db.execute("SELECT m.post_id FROM media m JOIN posts p ON p.post_id = m.post_id "
                            "WHERE p.media_url = ? LIMIT 1", (media_url,)).fetchone()
        return r[0] if r else None

    def invalidate(self, item_id: str, *stages: str) -> None:
        for st in stages:
            self.db.execute("DELETE FROM stage_status WHERE item_id=? AND stage=?", (item_id, st))

    def record_failure(self, f: Failure, source: str = "") -> None:
        """Record a failure row and mark the item failed for the stage, atomically; counted once, as
        `{stage}/failed/{code}` of `source` (the item's source when the caller knows it)."""
        with self.tx():
            self.db.execute(
                "INSERT INTO failures(stage, item_id, code, reason, at) VALUES (?,?,?,?,?) "
                "ON CONFLICT(stage, item_id, code) DO UPDATE SET reason=excluded.reason, at=excluded.at, "
                "attempts=failures.attempts+1",
                (f.stage, f.item_id, f.code, f.reason[:2000], f.at or now_iso()),
            )
            self.set_status(f.item_id, f.stage, "failed", f.code)
            self.count(f"{f.stage}/failed/{f.code}", source=source)

    def failures(self, stage: str | None = None) -> list[Failure]:
        sql = "SELECT stage, item_id, code, reason, at FROM failures"
        params: tuple[Any, ...] = ()
        if stage:
            sql += " WHERE stage=?"
            params = (stage,)
        return [Failure(*r) for r in self.db.execute(sql + " ORDER BY id", params)]

    # ---- media -----------------------------------------------------------------------------------------
    def put_media(self, media: Media, source: str = "") -> None:
        """Store a post's media record and mark it fetched; counted once, as `fetch/fetched` of `source`."""
        with self.tx():
            self.db.execute(
                "INSERT INTO media(post_id, path, sha256, size, duration, mime, info_json, provenance_json, "
                "fetched_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (post_id) DO UPDATE SET path=excluded.path, "
                "sha256=excluded.sha256, size=excluded.size, duration=excluded.duration, mime=excluded.mime, "
                "info_json=excluded.info_json, provenance_json=excluded.provenance_json, fetched_at=excluded.fetched_at",
                (media.post_id, media.path, media.sha256, media.size, media.duration, media.mime,
                 media.info_json, provenance_json(media.provenance), now_iso()),
            )
            self.set_status(media.post_id, "fetch", "done")
            self.count("fetch/fetched", source=source)

    def get_media(self, post_id: str) -> Media | None:
        r = self.db.execute("SELECT * FROM media WHERE post_id=?", (post_id,)).fetchone()
        if not r:
            return None
        return Media(post_id=r["post_id"], path=r["path"], sha256=r["sha256"], size=r["size"],
                     duration=r["duration"], mime=r["mime"], info_json=r["info_json"])

    def media_by_sha(self, sha256: str) -> Media | None:
        r = self.db.execute("SELECT post_id FROM media WHERE sha256=? LIMIT 1", (sha256,)).fetchone()
        return self.get_media(r[0]) if r else None

    # ---- text units ---------------------------------------------------------------------------------
    def put_unit(self, unit: TextUnit, transcript_id: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO units(unit_id, post_id, kind, text, lang, segments_json, transcript_id) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT (unit_id) DO UPDATE SET post_id=excluded.post_id, kind=excluded.kind, "
            "text=excluded.text, lang=excluded.lang, segments_json=excluded.segments_json, "
            "transcript_id=excluded.transcript_id",
            (unit.unit_id, unit.post_id, unit.kind, unit.text, unit.lang, _segments_to_json(unit.segments),
             transcript_id),
        )

    def units(self, post_id: str) -> list[TextUnit]:
        rows = self.db.execute("SELECT * FROM units WHERE post_id=? ORDER BY kind, unit_id", (post_id,))
        return [_row_to_unit(r) for r in rows]

    def all_units(self) -> Iterator[TextUnit]:
        for r in self.db.execute("SELECT * FROM units ORDER BY post_id, unit_id"):
            yield _row_to_unit(r)

    # ---- transcripts ------------------------------------------------------------------------------------
    def find_transcript(self, audio_sha256: str, model: str) -> str | None:
        """The transcript this model made of exactly this audio (decoded PCM hash), if any."""
        r = self.db.execute("SELECT transcript_id FROM transcripts WHERE audio_sha256=? AND model=? LIMIT 1",
                            (audio_sha256, model)).fetchone()
        return r[0] if r else None

    def transcript_for_media(self, media_sha256: str, model: str) -> str | None:
        """A transcript this model made for a post whose media file has this sha256 (a copy of the file)."""
        r = self.db.execute(
            "SELECT pt.transcript_id FROM media m JOIN post_transcripts pt ON pt.post_id = m.post_id "
            "JOIN transcripts t ON t.transcript_id = pt.transcript_id WHERE m.sha256 = ? AND t.model = ? "
            "LIMIT 1", (media_sha256, model)).fetchone()
        return r[0] if r else None

    def fingerprints(self, model: str) -> Iterator[tuple[str, str, float]]:
        """(transcript id, audio fingerprint, seconds) of this model's transcripts that have one, oldest first."""
        for r in self.db.execute("SELECT transcript_id, fingerprint, seconds FROM transcripts WHERE model = ? "
                                 "AND fingerprint != '' ORDER BY created_at, transcript_id", (model,)):
            yield r[0], r[1], r[2]

    def get_transcript(self, transcript_id: str) -> Transcript | None:
        r = self.db.execute("SELECT * FROM transcripts WHERE transcript_id=?", (transcript_id,)).fetchone()
        if not r:
            return None
        return Transcript(audio_sha256=r["audio_sha256"], language=r["language"], text=r["text"],
                          segments=segments_from_json(r["segments_json"], where=f"transcripts.segments_json of {transcript_id}"),
                          model=r["model"],
                          seconds=r["seconds"], raw_text=r["raw_text"])

    def save_transcript_for_post(self, post_id: str, t: Transcript, fingerprint: str = "",
                                 reuse_id: str | None = None, link_provenance: str = "{}") -> str:
        """Store (or reuse) a transcript, link it to the post, add its text unit, mark the stage done."""
        with self.tx():
            if reuse_id is None:
                tid = f"tr-{t.audio_sha256[:16]}-{_slug(t.model)}"
                self.db.execute(
                    "INSERT INTO transcripts(transcript_id, audio_sha256, fingerprint, model, language, "
                    "text, raw_text, segments_json, seconds, provenance_json, created_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                    (tid, t.audio_sha256, fingerprint, t.model, t.language, t.text, t.raw_text,
                     _segments_to_json(t.segments), t.seconds, provenance_json(t.provenance), now_iso()),
                )
                self.count("transcribe/transcribed")
                self.count("transcribe/seconds", int(round(t.seconds)))
            else:
                tid = reuse_id
                self.count("transcribe/reused")
            self.db.execute(
                "INSERT INTO post_transcripts(post_id, transcript_id, reused, linked_at) VALUES (?,?,?,?) "
                "ON CONFLICT DO NOTHING",
                (post_id, tid, 1 if reuse_id else 0, now_iso()),
            )
            unit = TextUnit(unit_id=f"{post_id}:transcript:{_slug(t.model)}", post_id=post_id, kind="transcript",
                            text=t.text, lang=t.language, segments=t.segments)
            self.put_unit(unit, transcript_id=tid)
            self.set_status(post_id, "transcribe", "done")
            self.invalidate(post_id, "extract", "index")
        return tid

    # ---- on-screen text --------------------------------------------------------------------------------
    def find_onscreen(self, media_sha256: str, model: str) -> TextUnit | None:
        """The on-screen text already read from this media file (as a unit of no post), or None."""
        r = self.db.execute("SELECT text, segments_json FROM onscreen WHERE media_sha256=? AND model=?",
                            (media_sha256, model)).fetchone()
        if not r:
            return None
        return TextUnit(unit_id="", post_id="", kind="onscreen", text=r["text"],
                        segments=segments_from_json(r["segments_json"]))

    def save_onscreen_for_post(self, post_id: str, media_sha256: str, model: str, unit: TextUnit,
                               res: OnscreenText | None, overlays: list[dict[str, Any]] | None = None) -> None:
        """Store what the ocr stage read (`res`; None when reused from a repost), the post's onscreen unit
        and the stage status, in one transaction. Overlays hold kinds, seconds and pseudonyms, never ids."""
        with self.tx():
            if res is not None:
                def lines(xs: Any) -> str:
                    return json.dumps([{"start": x.start, "end": x.end, "text": x.text, "confidence": x.confidence}
                                       for x in xs], ensure_ascii=False)

                self.db.execute(
                    "INSERT INTO onscreen(media_sha256, model, text, raw_text, segments_json, persistent_json, "
                    "overlays_json, seconds, provenance_json, created_at) VALUES (?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (media_sha256, model) DO UPDATE SET text=excluded.text, raw_text=excluded.raw_text, "
                    "segments_json=excluded.segments_json, persistent_json=excluded.persistent_json, "
                    "overlays_json=excluded.overlays_json, seconds=excluded.seconds, "
                    "provenance_json=excluded.provenance_json, created_at=excluded.created_at",
                    (media_sha256, model, unit.text, res.raw_text, _segments_to_json(unit.segments),
                     lines(res.persistent), json.dumps(overlays or [], ensure_ascii=False), res.seconds,
                     provenance_json(res.provenance), now_iso()),
                )
            if unit.text.strip():
                self.put_unit(unit)
            self.set_status(post_id, "ocr", "done")
            self.invalidate(post_id, "extract", "index")

    # ---- extractions -----------------------------------------------------------------------------------
    def save_extraction(self, ex: Extraction, facts_json: str) -> None:
        with self.tx():
            self.db.execute(
                "INSERT INTO extractions(post_id, relevant, gold_json, facts_json, provenance_json, created_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (post_id) DO UPDATE SET relevant=excluded.relevant, "
                "gold_json=excluded.gold_json, facts_json=excluded.facts_json, "
                "provenance_json=excluded.provenance_json, created_at=excluded.created_at",
                (ex.post_id, int(ex.relevant), json.dumps(ex.to_gold(), ensure_ascii=False), facts_json,
                 provenance_json(ex.provenance), now_iso()),
            )
            self.set_status(ex.post_id, "extract", "done")
            self.invalidate(ex.post_id, "index")
            self.count("extract/extracted")

    def get_extraction_gold(self, post_id: str) -> dict[str, Any] | None:
        r = self.db.execute("SELECT gold_json FROM extractions WHERE post_id=?", (post_id,)).fetchone()
        return stored_json(r[0], {}, where=f"extractions.gold_json of {post_id}") if r else None

    def get_facts(self, post_id: str) -> dict[str, Any] | None:
        r = self.db.execute("SELECT facts_json FROM extractions WHERE post_id=?", (post_id,)).fetchone()
        return stored_json(r[0], {}, where=f"extractions.facts_json of {post_id}") if r else None

    # ---- reads for aggregates (changes.py, the demo summary) ---------------------------------------------
    def latest_posted_at(self) -> str | None:
        r = self.db.execute("SELECT MAX(posted_at) FROM posts WHERE posted_at != ''").fetchone()
        return r[0] if r and r[0] else None

    def gold_summaries(self) -> list[dict[str, Any]]:
        """Every post's extraction summary (SPEC §5 gold schema), in no particular order."""
        return [stored_json(r[1], {}, where=f"extractions.gold_json of {r[0]}")
                for r in self.db.execute("SELECT post_id, gold_json FROM extractions")]

    def relevant_dated(self, until: str = "", *, facts: bool = False) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(post id, posted_at, extraction) of every relevant post with a posting time (before `until`,
        YYYY-MM-DD, when given), oldest first; the extraction is the gold summary, or with `facts` the full
        facts with their evidence."""
        col = "facts_json" if facts else "gold_json"
        limit, args = ("AND p.posted_at < ? ", (until,)) if until else ("", ())
        for r in self.db.execute(f"SELECT p.post_id, p.posted_at, e.{col} FROM posts p JOIN extractions e "  # noqa: S608
                                 f"ON e.post_id = p.post_id WHERE p.posted_at != '' AND e.relevant = 1 {limit}"
                                 "ORDER BY p.posted_at", args):
            yield r[0], r[1], stored_json(r[2], {}, where=f"extractions.{col} of {r[0]}")

    def dated_unit_texts(self, until: str = "") -> Iterator[tuple[str, str]]:
        """(post id, text) of every non-empty unit of the posts with a posting time (before `until` when
        given), grouped by post; one row at a time, never the whole catalog's texts at once."""
        limit, args = ("AND p.posted_at < ? ", (until,)) if until else ("", ())
        for r in self.db.execute("SELECT u.post_id, u.text FROM units u JOIN posts p ON p.post_id = u.post_id "  # noqa: S608
                                 f"WHERE u.text != '' AND p.posted_at != '' {limit}ORDER BY u.post_id", args):
            yield r[0], r[1]

    def posted_at_of(self, post_ids: list[str]) -> list[str]:
        """The posting times of these posts (those that have one)."""
        out: list[str] = []
        for i in range(0, len(post_ids), 500):
            chunk = post_ids[i:i + 500]
            out += [r[0] for r in self.db.execute(
                f"SELECT posted_at FROM posts WHERE posted_at != '' AND post_id IN ({','.join('?' * len(chunk))})",  # noqa: S608
                chunk)]
        return out

    def transcripts_overview(self) -> dict[str, Any]:
        """What the transcription stage stored (for the bench): post ids with a transcript, the model's wall
        time and the audio seconds summed over transcripts, and the posts whose transcript is their subtitles."""
        posts = [r[0] for r in self.db.execute("SELECT post_id FROM post_transcripts")]
        model_wall = audio = 0.0
        for tid, prov, secs in self.db.execute("SELECT transcript_id, provenance_json, seconds FROM transcripts"):
            params = dict(stored_json(prov, {}, where=f"transcripts.provenance_json of {tid}").get("params") or [])
            model_wall += float(params.get("wall_time_s") or 0)
            audio += float(secs or 0)
        subs = [r[0] for r in self.db.execute(
            "SELECT pt.post_id, t.provenance_json FROM post_transcripts pt JOIN transcripts t "
            "ON t.transcript_id = pt.transcript_id")
            if stored_json(r[1], {}, where=f"provenance of {r[0]}").get("tool") == "transcribe/subtitles"]
        return {"posts": posts, "model_wall_s": model_wall, "audio_s": audio, "from_subtitles": subs}

    # ---- saved searches and their alerts (routewatch/alerts.py) ---------------------------------------------
    def saved_search_rows(self, name: str | None = None) -> list[dict[str, Any]]:
        """Saved searches as stored (filters as JSON text), by name; only the one named when given."""
        if name is None:
            return [dict(r) for r in self.db.execute("SELECT * FROM saved_searches ORDER BY name")]
        return [dict(r) for r in self.db.execute("SELECT * FROM saved_searches WHERE name=?", (name,))]

    def add_saved_search(self, row: dict[str, Any], baseline: list[str], now: str) -> None:
        """Store a saved search and, in the same transaction, the posts it matches now as its baseline (never
        alerted, already seen and delivered)."""
        with self.tx():
            self.db.execute("INSERT INTO saved_searches(name, query, filters_json, webhook, changes, created_at, "
                            "checked_at) VALUES (:name,:query,:filters_json,:webhook,:changes,:created_at,:checked_at)",
                            row)
            self.db.executemany("INSERT INTO saved_alerts(name, post_id, kind, found_at, baseline, "
                                "seen_at, delivered_at) VALUES (?,?,'match',?,1,?,?) ON CONFLICT DO NOTHING",
                                [(row["name"], p, now, now, now) for p in baseline])

    def remove_saved_search(self, name: str) -> None:
        with self.tx():
            self.db.execute("DELETE FROM saved_alerts WHERE name=?", (name,))
            self.db.execute("DELETE FROM saved_searches WHERE name=?", (name,))

    def alerted_posts(self, name: str) -> set[str]:
        """The posts a saved search has matched so far (baseline included)."""
        return {r[0] for r in self.db.execute("SELECT post_id FROM saved_alerts WHERE name=? AND kind='match'", (name,))}

    def record_alerts(self, name: str, matched: list[str], changes: list[tuple[str, dict[str, Any]]], now: str) -> list[str]:
        """In one transaction: the matched posts this saved search had not matched before become alerts, the
        changes (key, detail) too (once per key), and its checked time is set. Returns the new posts."""
        with self.tx():
            known = self.alerted_posts(name)  # read again inside the transaction: another check may have run
            new = [p for p in matched if p not in known]
            self.db.executemany("INSERT INTO saved_alerts(name, post_id, kind, found_at) VALUES (?,?,'match',?)",
                                [(name, p, now) for p in new])
            self.db.executemany("INSERT INTO saved_alerts(name, post_id, kind, detail_json, found_at) "
                                "VALUES (?,?,'change',?,?) ON CONFLICT DO NOTHING",
                                [(name, key, json.dumps(d, ensure_ascii=False), now) for key, d in changes])
            self.db.execute("UPDATE saved_searches SET checked_at=? WHERE name=?", (now, name))
        return new

    def alerts_waiting(self, column: str, name: str | None = None) -> list[dict[str, Any]]:
        """Alerts not yet shown (`seen_at`) or not yet delivered (`delivered_at`), oldest found first."""
        if column not in ("seen_at", "delivered_at"):
            raise ValueError(column)
        where = f"a.baseline = 0 AND a.{column} IS NULL" + (" AND a.name = ?" if name else "")
        return [dict(r) for r in self.db.execute(
            "SELECT a.name, a.post_id, a.kind, a.detail_json, a.found_at FROM saved_alerts a "  # noqa: S608 - fixed column names
            f"JOIN saved_searches s ON s.name = a.name WHERE {where} ORDER BY a.found_at, a.name, a.post_id",
            (name,) if name else ())]

    def recent_alerts(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        """The latest alerts of one saved search, shown or not, newest found first."""
        return [dict(r) for r in self.db.execute(
            "SELECT name, post_id, kind, detail_json, found_at, seen_at FROM saved_alerts WHERE name=? AND baseline=0 "
            "ORDER BY found_at DESC, post_id LIMIT ?", (name, limit))]

    def mark_alerts(self, alerts: list[dict[str, Any]], column: str, now: str) -> int:
        """Mark alerts shown (or delivered) in one transaction; returns how many changed."""
        if column not in ("seen_at", "delivered_at"):
            raise ValueError(column)
        with self.tx():
            cur = self.db.executemany(
                f"UPDATE saved_alerts SET {column}=? WHERE name=? AND post_id=? AND kind=? AND {column} IS NULL",  # noqa: S608
                [(now, a["name"], a["post_id"], a["kind"]) for a in alerts])
        return cur.rowcount
    def recheck_state(self, post_id: str) -> dict[str, Any] | None:
        """What `routewatch recheck` saw last: {"state", "seen_at", "since", "http_status", "words"}, `since`
        the first recheck of the run of that same state that is still going on; None if never rechecked."""
        row = self.db.execute(
            "SELECT s.code, s.updated_at, p.extra_json FROM stage_status s JOIN posts p ON p.post_id = s.item_id "
            "WHERE s.item_id = ? AND s.stage = 'recheck' AND s.status = 'done'", (post_id,)).fetchone()
        if row is None:
            return None
        extra = stored_json(row[2], {}, where=f"posts.extra_json of {post_id}")
        history = [h for h in (extra.get("availability") if isinstance(extra, dict) else None) or []
                   if isinstance(h, dict)]
        state, seen = row[0], row[1]
        since, last = seen, {}
        for h in reversed(history):
            if h.get("state") != state:
                break
            since, last = str(h.get("seen_at") or since), last or h
        return {"state": state, "seen_at": seen, "since": since, "http_status": last.get("http_status"),
                "words": str(last.get("words") or "")}

    def posts_stamp(self) -> tuple[Any, int]:
        """(newest row id, count) of the posts: changes when a post is added (the web rebuilds its output policy
        then). PostgreSQL has no rowid; its newest row version (ctid) changes on an update too."""
        col = "rowid" if self.backend == "sqlite" else "ctid::text"
        r = self.db.execute(f"SELECT MAX({col}), COUNT(*) FROM posts").fetchone()  # noqa: S608 - fixed names
        return r[0], r[1]

    # ---- status ----------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What `routewatch status` and the Status page show: counts, stages, sources, failures by code, and
        each source's collector health."""
        db = self.db
        sources: dict[str, dict[str, int]] = {}
        for r in db.execute("SELECT source, COUNT(DISTINCT post_id) FROM post_sightings GROUP BY source"):
            sources.setdefault(r[0], {})["posts"] = r[1]
        last = {}
        for r in db.execute("SELECT source, name, SUM(value) FROM counters WHERE source != '' GROUP BY source, name"):
            if r[1] == "crawl/pages":
                sources.setdefault(r[0], {"posts": 0})["pages"] = r[2]
            elif r[1].startswith("crawl/failed/"):
                d = sources.setdefault(r[0], {"posts": 0})
                d["failed"] = d.get("failed", 0) + r[2]
            last[(r[0], r[1])] = r[2]
        failures = [
            {"stage": r[0], "code": r[1], "count": r[2], "example": r[3]}
            for r in db.execute("SELECT stage, code, COUNT(*), MIN(reason) FROM failures GROUP BY stage, code ORDER BY stage, code")
        ]
        t = db.execute("SELECT COUNT(*), COALESCE(SUM(seconds), 0) FROM transcripts").fetchone()
        return {
            "health": self.collector_health(),
            "posts": db.execute("SELECT COUNT(*) FROM posts").fetchone()[0],
            "media": db.execute("SELECT COUNT(*) FROM media").fetchone()[0],
            "transcripts": t[0],
            "transcribed_minutes": round(t[1] / 60.0, 2),
            "stages": self.stage_counts(),
            "sources": sources,
            "failures": failures,
            "schema_version": self.schema_version(),
        }


    def collector_health(self, history: int = 5) -> dict[str, Any]:
        """Per source: what its latest run discovered, fetched, skipped (by reason) and failed (by code),
        against the median of its previous runs; flags a source that returned zero or far fewer."""
        import statistics

        db = self.db
        out: dict[str, Any] = {}
        sources = [r[0] for r in db.execute(
            "SELECT DISTINCT source FROM counters WHERE source != '' AND name = 'crawl/discovered' ORDER BY source")]
        for src in sources:
            runs = [(r[0], r[1]) for r in db.execute(
                "SELECT run_id, value FROM counters WHERE source = ? AND name = 'crawl/discovered' ORDER BY run_id", (src,))]
            last_run, last = runs[-1]
            prev = [v for _, v in runs[:-1]][-history:]
            median = statistics.median(prev) if prev else None
            counts = {r[0]: r[1] for r in db.execute(
                "SELECT name, SUM(value) FROM counters WHERE source = ? AND run_id = ? GROUP BY name", (src, last_run))}
            fetched = {r[0]: r[1] for r in db.execute(
                "SELECT name, SUM(value) FROM counters WHERE source = ? AND name LIKE 'fetch/%' GROUP BY name", (src,))}
            flag = ""
            if last == 0:
                flag = "returned zero posts"
            elif median and last < 0.5 * median:
                flag = f"far fewer than its recent median ({last} < {median:g})"
            started = db.execute("SELECT started_at FROM runs WHERE run_id = ?", (last_run,)).fetchone()
            out[src] = {
                "last_run": last_run, "last_run_at": started[0] if started else None,
                "discovered": last, "median_previous": median, "flag": flag,
                "new": counts.get("crawl/new", 0), "pages": counts.get("crawl/pages", 0),
                "reported_total": counts.get("crawl/reported_total"),
                "fetched": fetched.get("fetch/fetched", 0),
                "skipped": {k.split("/", 2)[2]: v for k, v in {**counts, **fetched}.items() if k.startswith(("crawl/skipped/", "fetch/skipped/"))},
                "failed": {k.split("/", 2)[2]: v for k, v in {**counts, **fetched}.items() if k.startswith(("crawl/failed/", "fetch/failed/"))},
            }
        return out

    def run_failures(self) -> list[dict[str, Any]]:
        """Failures recorded by the current run, per code: count and one example reason."""
        row = self.db.execute("SELECT started_at FROM runs WHERE run_id = ?", (self.run_id,)).fetchone()
        if row is None:
            return []
        return [{"stage": r[0], "code": r[1], "count": r[2], "example": r[3]} for r in self.db.execute(
            "SELECT stage, code, COUNT(*), MIN(reason) FROM failures WHERE at >= ? GROUP BY stage, code "
            "ORDER BY stage, code", (row[0],))]

    def stage_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {st: {"done": 0, "failed": 0, "skipped": 0, "pending": 0} for st in STAGES}
        total = self.db.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
        for r in self.db.execute("SELECT stage, status, COUNT(*) FROM stage_status GROUP BY stage, status"):
            out.setdefault(r[0], {"done": 0, "failed": 0, "skipped": 0, "pending": 0})[r[1]] = r[2]
        for st in STAGES[1:]:
            d = out[st]
            d["pending"] = max(0, total - d["done"] - d["failed"] - d["skipped"])
        out["crawl"]["done"] = total
        return out


def _split_sql(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s)[:40]


_POST_FIELDS = frozenset(Post.__dataclass_fields__)


def _row_to_post(r: sqlite3.Row) -> Post:
    # columns a newer RouteWatch added are left out (such a catalog is read-only here)
    return Post(**{k: r[k] for k in r.keys() if k in _POST_FIELDS})  # noqa: SIM118 - sqlite3.Row


def _row_to_unit(r: sqlite3.Row) -> TextUnit:
    return TextUnit(unit_id=r["unit_id"], post_id=r["post_id"], kind=r["kind"], text=r["text"], lang=r["lang"],
                    segments=segments_from_json(r["segments_json"], where=f"units.segments_json of {r['unit_id']}"))


_OWN_TABLES = frozenset(re.findall(r"CREATE TABLE (\w+)", "".join(MIGRATIONS)))


def open_catalog(data_dir: Path, *, write: bool = True, wait: float = 0.0, url: str = "") -> Catalog:
    """The catalog `url` names (`catalog.url`: sqlite:///PATH or postgresql://...; E960 otherwise), or the data
    dir's `catalog.sqlite` when it is empty."""
    target = parse_catalog_url(url, data_dir)
    if target.backend == "postgresql":
        return Catalog(dsn=target.dsn, write=write, data_dir=Path(data_dir))
    return Catalog(target.path, write=write, lock_timeout=wait)
