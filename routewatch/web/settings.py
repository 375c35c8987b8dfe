"""Settings of the web UI and JSON API, with their defaults (CONVENTIONS §4).

In: the `[web]` section of routewatch.toml / `ROUTEWATCH_WEB__*` environment.  Out: a frozen
`WebSettings`. Never holds secrets (the pseudonym key lives in the data dir, routewatch.core.privacy).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from routewatch.core.sections import Section


class WebSettings(Section):

    # Token bucket per client IP over every API call and page (not static files); 0 turns it off.
    rate_limit_per_minute: int = Field(default=600, ge=0)
    # Server processes of `routewatch serve` (uvicorn workers). One is plenty for one researcher; on a
    # shared server use the number of cores. Each process keeps its own rate-limit buckets, so each
    # enforces an equal share of rate_limit_per_minute and no client exceeds the setting overall.
    workers: int = Field(default=1, ge=1, le=64)
    # Honour X-Forwarded-For for the client IP only behind a reverse proxy you run.
    trust_forwarded_for: bool = False
    page_size: int = Field(default=20, ge=1, le=200)
    max_page_size: int = Field(default=200, ge=1, le=1000)
    # Texts longer than this are cut on pages and in API responses (the evidence bundle keeps them whole).
    max_text_chars: int = Field(default=20000, ge=200)
    # Only redacted (pseudonymised) URLs are shown; link out to the original when it is unchanged.
    link_original_urls: bool = True


def web_settings(settings: Any) -> WebSettings:
    """The `[web]` section of the whole settings, or its defaults when they have none."""
    w = getattr(settings, "web", None)
    if isinstance(w, WebSettings):
        return w
    if w is not None and hasattr(w, "model_dump"):
        return WebSettings(**{k: v for k, v in w.model_dump().items() if k in WebSettings.model_fields})
    return WebSettings()
