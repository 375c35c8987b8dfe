"""Distributed mode on the demo corpus: wall time with 1 and 2 `routewatch worker` processes, per-stage split.

In: a PostgreSQL server (the catalog's, else $ROUTEWATCH_PG_URL) and Elasticsearch.  Out: per worker count the
wall seconds of `run --wait`, the CPU seconds of the workers, and per queue the jobs and the seconds they ran
(procrastinate's started → succeeded events). Each count gets a fresh database and index, dropped afterwards.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from routewatch.bench.common import Progress, _noop
from routewatch.core.pgdb import create_database, drop_database, job_seconds_by_queue
from routewatch.demo.server import DEMO_BASE, DemoServer

SOURCES = (("telegram:zouxian_notes", "https://t.me/s/zouxian_notes"), ("telegram:ruta_norte", "https://t.me/s/ruta_norte"),
           ("feed:demo", f"{DEMO_BASE}/feed.xml"), ("seeds:demo", f"{DEMO_BASE}/seeds.txt"))


def _config(path: Path, server: DemoServer) -> Path:
    body = (f'[crawl]\nallow_hosts = ["{server.hostport}"]\n[crawl.origins]\ntelegram = "{server.origin}"\n'
            f'demo = "{server.origin}"\n')
    body += "".join(f'[[sources]]\nname = "{n}"\nurls = ["{u}"]\n' for n, u in SOURCES)
    path.write_text(body, encoding="utf-8")
    return path


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _one(n: int, pg_url: str, es_url: str, work: Path, server: DemoServer) -> dict[str, Any]:
    db = f"rwbench_{uuid.uuid4().hex[:10]}"
    dsn, index = create_database(pg_url, db), f"rwbench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "ROUTEWATCH_CATALOG_URL": dsn, "ROUTEWATCH_INDEX_BACKEND": "elasticsearch",
           "ROUTEWATCH_ES_URL": es_url, "ROUTEWATCH_INDEX__ES_INDEX": index}
    data, cfg = work / f"w{n}" / "data", _config(work / f"w{n}.toml", server)
    data.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "routewatch"]
    workers: list[subprocess.Popen] = []
    try:
        cpu0 = _children_cpu()
        t0 = time.monotonic()
        workers = [subprocess.Popen([*cli, "worker", "--config", str(cfg), "--data-dir", str(data)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]
        cp = subprocess.run([*cli, "run", "--config", str(cfg), "--data-dir", str(data), "--json", "--wait", "3600"],
                            env=env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - t0
        if cp.returncode != 0:
            raise RuntimeError(f"run --wait exited {cp.returncode}: {cp.stderr[-400:]}")
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(60)
        return {"workers": n, "wall_seconds": round(wall, 1), "cpu_seconds": round(_children_cpu() - cpu0, 1),
                "queues": job_seconds_by_queue(dsn), "result": json.loads(cp.stdout).get("queues", {})}
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(10)
        drop_database(pg_url, db)
        _drop_index(es_url, index)


def _drop_index(es_url: str, name: str) -> None:
    from elasticsearch import Elasticsearch

    client = Elasticsearch(es_url, request_timeout=30)
    try:
        client.indices.delete(index=f"{name}-0*", ignore_unavailable=True, allow_no_indices=True)
        client.options(ignore_status=404).indices.delete_index_template(name=f"{name}-template")
    finally:
        client.close()


def bench_workers(pg_url: str, es_url: str, work: Path, counts: tuple[int, ...] = (1, 2),
                  progress: Progress = _noop) -> dict[str, Any]:
    """The demo pipeline on `counts` workers each (same demo platform, a fresh database per count)."""
    out: dict[str, Any] = {"runs": [], "note": "wall = `run --wait` from enqueue to empty queues; cpu = the "
                           "workers' and their children's CPU; queue seconds = jobs' run time summed"}
    with DemoServer() as server:
        for i, n in enumerate(counts):
            progress("workers", i, len(counts))
            out["runs"].append(_one(n, pg_url, es_url, work, server))
        progress("workers", len(counts), len(counts))
    base = out["runs"][0]["wall_seconds"]
    for r in out["runs"]:
        r["speedup"] = round(base / r["wall_seconds"], 2) if r["wall_seconds"] else None
    return out
