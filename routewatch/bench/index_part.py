"""Part 3: SQLite and Elasticsearch indexing speed and search / trend latency at 10k-1M posts."""


import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.base import Index, IndexDoc
from routewatch.bench.common import INDEX_BATCH, SEED, Progress, _lat, _noop, percentile
from routewatch.bench.synthetic import _describe, search_queries, synthetic_docs, trend_queries


def _timed(idx: Index, fn: Callable[[], Any], timeout_s: float) -> tuple[float, bool, Any, float]:
    """(ms, timed out?, result, CPU ms of this thread). A SQLite query past `timeout_s` is interrupted and
    counted at the cap. The CPU time is the client's: SQLite's whole work, only the client side of Elasticsearch."""
    from routewatch.core.errors import RouteWatchError

    db = getattr(idx, "db", None)
    timer = threading.Timer(timeout_s, db.interrupt) if isinstance(db, sqlite3.Connection) else None
    t, c = time.perf_counter(), time.thread_time()
    if timer:
        timer.start()
    try:
        res, out = fn(), False
    except (RouteWatchError, sqlite3.OperationalError) as e:
        if "interrupt" not in str(e).lower():
            raise
        res, out = None, True
    finally:
        if timer:
            timer.cancel()
    ms, cpu_ms = (time.perf_counter() - t) * 1000, (time.thread_time() - c) * 1000
    return (max(ms, timeout_s * 1000) if out else ms), out, res, cpu_ms


def measure_queries(idx: Index, *, repeats: int, timeout_s: float = 10.0, slow_ms: float = 1000.0) -> dict[str, Any]:
    """p50/p95 of the search mix and of the weekly trends (wall ms, and CPU ms of the calling thread beside
    them: the machine is shared). Each query runs once to warm up, then `repeats` times; one slower than
    `slow_ms` (or cut at `timeout_s`) is not repeated: its warm-up time stands for each repeat."""
    jobs: list[tuple[str, str, Callable[[], Any]]] = []
    for kind, q in search_queries():
        jobs.append((kind, _describe(q), lambda q=q: idx.search(q)))
    for f, by, q in trend_queries():
        jobs.append((f"trend_{f}", f"{f} by {by}" + (f" ({_describe(q)})" if q else ""),
                     lambda f=f, by=by, q=q: idx.trends(f, by, q)))
    per_kind: dict[str, list[float]] = {}
    cpu_kind: dict[str, list[float]] = {}
    wall: dict[str, list[float]] = {"search": [], "trend_week": []}
    cpu: dict[str, list[float]] = {"search": [], "trend_week": []}
    detail = []
    for kind, desc, fn in jobs:
        ms, out, res, cpu_ms = _timed(idx, fn, timeout_s)
        samples, cpus = [ms] * repeats, [cpu_ms] * repeats
        if not out and ms < slow_ms:
            runs = [_timed(idx, fn, timeout_s) for _ in range(repeats)]
            samples, cpus = [r[0] for r in runs], [r[3] for r in runs]
        per_kind.setdefault(kind, []).extend(samples)
        cpu_kind.setdefault(kind, []).extend(cpus)
        part = "trend_week" if kind.startswith("trend_") else "search"
        wall[part].extend(samples)
        cpu[part].extend(cpus)
        detail.append({"kind": kind, "query": desc, "hits": None if res is None else len(res),
                       "total": getattr(res, "total", None), "relation": getattr(res, "relation", None),
                       "p50_ms": round(percentile(samples, 50), 2), "cpu_p50_ms": round(percentile(cpus, 50), 2),
                       "timed_out": out, "repeated": not out and ms < slow_ms})
    return {"search": _lat(wall["search"]), "trend_week": _lat(wall["trend_week"]),
            "search_cpu": _lat(cpu["search"]), "trend_week_cpu": _lat(cpu["trend_week"]),
            "by_category": {k: _lat(v) for k, v in per_kind.items()},
            "by_category_cpu": {k: _lat(v) for k, v in cpu_kind.items()},
            "timeouts": sum(1 for d in detail if d["timed_out"]), "timeout_s": timeout_s, "queries": detail}


def _upsert_timed(idx: Index, start: int, stop: int, progress: Progress, label: str) -> tuple[float, int]:
    """Upsert posts start..stop-1 in INDEX_BATCH calls; returns seconds spent in upsert (not generating)."""
    spent, failed = 0.0, 0
    batch: list[IndexDoc] = []
    for doc in synthetic_docs(start, stop):
        batch.append(doc)
        if len(batch) >= INDEX_BATCH:
            t = time.perf_counter()
            failed += len(idx.upsert(batch).failed)
            spent += time.perf_counter() - t
            batch = []
            if (doc_no := int(doc.post_id[4:]) + 1) % 10_000 == 0:
                progress(label, doc_no, stop)
    if batch:
        t = time.perf_counter()
        failed += len(idx.upsert(batch).failed)
        spent += time.perf_counter() - t
    progress(label, stop, stop)
    return spent, failed


