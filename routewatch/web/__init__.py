"""The web UI and JSON API of RouteWatch (`routewatch serve`).

In: the settings of one data dir.  Out: `create_app(settings)` (a FastAPI app) and `serve(settings,
host, port)`. Read-only over the catalog and index; privacy settings apply to every page and response.
"""

from __future__ import annotations

from routewatch.web.app import create_app, serve
from routewatch.web.settings import WebSettings

__all__ = ["WebSettings", "create_app", "serve"]
