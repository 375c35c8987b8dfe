"""Fixtures for the index tests: the Elasticsearch node and an index factory for either backend.

The node: $ROUTEWATCH_ES_URL if set (used as is, never stopped), else `scripts/es.sh up` once per
session (stopped at the end if this session started it). A node that does not start fails the run in
CI (CI=true) and skips the Elasticsearch tests elsewhere, with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from index_helpers import EsNode, es_cleanup, es_sh, in_ci

from index.base import Index, IndexDoc
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


class _Opener:
    """Opens handles on one index of either backend (the same storage each call); closes them all."""

    def __init__(self, backend: str, request: pytest.FixtureRequest, path: Path):
        self.backend, self.path, self.opened = backend, path, []
        if backend == "elasticsearch":
            self.url = request.getfixturevalue("es_node").url
            self.name = f"rwtest-{uuid.uuid4().hex[:10]}"

    def __call__(self) -> Index:
        if self.backend == "sqlite":
            from index.sqlite_fts import SqliteIndex

            self.opened.append(SqliteIndex(self.path / "catalog.sqlite"))
        else:
            from index.elastic import ElasticIndex

            self.opened.append(ElasticIndex(IndexSettings(backend="elasticsearch", es_url=self.url, es_index=self.name)))
        return self.opened[-1]

    def close(self) -> None:
        for i in self.opened:
            i.close()
        if self.backend == "elasticsearch":
            es_cleanup(self.url, self.name)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def open_index(backend, request, tmp_path) -> Iterator[Callable[[], Index]]:
    """`open_index()` → a new handle on this test's own index."""
    opener = _Opener(backend, request, tmp_path)
    yield opener
    opener.close()


@pytest.fixture(scope="module", params=BACKENDS)
def shared_index(request, tmp_path_factory) -> Iterator[Callable[[list[IndexDoc]], Index]]:
    """`shared_index(docs)` → one index per module and backend holding `docs`, for tests that only read."""
    opener = _Opener(request.param, request, tmp_path_factory.mktemp("index"))
    built: list[Index] = []

    def get(docs: list[IndexDoc]) -> Index:
        if not built:
            built.append(opener())
            res = built[0].upsert(docs)
            assert (res.indexed, res.failed) == (len(docs), ())
        return built[0]

    yield get
    opener.close()