def bench_sqlite(workdir: Path, sizes: Sequence[int], *, repeats: int, progress: Progress = _noop,
                 bulk_after: int = 100_000, timeout_s: float = 10.0, cache_dir: Path | None = None) -> dict[str, Any]:
    """One SQLite index grown through the sizes (the smaller corpus is a prefix of the bigger one).

    Posts up to `bulk_after` go in exactly as `routewatch index` writes them; past it the bench sets
    PRAGMA synchronous=OFF on its connection (same rows, no fsync per post) so that 1M fits in a run.
    `cache_dir` (env ROUTEWATCH_BENCH_INDEX_CACHE): keep a copy of the index at each size there, with its
    build figures, and reuse it in later runs while the index schema is unchanged (a 1M build is long).
    """
    from index.sqlite_fts import INDEX_SCHEMA_VERSION, SqliteIndex

    if cache_dir is None and os.environ.get("ROUTEWATCH_BENCH_INDEX_CACHE"):
        cache_dir = Path(os.environ["ROUTEWATCH_BENCH_INDEX_CACHE"])
    path = workdir / "index-sqlite.sqlite"
    idx = SqliteIndex(path)
    out: dict[str, Any] = {}
    have = 0
    try:
        for n in sorted(set(sizes)):
            cached = cache_dir / f"sqlite-v{INDEX_SCHEMA_VERSION}-{SEED}-{n}.sqlite" if cache_dir else None
            meta = cached.with_suffix(".json") if cached else None
            if cached and meta and cached.exists() and meta.exists():
                idx.close()
                for p in workdir.glob("index-sqlite.sqlite*"):
                    p.unlink()
                progress(f"copy cached sqlite {n:,}", 0, 1)
                shutil.copyfile(cached, path)
                idx = SqliteIndex(path)
                row = json.loads(meta.read_text(encoding="utf-8"))
                row["cached"] = str(cached)
                have = n
            else:
                mode = "default"
                if have >= bulk_after:
                    idx.bulk_load()
                    mode = "synchronous=OFF"
                spent, failed = _upsert_timed(idx, have, n, progress, f"index sqlite {n:,}")
                added = n - have
                have = n
                idx.checkpoint()
                size_mb = sum(p.stat().st_size for p in workdir.glob("index-sqlite.sqlite*")) / 2**20
                row = {"posts": n, "units": idx.unit_count(), "added": added, "build": mode,
                       "upsert_s": round(spent, 1), "docs_per_s": round(added / spent, 1) if spent else None,
                       "failed": failed, "file_mb": round(size_mb, 1)}
                if cached and meta:
                    cache_dir.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, cached)
                    meta.write_text(json.dumps({**row, "built": datetime.now(UTC).isoformat()}), encoding="utf-8")
            progress(f"queries sqlite {n:,}", 0, 1)
            row.update(measure_queries(idx, repeats=repeats, timeout_s=timeout_s))
            out[str(n)] = row
    finally:
        idx.close()
        for p in workdir.glob("index-sqlite.sqlite*"):
            p.unlink(missing_ok=True)
    return out


def bench_elastic(es_url: str, n: int, *, repeats: int, progress: Progress = _noop) -> dict[str, Any]:
    """elasticsearch.v1 on a bench-named index (deleted afterwards) with n synthetic posts."""
    from index.elastic import ElasticIndex
    from index.settings import IndexSettings

    name = f"routewatch-bench-{os.getpid()}"
    idx = ElasticIndex(IndexSettings(backend="elasticsearch", es_url=es_url, es_index=name))
    try:
        spent, failed = _upsert_timed(idx, 0, n, progress, f"index elasticsearch {n:,}")
        idx.es.indices.refresh(index=name)
        row: dict[str, Any] = {"posts": n, "upsert_s": round(spent, 1),
                               "docs_per_s": round(n / spent, 1) if spent else None, "failed": failed,
                               "count": idx.count()}
        progress(f"queries elasticsearch {n:,}", 0, 1)
        row.update(measure_queries(idx, repeats=repeats))
        return row
    finally:
        try:  # by exact names: clusters refuse wildcard deletes by default (destructive_requires_name)
            for index in sorted(idx.es.indices.get(index=f"{name}-0*", expand_wildcards="all").body):
                idx.es.indices.delete(index=index, ignore_unavailable=True)
            idx.es.indices.delete_index_template(name=f"{name}-template")
        except Exception:  # noqa: BLE001, S110 - best effort clean-up of our own index
            pass
        idx.es.close()
