"""The configured index, by versioned name (CONVENTIONS §3): the index stage's loader.

In: the settings (`index.backend`, `extract.aggregate_min_confidence`) and the catalog path.  Out: an open
`Index`. Imports the backends so they register in `routewatch.core.registry.indexes`; `index.base` (the door
the backends implement) imports none of them. Never creates or migrates an index when `read_only`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import index.sqlite_fts  # noqa: F401 - registers sqlite.v1
from index.base import DEFAULT_MIN_CONFIDENCE, Index
from index.settings import ELASTICSEARCH
from routewatch.core.registry import indexes, lookup


def _register_elasticsearch() -> None:
    # The Elasticsearch client takes 0.4-0.9 s to import: elasticsearch.v1 registers when it is configured.
    import index.elastic  # noqa: F401


def build_index(settings: Any, catalog_path: Path | str, *, read_only: bool = False) -> Index:
    """The configured backend. Readers (search, trends, web) pass read_only=True: they never create or
    migrate an index. An unregistered name is E902 (settings already refuse one with E917)."""
    name = settings.index.backend
    if name == ELASTICSEARCH and name not in indexes:
        _register_elasticsearch()
    # the facts the index keeps ready (its default threshold) are those the aggregates count
    extract = getattr(settings, "extract", None)
    conf = float(getattr(extract, "aggregate_min_confidence", DEFAULT_MIN_CONFIDENCE))
    factory = lookup(indexes, name, "index backend")
    return factory(settings.index, catalog_path, read_only=read_only, min_confidence=conf)
