"""The index backend is chosen by versioned name in one registry (routewatch.core.registry.indexes).

Old configs (`backend = "sqlite"` / `"elasticsearch"`) keep working and are read as the v1 names; a name no
backend registered is E917 from the settings and E902 from `build_index`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from index.build import build_index
from index.settings import ELASTICSEARCH, OLD_NAMES, SQLITE, IndexSettings
from routewatch.core.errors import NotConfigured
from routewatch.core.registry import indexes, names


def test_old_names_read_as_the_v1_names() -> None:
    assert OLD_NAMES == {"sqlite": "sqlite.v1", "elasticsearch": "elasticsearch.v1"}
    assert IndexSettings(backend="sqlite").backend == "sqlite.v1"
    assert IndexSettings(backend="elasticsearch").backend == "elasticsearch.v1"
    assert IndexSettings(backend="elasticsearch.v1").backend == "elasticsearch.v1"
    assert IndexSettings().backend == SQLITE


def test_the_settings_accept_exactly_the_registered_backends() -> None:
    import index.elastic  # noqa: F401 - the loader registers it only when it is configured

    assert names(indexes) == sorted(get_args(IndexSettings.model_fields["backend"].annotation)) == \
        [ELASTICSEARCH, SQLITE]


def test_sqlite_by_its_old_name(tmp_path: Path) -> None:
    idx = build_index(IndexSettings(backend="sqlite"), tmp_path / "catalog.sqlite")
    try:
        assert (idx.name, type(idx).__name__, idx.count()) == ("sqlite.v1", "SqliteIndex", 0)
    finally:
        idx.close()
    assert (tmp_path / "catalog.sqlite").exists()


def test_an_unregistered_name_is_E902(tmp_path: Path) -> None:
    with pytest.raises(NotConfigured) as ei:
        build_index(IndexSettings.model_construct(backend="sqlite.v9"), tmp_path / "catalog.sqlite")
    assert ei.value.code.value == "E902"
    assert ei.value.reason.startswith("unknown index backend 'sqlite.v9'; choose one of ")
    assert "sqlite.v1" in ei.value.reason
    assert not (tmp_path / "catalog.sqlite").exists()


def test_the_elasticsearch_client_loads_only_when_configured() -> None:
    code = "import sys, index.build; print('elasticsearch' in sys.modules, 'index.elastic' in sys.modules)"
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert cp.stdout.split() == ["False", "False"]
