"""Copy an SQLite catalog into a PostgreSQL one (`routewatch migrate-catalog`), table by table, and verify it.

In: two open catalogs: the SQLite source (opened for writing, so its lock keeps other writers out while it is
read) and the PostgreSQL destination (migrated to the same schema). Out: per table the rows copied now and both
sides' row counts and content hashes. Restartable: a row whose primary key is already there is skipped. Never
changes or deletes a row on either side; the SQLite index tables (a projection) are not copied.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from routewatch.core.catalog import MIGRATIONS, Catalog
from routewatch.core.errors import Code, RouteWatchError

# the catalog's own tables, in the order the migrations create them
TABLES = list(dict.fromkeys(re.findall(r"CREATE TABLE (\w+)", "".join(MIGRATIONS))))
_MOD = 1 << 256


@dataclass(frozen=True)
class TableCheck:
    table: str
    copied: int  # rows inserted by this run (0 when a previous run copied them all)
    source_rows: int
    copy_rows: int
    source_hash: str
    copy_hash: str

    @property
    def ok(self) -> bool:
        return self.source_rows == self.copy_rows and self.source_hash == self.copy_hash

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _columns(src: Catalog, table: str) -> list[str]:
    return [r[1] for r in src.db.execute(f"PRAGMA table_info({table})")]  # noqa: S608 - a name from TABLES


def _rows(cat: Catalog, table: str, cols: list[str]) -> Iterator[tuple[Any, ...]]:
    sql = f"SELECT {', '.join(cols)} FROM {table}"  # noqa: S608 - names from TABLES and the source's schema
    if cat.backend == "postgresql":
        yield from cat.db.stream(sql)  # type: ignore[attr-defined]
        return
    cur = cat.db.execute(sql)
    while chunk := cur.fetchmany(2000):
        yield from (tuple(r) for r in chunk)


def content_hash(cat: Catalog, table: str, cols: list[str]) -> tuple[int, str]:
    """(rows, hash) of a table: the sum of each row's sha256 (its values as JSON, in `cols` order), so the
    order rows come in (collations differ between the backends) does not matter, and a missing, extra or
    changed row does."""
    n, total = 0, 0
    for row in _rows(cat, table, cols):
        text = json.dumps(list(row), ensure_ascii=False, separators=(",", ":"))
        total = (total + int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")) % _MOD
        n += 1
    return n, f"{total:064x}"[:16]


def copy_table(src: Catalog, dst: Catalog, table: str, cols: list[str], batch: int) -> int:
    """Copy one table in transactions of `batch` rows; rows already there (by primary key) are skipped."""
    sql = (f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "  # noqa: S608 - names from TABLES
           "ON CONFLICT DO NOTHING")
    copied = 0
    cur = src.db.execute(f"SELECT {', '.join(cols)} FROM {table}")  # noqa: S608 - names from TABLES
    while chunk := cur.fetchmany(batch):
        with dst.tx():
            copied += max(0, dst.db.executemany(sql, [tuple(r) for r in chunk]).rowcount)
    return copied


def _restart_identities(dst: Catalog, table: str) -> None:
    """Ids generated after the copy continue after the copied ones (snapshots, failures, runs)."""
    for (col,) in dst.db.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                                 "current_schema() AND table_name = ? AND is_identity = 'YES'", (table,)):
        dst.db.execute(f"SELECT setval(pg_get_serial_sequence(?, ?), (SELECT COALESCE(MAX({col}), 0) + 1 "  # noqa: S608
                       f"FROM {table}), false)", (table, col))


def copy_catalog(src: Catalog, dst: Catalog, *, batch: int = 1000,
                 progress: Callable[[str, int], None] | None = None) -> list[TableCheck]:
    """Copy every catalog table of `src` (SQLite) into `dst` (PostgreSQL), then compare them table by table."""
    if src.backend != "sqlite" or dst.backend != "postgresql":
        raise RouteWatchError(Code.E960, "migrate-catalog copies an SQLite catalog into a PostgreSQL one")
    if src.schema_version() != dst.schema_version():
        raise RouteWatchError(Code.E962, f"schema versions differ: source {src.schema_version()}, "
                              f"destination {dst.schema_version()}")
    present = {r[0] for r in src.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    out = []
    for table in (t for t in TABLES if t in present):
        cols = _columns(src, table)
        copied = copy_table(src, dst, table, cols, batch)
        _restart_identities(dst, table)
        if progress:
            progress(table, copied)
        n_src, h_src = content_hash(src, table, cols)
        n_dst, h_dst = content_hash(dst, table, cols)
        out.append(TableCheck(table, copied, n_src, n_dst, h_src, h_dst))
    return out
