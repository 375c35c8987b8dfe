"""Settings of the index stage, with their defaults (CONVENTIONS §4)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class IndexSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    es_url: str = ""
    es_index: str = "routewatch-posts"
    snippet_tokens: int = 16
