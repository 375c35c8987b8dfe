"""The pipeline as procrastinate tasks: one queue per stage, each job one post (transcription: a chunk of posts).

In: the settings (a PostgreSQL catalog) and, in a worker, the `--config` it was started with.  Out: a
procrastinate `App` whose tasks call the stage doors with an explicit `only=[ids]` and then enqueue the next
stage each post needs (`advance`), after the catalog commit; `reconcile` (a periodic task, and `run`) enqueues
every post still pending, so a crash between a commit and its enqueue loses nothing. Queueing locks
(`{stage}:{id}`) keep one waiting job per post and stage. Transcription chunks run in parallel on any number
of workers; each saves a new transcript only once every earlier post is transcribed (`ordered_gate`).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import procrastinate
from procrastinate import exceptions as pexc

from routewatch import pipeline
from routewatch.core.catalog import Catalog, open_catalog
from routewatch.core.catalog_url import parse_catalog_url
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.pgdb import apply_schema_once, transcribe_chunking
from routewatch.core.stage import Context
from transcribe.build import build_transcriber

QUEUES = ("crawl", "fetch", "transcribe", "ocr", "extract", "index")
PLAN = "plan"  # the transcription queue's planning job: chunks posts held back until earlier ones are fetched
GATE_POLL_SECONDS = 0.5


class GateTimeoutError(RouteWatchError):
    """E973: a chunk waited `distributed.gate_seconds()` for earlier posts; procrastinate retries the job."""


@dataclass
class Runtime:
    """What every task of this process reads: the settings and the config file a crawl child is given."""

    settings: Any
    config: Path | None = None


def catalog_dsn(settings: Any) -> str:
    """The PostgreSQL DSN of the catalog; E970 on an SQLite catalog (distributed mode needs PostgreSQL)."""
    target = parse_catalog_url(settings.catalog.url, settings.data_dir)
    if target.backend != "postgresql":
        raise RouteWatchError(Code.E970, "distributed mode needs a PostgreSQL catalog: set catalog.url = "
                              "\"postgresql://...\" (ROUTEWATCH_CATALOG_URL); an SQLite catalog runs `routewatch run` "
                              "in one process")
    return target.dsn


def next_stages(cat: Catalog, ocr_on: bool, only: Sequence[str] | None = None,
                after: str | None = None) -> dict[str, list[str]]:
    """Per stage, the posts (of `only`, else all) whose first stage still to run is that one, in the
    single-process order fetch → transcribe → ocr → extract → index; `after`: only stages after this one."""
    pend = {
        "fetch": cat.pending("fetch", after="crawl", only=only),
        "transcribe": cat.pending("transcribe", after="fetch", only=only),
        "ocr": cat.pending("ocr", after="fetch", only=only) if ocr_on else [],
        "extract": cat.pending("extract", after="crawl", only=only),
        "index": cat.pending("index", after="extract", after_status=("done", "failed", "skipped"), only=only),
    }
    order = list(pend)
    if after in order:
        order = order[order.index(after) + 1:]
    sets = {st: set(pend[st]) for st in order}
    out: dict[str, list[str]] = {st: [] for st in order}
    seen: set[str] = set()
    for st in order:
        for pid in pend[st]:
            if pid in seen:
                continue
            first = next(s for s in order if pid in sets[s])
            out[first].append(pid)
            seen.add(pid)
    return out


class Pipeline:
    """The app and its tasks, bound to one process's settings."""

    def __init__(self, runtime: Runtime):
        self.rt = runtime
        s = runtime.settings
        # Loaded models kept across transcription jobs of this process (a chunk is often 1-3 posts: loading the
        # model for each would cost more than transcribing them); one per job running at once.
        self._transcribers: list[Any] = []
        self._transcribers_lock = threading.Lock()
        self.dsn = catalog_dsn(s)
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self.dsn))
        d = s.distributed
        task = self.app.task
        self.crawl = task(name="rw.crawl", queue="crawl")(self._crawl)
        self.fetch = task(name="rw.fetch", queue="fetch")(self._fetch)
        self.transcribe = task(name="rw.transcribe", queue="transcribe", retry=procrastinate.RetryStrategy(
            max_attempts=50, wait=int(max(1, d.transcribe_wait_seconds)), retry_exceptions={GateTimeoutError}))(
            self._transcribe)
        self.ocr = task(name="rw.ocr", queue="ocr")(self._ocr)
        self.extract = task(name="rw.extract", queue="extract")(self._extract)
        self.index = task(name="rw.index", queue="index")(self._index)
        self.app.periodic(cron=f"*/{d.reconcile_minutes} * * * *", periodic_id="reconcile")(
            task(name="rw.reconcile", queue="crawl")(self._reconcile_periodic))
        if d.every_minutes:
            self.app.periodic(cron=d.every_cron(), periodic_id="monitor")(
                task(name="rw.monitor", queue="crawl")(self._monitor_periodic))

    # ---- helpers ------------------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        s = self.rt.settings
        return open_catalog(s.data_dir, url=s.catalog.url)

    def defer(self, stage: str, key: str, **kwargs: Any) -> bool:
        """One job for (stage, key) while it waits: a second defer of the same key is swallowed (False)."""
        task = {"crawl": self.crawl, "fetch": self.fetch, "transcribe": self.transcribe, "ocr": self.ocr,
                "extract": self.extract, "index": self.index}[stage]
        opts: dict[str, Any] = {"queueing_lock": f"{stage}:{key}"}
        if kwargs.pop("later", False):
            opts["schedule_in"] = {"seconds": self.rt.settings.distributed.transcribe_wait_seconds}
        try:
            task.configure(**opts).defer(**kwargs)
        except pexc.AlreadyEnqueued:
            return False
        return True

    def advance(self, cat: Catalog, ids: Sequence[str] | None, after: str | None = None,
                plan: bool = True) -> dict[str, int]:
        """Enqueue the next stage each post of `ids` (None: every post) needs; returns counts per stage
        (transcription: the chunks planned; `plan=False` leaves that to the caller)."""
        counts: dict[str, int] = {}
        for stage, pids in next_stages(cat, self.rt.settings.ocr.enabled, ids, after).items():
            if stage == "transcribe":
                counts[stage] = self.plan_transcription(cat) if pids and plan else 0
                continue
            counts[stage] = sum(self.defer(stage, pid, post_id=pid) for pid in pids)
        return counts

    def _ctx(self, cat: Catalog) -> Context:
        return Context(settings=self.rt.settings, catalog=cat)

    # ---- tasks --------------------------------------------------------------------------------------
    def _crawl(self, source: str) -> None:
        """One configured source, crawled in a child process (scrapy's reactor runs once per process)."""
        s = self.rt.settings
        cmd = [sys.executable, "-m", "routewatch", "crawl", "--source", source, "--json", "--data-dir", str(s.data_dir)]
        if self.rt.config is not None:
            cmd += ["--config", str(self.rt.config)]
        cp = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - our own CLI
        with self.catalog() as cat:
            self.advance(cat, None)
        if cp.returncode != 0:
            raise RouteWatchError(Code.E971, f"crawl of {source!r} exited {cp.returncode}: {cp.stderr[-500:]}")

    def _fetch(self, post_id: str) -> None:
        with self.catalog() as cat:
            pipeline.stage_fetch(self._ctx(cat), only=[post_id])
            self.advance(cat, [post_id], after="fetch", plan=False)
            if cat.pending("transcribe", after="fetch"):  # this post, or posts held back for it, may go now
                self.plan_transcription(cat)

    def ready_for_transcription(self, cat: Catalog) -> list[str]:
        """Posts pending transcription with every earlier post (catalog order) fetched, none being crawled:
        copies of one audio then reuse the first one's transcript as the single-process run does."""
        if self._busy("crawl"):
            return []
        unfetched = set(cat.pending("fetch", after="crawl"))
        ready = set(cat.pending("transcribe", after="fetch"))
        out: list[str] = []
        for pid in cat.pending("transcribe"):  # every post without a transcription status, in catalog order
            if pid in unfetched:
                break
            if pid in ready:
                out.append(pid)
        return out

    def _busy(self, queue: str) -> bool:
        return any(q["todo"] + q["doing"] for q in self.app.job_manager.list_queues(queue=queue)
                   if q["name"] == queue)

    def plan_transcription(self, cat: Catalog) -> int:
        """Split the posts ready for transcription that no waiting or running chunk holds into chunks of
        `transcribe.batch_size` (one job each, key `transcribe:{first post}`), under an advisory lock so two
        processes never chunk one post twice; posts held back re-plan after `transcribe_wait_seconds`.
        Returns the chunks deferred."""
        size = self.rt.settings.transcribe.batch_size
        made = 0
        with transcribe_chunking(self.dsn) as taken:
            ready = [pid for pid in self.ready_for_transcription(cat) if pid not in taken]
            for i in range(0, len(ready), size):
                chunk = ready[i:i + size]
                made += self.defer("transcribe", chunk[0], post_ids=chunk)
            held = set(cat.pending("transcribe", after="fetch")) - taken - set(ready)
        if held:  # an earlier post is not fetched yet, or a crawl still runs
            self.defer("transcribe", PLAN, later=True)
        return made

    def ordered_gate(self, cat: Catalog, own: Sequence[str]) -> Callable[[str], None]:
        """The stage's `gate`: returns once every post before `pid` (catalog order) that is fetched, still
        without a transcription status and not in this chunk has one — other workers' chunks; E973
        (`GateTimeoutError`, retried) after `distributed.gate_seconds()`."""
        mine = set(own)
        limit = self.rt.settings.distributed.gate_seconds()

        def gate(pid: str) -> None:
            deadline = time.monotonic() + limit
            while True:
                order = cat.pending("transcribe")  # every post without a transcription status, catalog order
                if pid not in order:  # it has a status already (a retried chunk): nothing to order it after
                    return
                earlier = order[:order.index(pid)]
                if not earlier:
                    return
                waiting = set(cat.pending("transcribe", after="fetch", only=earlier)) - mine
                if not waiting:
                    return
                if time.monotonic() >= deadline:
                    raise GateTimeoutError(Code.E973, f"post {pid}: {len(waiting)} earlier post(s) still untranscribed "
                                      f"after {limit:g} s (e.g. {min(waiting)}); the chunk is retried")
                time.sleep(GATE_POLL_SECONDS)
        return gate

    def _transcribe(self, post_ids: list[str] | None = None) -> None:
        """A chunk (`post_ids`): its model runs in parallel with other chunks, its saves in catalog order;
        without ids the planning job (posts held back)."""
        with self.catalog() as cat:
            if post_ids:
                transcriber = self._take_transcriber()
                try:
                    pipeline.stage_transcribe(self._ctx(cat), only=list(post_ids), gate=self.ordered_gate(cat, post_ids),
                                              transcriber=transcriber)
                finally:
                    if transcriber is not None:
                        with self._transcribers_lock:
                            self._transcribers.append(transcriber)
                self.advance(cat, post_ids, after="transcribe")
            self.plan_transcription(cat)

    def _take_transcriber(self) -> Any:
        """A model loaded by an earlier job of this process, else a new one (None when it cannot be built: the
        stage then records why for each post, as it does alone)."""
        with self._transcribers_lock:
            if self._transcribers:
                return self._transcribers.pop()
        try:
            return build_transcriber(self.rt.settings.transcribe)
        except RouteWatchError:
            return None

    def _ocr(self, post_id: str) -> None:
        with self.catalog() as cat:
            if self.rt.settings.ocr.enabled:
                pipeline.stage_ocr(self._ctx(cat), only=[post_id])
            self.advance(cat, [post_id], after="ocr")

    def _extract(self, post_id: str) -> None:
        with self.catalog() as cat:
            pipeline.stage_extract(self._ctx(cat), only=[post_id])
            self.advance(cat, [post_id], after="extract")

    def _index(self, post_id: str) -> None:
        with self.catalog() as cat:
            pipeline.stage_index(self._ctx(cat), only=[post_id])

    def _reconcile_periodic(self, timestamp: int) -> None:
        with self.catalog() as cat:
            self.advance(cat, None)

    def _monitor_periodic(self, timestamp: int) -> None:
        self.enqueue_sources(None)

    # ---- what `routewatch run` does -----------------------------------------------------------------
    def enqueue_sources(self, source: str | None) -> list[str]:
        """A crawl job per enabled configured source (or the one named); returns the sources enqueued."""
        names = [c.name for c in self.rt.settings.sources if c.enabled and (source is None or c.name == source)]
        if source is not None and not names:
            raise RouteWatchError(Code.E903, f"no enabled source named {source!r}")
        return [n for n in names if self.defer("crawl", n, source=n)]


def open_pipeline(settings: Any, config: Path | None = None) -> Pipeline:
    """The app of these settings, its schema applied once (idempotent: skipped when the tables exist)."""
    p = Pipeline(Runtime(settings, config))
    apply_schema(p.dsn, p.app)
    return p


def apply_schema(dsn: str, app: procrastinate.App) -> None:
    """procrastinate's tables, created once per database (idempotent; the catalog's migrations are apart)."""
    apply_schema_once(dsn, app.schema_manager.get_schema(), "procrastinate_jobs")


def queue_names(queues: Iterable[str] | None) -> list[str] | None:
    """`--queues transcribe,ocr` → the stage queues named (E902 for another name); None = every queue."""
    if queues is None:
        return None
    names = [q.strip() for q in queues if q.strip()]
    bad = [q for q in names if q not in QUEUES]
    if bad:
        raise RouteWatchError(Code.E902, f"unknown queue {bad[0]!r} (queues: {', '.join(QUEUES)})")
    return names
