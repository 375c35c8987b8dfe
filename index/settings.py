"""Settings of the index stage, with their defaults (CONVENTIONS §4).

In: the `[index]` section (TOML / ROUTEWATCH_INDEX__*).  Out: a frozen `IndexSettings` whose `backend` is a
versioned registry name (`index.build` builds it); the older unversioned names are read as the v1 names.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from routewatch.core.sections import Section

SQLITE, ELASTICSEARCH = "sqlite.v1", "elasticsearch.v1"
# Names written before the registry had versions; they keep meaning what they meant then.
OLD_NAMES = {"sqlite": SQLITE, "elasticsearch": ELASTICSEARCH}


class IndexSettings(Section):

    backend: Literal["sqlite.v1", "elasticsearch.v1"] = SQLITE
    es_url: str = ""
    es_index: str = Field(default="routewatch-posts", min_length=1)
    snippet_tokens: int = Field(default=16, ge=1, le=1000)

    @field_validator("backend", mode="before")
    @classmethod
    def _versioned(cls, v: Any) -> Any:
        return OLD_NAMES.get(v, v) if isinstance(v, str) else v
