"""Settings of saved-search alerts, with their defaults (CONVENTIONS §4).

In: the `[alerts]` section of routewatch.toml / `ROUTEWATCH_ALERTS__*` environment.  Out: a frozen
`AlertSettings` that routewatch.alerts reads for its webhook POSTs. Webhook URLs themselves are stored per
saved search in the catalog (`routewatch saved add … --webhook URL`), never here.
"""

from __future__ import annotations

from pydantic import Field

from routewatch.core.sections import Section


class AlertSettings(Section):
    # A webhook POST is tried this many times (a connection error, a time-out, HTTP 429 or 5xx is retried),
    # waiting webhook_wait, then twice that, … (at most 8 s) between tries; then the alerts wait for the next run.
    webhook_attempts: int = Field(default=4, ge=1, le=10)
    webhook_timeout: float = Field(default=10.0, gt=0, le=120)
    webhook_wait: float = Field(default=0.5, ge=0, le=60)
