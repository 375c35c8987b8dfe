"""What `run` and `status` do on a PostgreSQL catalog: enqueue the sources, wait for the queues, show them.

In: an open `Pipeline` (routewatch/distributed/tasks.py).  Out: the sources enqueued; `wait_idle` returns when
no job waits or runs and no post is pending a stage; `queue_status` is the `queues` / `workers` part of
`status --json` (per queue: pending, running, failed, stalled; per worker: id, last heartbeat).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from routewatch.core.pgdb import queue_workers
from routewatch.distributed.tasks import QUEUES, Pipeline, next_stages


def queue_status(p: Pipeline) -> dict[str, Any]:
    d = p.rt.settings.distributed
    jm = p.app.job_manager
    rows = {q["name"]: q for q in jm.list_queues()}
    stalled: dict[str, int] = {}
    workers = queue_workers(p.dsn)
    alive = {w["id"] for w in workers if w["seconds_ago"] <= d.stalled_seconds}
    for job in jm.list_jobs(status="doing"):
        if job.worker_id is None or job.worker_id not in alive:  # type: ignore[attr-defined]
            stalled[job.queue] = stalled.get(job.queue, 0) + 1
    queues = {}
    for name in [*QUEUES, *sorted(set(rows) - set(QUEUES))]:
        q = rows.get(name, {})
        queues[name] = {"pending": q.get("todo", 0), "running": q.get("doing", 0), "failed": q.get("failed", 0),
                        "stalled": stalled.get(name, 0), "succeeded": q.get("succeeded", 0)}
    return {"queues": queues, "workers": [{**w, "alive": w["id"] in alive} for w in workers]}


def pending_posts(p: Pipeline) -> dict[str, int]:
    with p.catalog() as cat:
        return {st: len(ids) for st, ids in next_stages(cat, p.rt.settings.ocr.enabled).items()}


def wait_idle(p: Pipeline, say: Callable[[str], None], poll: float = 1.0, settle: int = 2) -> dict[str, Any]:
    """Until every queue is empty and nothing is pending (seen `settle` polls in a row); a progress line per poll."""
    quiet = 0
    while True:
        st = queue_status(p)["queues"]
        pend = pending_posts(p)
        busy = {q: v["pending"] + v["running"] for q, v in st.items() if v["pending"] + v["running"]}
        say("queues " + (" ".join(f"{q}:{n}" for q, n in busy.items()) or "empty") + " · pending posts "
            + (" ".join(f"{s}:{n}" for s, n in pend.items() if n) or "none"))
        quiet = quiet + 1 if not busy and not any(pend.values()) else 0
        if quiet >= settle:
            return st
        time.sleep(poll)
