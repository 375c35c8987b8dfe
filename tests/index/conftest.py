"""Fixtures for the index tests: the Elasticsearch node and an index factory for either backend.

The node: $ROUTEWATCH_ES_URL if set (used as is, never stopped), else `scripts/es.sh up` once per
session (stopped at the end if this session started it). A node that does not start fails the run in
CI (CI=true) and skips the Elasticsearch tests elsewhere, with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from index_helpers import EsNode, es_cleanup, es_sh, in_ci

from index.base import Index
from index.settings import IndexSettings

BACKENDS = ["sqlite", pytest.param("elasticsearch", marks=pytest.mark.es)]


@pytest.fixture(scope="session")
def es_node() -> Iterator[EsNode]:
    url = os.environ.get("ROUTEWATCH_ES_URL", "").strip()
    if url:
        yield EsNode(url=url, managed=False)
        return
    was_up = es_sh("status", timeout=60).returncode == 0
    cp = es_sh("up")
    lines = cp.stdout.strip().splitlines()
    if cp.returncode != 0 or not lines:
        reason = (f"Elasticsearch test node did not start (scripts/es.sh up exited {cp.returncode}): "
                  f"{cp.stderr.strip()[-1500:]}")
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    node = EsNode(url=lines[-1], managed=True, started_here=not was_up)
    yield node
    if node.started_here:
        es_sh("down", timeout=120)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def open_index(backend, request, tmp_path) -> Iterator[Callable[[], Index]]:
    """`open_index()` → a new handle on this test's index (the same storage each call)."""
    opened: list[Index] = []
    if backend == "sqlite":
        from index.sqlite_fts import SqliteIndex

        def factory() -> Index:
            opened.append(SqliteIndex(tmp_path / "catalog.sqlite"))
            return opened[-1]
    else:
        from index.elastic import ElasticIndex

        node = request.getfixturevalue("es_node")
        name = f"rwtest-{uuid.uuid4().hex[:10]}"
        settings = IndexSettings(backend="elasticsearch", es_url=node.url, es_index=name)

        def factory() -> Index:
            opened.append(ElasticIndex(settings))
            return opened[-1]
    yield factory
    for i in opened:
        i.close()
    if backend == "elasticsearch":
        es_cleanup(node.url, name)
