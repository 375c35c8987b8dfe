"""Fixtures of the catalog contract: one catalog factory for either backend (SQLite file, PostgreSQL database).

`open_cat()` opens a new handle on this test's own catalog (so a test can reopen it or open two at once).
PostgreSQL: one fresh database per test module on $ROUTEWATCH_PG_URL, emptied before each test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pg_helpers import create_database, drop_database, wipe

from routewatch.core.catalog import Catalog

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]


@pytest.fixture(scope="module")
def pg_dsn(request) -> Iterator[str]:
    dsn = create_database(Path(str(request.node.path)).stem)
    yield dsn
    drop_database(dsn)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def open_cat(backend, request, tmp_path) -> Iterator[Callable[..., Catalog]]:
    opened: list[Catalog] = []
    dsn = ""
    if backend == "postgresql":
        dsn = request.getfixturevalue("pg_dsn")
        wipe(dsn)

    def open_(**kw) -> Catalog:
        if dsn:
            kw.pop("lock_timeout", None)
            opened.append(Catalog(dsn=dsn, data_dir=tmp_path, **kw))
        else:
            opened.append(Catalog(tmp_path / "catalog.sqlite", **kw))
        return opened[-1]

    open_.dsn = dsn  # type: ignore[attr-defined]
    yield open_
    for c in opened:
        c.close()


@pytest.fixture
def cat(open_cat) -> Catalog:
    return open_cat()
