"""The web UI and JSON API of RouteWatch (`routewatch serve`).

In: the settings of one data dir.  Out: `create_app(settings)` (a FastAPI app) and `serve(settings,
host, port)`. Read-only over the catalog and index; privacy settings apply to every page and response.
The app is imported on first use, so the privacy policy (`routewatch.web.public`, read by routewatch.view
for every surface) loads without FastAPI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WebSettings", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "serve"):
        from routewatch.web import app

        return getattr(app, name)
    if name == "WebSettings":
        from routewatch.web.settings import WebSettings

        return WebSettings
    raise AttributeError(name)
