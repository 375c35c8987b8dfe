"""The stage contract: what the runner hands a stage and what the stage hands back.

In: settings (the stage reads its own section), the catalog, a progress callback.  Out: a `StageReport`
per stage; a failed item becomes one failure row (with its code) and one `{stage}/failed/{code}` count.
`failpoint` is the fault-injection hook the resilience tests kill a process with.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routewatch.core.catalog import Catalog, now_iso
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.records import Failure

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _noop(stage: str, done: int, total: int) -> None:
    pass


_FAILPOINT_CALLS: dict[tuple[str, str], int] = {}


def failpoint(stage: str, i: int, when: str) -> None:
    """Fault injection for the resilience tests: `ROUTEWATCH_FAILPOINT=stage:N:before|after` sends this
    process SIGKILL at the N-th (from 0) result of the stage in this process, before it is written or
    right after. Unset: no-op."""
    spec = os.environ.get("ROUTEWATCH_FAILPOINT")
    if not spec:
        return
    key = (stage, when)
    seen = _FAILPOINT_CALLS.get(key, 0)
    _FAILPOINT_CALLS[key] = seen + 1
    st, _, rest = spec.partition(":")
    n, _, w = rest.partition(":")
    if st == stage and n.isdigit() and int(n) == seen and (w or "before") == when:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class StageReport:
    stage: str
    done: int = 0
    failed: int = 0
    skipped: int = 0
    reused: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    settings: Any
    catalog: Catalog
    progress: Progress = _noop

    @property
    def data_dir(self) -> Path:
        return Path(self.settings.data_dir)


def fail(ctx: Context, stage: str, item: str, e: BaseException, source: str = "") -> str:
    return record_failure(ctx.catalog, stage, item, e, source)


def record_failure(catalog: Catalog, stage: str, item: str, e: BaseException, source: str = "") -> str:
    """One failed item: its failure row (the code of a RouteWatchError, else the stage's own) and count."""
    if isinstance(e, RouteWatchError):
        code, reason = e.code.value, e.reason
    else:
        code = {"fetch": Code.E203, "transcribe": Code.E302, "ocr": Code.E707, "extract": Code.E401,
                "index": Code.E501}.get(
            stage, Code.E101).value
        reason = f"{type(e).__name__}: {e}"
    catalog.record_failure(Failure(stage, item, code, reason, now_iso()), source=source)
    return code
