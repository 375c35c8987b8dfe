"""`routewatch worker`: a procrastinate worker on the catalog's PostgreSQL, plus the dead-workers' sweep.

In: the settings (`[distributed]` thresholds), the queues to serve, the concurrency.  Out: jobs run until
SIGINT/SIGTERM. Beside the worker, every `stall_check_seconds` the jobs of workers silent for `stalled_seconds`
(procrastinate's heartbeat) go back to their queue (`retry_job`); a retried job redoes only what its posts still
lack in the catalog.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from procrastinate import exceptions as pexc
from procrastinate.jobs import Status

from routewatch.distributed.tasks import Pipeline, open_pipeline

log = logging.getLogger("routewatch.worker")


async def retry_stalled(p: Pipeline) -> list[int]:
    """Put the running jobs of dead workers (no heartbeat for `stalled_seconds`) back in their queues."""
    d = p.rt.settings.distributed
    jm = p.app.job_manager
    await jm.prune_stalled_workers(d.stalled_seconds)
    ids = []
    for job in await jm.get_stalled_jobs(seconds_since_heartbeat=d.stalled_seconds):
        try:
            await jm.retry_job(job)
        except pexc.UniqueViolation:
            # the same key (stage and post, or the transcription batch) waits in its queue again: that job does
            # the work (every door takes only what is still pending), so the dead one is closed as aborted
            await jm.finish_job_by_id_async(int(job.id or 0), Status.ABORTED, delete_job=False)
            log.warning("job %s of a stalled worker superseded by a waiting job %s", job.id, job.queueing_lock)
            continue
        ids.append(int(job.id or 0))
    if ids:
        log.warning("retried jobs of stalled workers: %s", ids)
    return ids


async def _sweep(p: Pipeline) -> None:
    while True:
        try:
            await retry_stalled(p)
        except Exception:  # noqa: BLE001 - the sweep must outlive a lost connection
            log.exception("stalled-job sweep failed")
        await asyncio.sleep(p.rt.settings.distributed.stall_check_seconds)


async def _run(p: Pipeline, queues: list[str] | None, concurrency: int, name: str) -> None:
    d = p.rt.settings.distributed
    async with p.app.open_async():
        sweep = asyncio.create_task(_sweep(p))
        try:
            await p.app.run_worker_async(queues=queues, concurrency=concurrency, name=name,
                                         update_heartbeat_interval=d.heartbeat_seconds,
                                         stalled_worker_timeout=d.stalled_seconds)
        finally:
            sweep.cancel()


def run_worker(settings: Any, config: Path | None, queues: list[str] | None, concurrency: int, name: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    p = open_pipeline(settings, config)
    asyncio.run(_run(p, queues, concurrency, name))
