"""The configured index, by versioned name (CONVENTIONS §3): the index stage's loader.

In: the index's own settings section (`IndexSettings`), the catalog path and the facts threshold the aggregates
use (`extract.aggregate_min_confidence`, passed in by the surface).  Out: an open `Index`. Imports the backends so they register in `routewatch.core.registry.indexes`; `index.base` (the door
the backends implement) imports none of them. Never creates or migrates an index when `read_only`.
"""

from __future__ import annotations

from pathlib import Path

import index.sqlite_fts  # noqa: F401 - registers sqlite.v1
from index.base import DEFAULT_MIN_CONFIDENCE, Index
from index.settings import ELASTICSEARCH, IndexSettings
from routewatch.core.registry import indexes, lookup


def _register_elasticsearch() -> None:
    # The Elasticsearch client takes 0.4-0.9 s to import: elasticsearch.v1 registers when it is configured.
    import index.elastic  # noqa: F401


def build_index(index: IndexSettings, catalog_path: Path | str, *, read_only: bool = False,
                min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> Index:
    """The configured backend. Readers (search, trends, web) pass read_only=True: they never create or
    migrate an index. `min_confidence`: the facts the index keeps ready (its default threshold), those the
    aggregates count. An unregistered name is E902 (settings already refuse one with E917)."""
    name = index.backend
    if name == ELASTICSEARCH and name not in indexes:
        _register_elasticsearch()
    factory = lookup(indexes, name, "index backend")
    return factory(index, catalog_path, read_only=read_only, min_confidence=float(min_confidence))
