"""The `[distributed]` section: scheduled monitoring and the worker's heartbeat / stalled-job thresholds.

In: `routewatch.toml` / `ROUTEWATCH_DISTRIBUTED__*`.  Out: `DistributedSettings` (seconds so tests can use small
values; procrastinate's own defaults are 10 s heartbeat, 30 s stalled).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from routewatch.core.sections import Section


class DistributedSettings(Section):
    every_minutes: int = Field(default=0, ge=0, le=1440)  # crawl every source every N minutes (0 = not scheduled);
    # a cron step: below 60, or whole hours
    heartbeat_seconds: float = Field(default=10.0, gt=0, le=3600)  # a worker's heartbeat interval
    stalled_seconds: float = Field(default=30.0, gt=0, le=86400)  # no heartbeat for this long = a dead worker
    stall_check_seconds: float = Field(default=15.0, gt=0, le=3600)  # how often a worker retries dead workers' jobs
    reconcile_minutes: int = Field(default=1, ge=1, le=60)  # how often pending catalog items are enqueued again
    transcribe_wait_seconds: float = Field(default=2.0, gt=0, le=600)  # held-back transcription is planned again in
    transcribe_gate_seconds: float = Field(default=0.0, ge=0, le=86400)  # a chunk waits this long for earlier
    # posts before it saves a transcript, then fails (E973) and is retried; 0 = 10 × stalled_seconds

    def gate_seconds(self) -> float:
        """How long a transcription chunk waits for earlier posts' statuses (ordered save) before E973."""
        return self.transcribe_gate_seconds or 10 * self.stalled_seconds

    @field_validator("every_minutes")
    @classmethod
    def _a_cron_step(cls, n: int) -> int:
        if n >= 60 and n % 60:
            raise ValueError("every_minutes: below 60, or a whole number of hours (60, 120, ... 1440)")
        return n

    def every_cron(self) -> str:
        """The periodic monitoring's cron: every N minutes, or every N/60 hours on the hour."""
        n = self.every_minutes
        return f"*/{n} * * * *" if n < 60 else ("0 0 * * *" if n == 1440 else f"0 */{n // 60} * * *")
