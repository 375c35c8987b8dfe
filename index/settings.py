"""Settings of the index stage, with their defaults (CONVENTIONS §4)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from routewatch.sections import Section


class IndexSettings(Section):

    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    es_url: str = ""
    es_index: str = Field(default="routewatch-posts", min_length=1)
    snippet_tokens: int = Field(default=16, ge=1, le=1000)
