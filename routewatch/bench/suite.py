"""The whole suite: every part in one run, and the targets line."""


import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from routewatch.bench.common import TARGETS, TODAY_STAGE_CER_ZH, Progress, _noop, machine_info
from routewatch.bench.demo_runs import prepare_demo
from routewatch.bench.extraction import bench_extraction, bench_ocr
from routewatch.bench.index_part import bench_elastic, bench_sqlite
from routewatch.bench.transcription import bench_transcription
from routewatch.bench.workers import bench_workers


# ---- the whole suite ---------------------------------------------------------------------------------
def _targets(result: dict[str, Any], sizes: Sequence[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    tr = result.get("transcription")
    if tr and "error" not in tr:
        sp = tr.get("cpu_ratio_median")
        rows.append({"target": "transcription stage ≥ 3× the naive loop in CPU (median of the pairs), CER not worse",
                     "value": f"CPU {sp}× (wall {tr.get('wall_ratio_median')}×, {len(tr.get('pairs', []))} pairs), "
                              f"CER zh {tr['stage'].get('cer_zh')} vs naive {tr['naive'].get('cer_zh')} "
                              f"(stop 10: {TODAY_STAGE_CER_ZH})",
                     "met": bool(sp and sp >= TARGETS["transcribe_speedup"] and tr.get("cer_not_worse")
                                 and tr.get("cer_within_today"))})
    fx = (tr or {}).get("fingerprint_index")
    if fx:
        v = fx["lookup_cpu_ms"]["p95_ms"]  # CPU: on a shared machine the wall p95 of a 20-ms step is mostly waiting
        rows.append({"target": f"fingerprint lookup ≤ 50 ms per clip at {fx['stored']:,} stored (CPU p95), same "
                               f"matches as the scan",
                     "value": f"CPU p95 {v} ms (wall p50 {fx['lookup_ms']['p50_ms']} / p95 {fx['lookup_ms']['p95_ms']} ms), "
                              f"same as the scan on {fx['same_matches_as_scan']}/{fx['clips']} clips",
                     "met": v <= TARGETS["fingerprint_lookup_ms"] and fx["same_matches_as_scan"] == fx["clips"]})
    ex = result.get("extraction")
    if ex and "error" not in ex:
        v = ex["posts_per_s_per_core"]
        rows.append({"target": "extraction ≥ 1,000 posts/s per core", "value": f"{v:,.0f} posts/s",
                     "met": v >= TARGETS["extract_posts_per_s"]})
    sq = (result.get("index") or {}).get("sqlite") or {}
    if sq:
        big = str(max(int(k) for k in sq))
        row = sq[big]
        label = f"at {int(big):,}" + ("" if int(big) >= 1_000_000 else " (target is at 1M)")
        cap = row.get("timeout_s", float("inf")) * 1000

        def shown(ms: float) -> str:
            return f"≥ {cap:,.0f} ms (queries cut at the time-out)" if ms >= cap else f"{ms:,.1f} ms"

        rows.append({"target": f"SQLite search p95 ≤ 50 ms {label}", "value": shown(row["search"]["p95_ms"]),
                     "met": row["search"]["p95_ms"] <= TARGETS["search_p95_ms"]})
        rows.append({"target": f"SQLite weekly trend p95 ≤ 300 ms {label}", "value": shown(row["trend_week"]["p95_ms"]),
                     "met": row["trend_week"]["p95_ms"] <= TARGETS["trend_p95_ms"]})
    return rows


def _pg_server(settings: Any) -> str:
    """A PostgreSQL server for scratch databases: the catalog's when it is one, else $ROUTEWATCH_PG_URL."""
    url = settings.catalog.url or ""
    if url.split(":", 1)[0].lower().startswith("postgres"):
        return url
    return os.environ.get("ROUTEWATCH_PG_URL", "").strip()


def run_bench(settings: Any, *, quick: bool = False, sizes: Sequence[int] = (10_000, 100_000, 1_000_000),
              es_url: str | None = None, progress: Progress | None = None,
              parts: Sequence[str] = ("transcription", "extraction", "index", "memory"),
              repeats: int | None = None) -> dict[str, Any]:
    """Run the suite. `quick`: 3 clips, 1 repeat, small corpora (sizes (1000,) unless given) for CI.

    `es_url` (else settings.index.es_url / ROUTEWATCH_ES_URL) adds Elasticsearch at 100k posts (the
    smallest size when quick). `parts` picks sections; `repeats` overrides the repetitions.
    """
    progress = progress or _noop
    if quick and tuple(sizes) == (10_000, 100_000, 1_000_000):
        sizes = (1000,)
    reps = repeats or (1 if quick else 3)
    es_url = es_url or getattr(settings.index, "es_url", "") or os.environ.get("ROUTEWATCH_ES_URL") or None
    started = datetime.now(UTC)
    result: dict[str, Any] = {"date": started.replace(microsecond=0).isoformat(), "quick": quick,
                              "machine": machine_info(), "sizes": list(sizes), "repeats": reps}
    work = Path(tempfile.mkdtemp(prefix="routewatch-bench-"))
    try:
        fetched = None
        if "transcription" in parts or "memory" in parts:
            try:
                fetched, mem = prepare_demo(settings, work, memory="memory" in parts, quick=quick,
                                            progress=progress)
                if "memory" in parts:
                    result["memory"] = {"stages": mem, "note": "peak RSS (VmHWM) of a fresh Python process "
                                        "running the stage on the demo corpus; ffmpeg/ffprobe children (capped "
                                        "at 2 GB address space by transcribe.audio) not included"}
            except Exception as e:  # noqa: BLE001 - report the section as failed, run the others
                result["memory"] = {"error": f"{type(e).__name__}: {e}"[:500]}
        if "transcription" in parts:
            if fetched is None:
                result["transcription"] = {"error": "the demo corpus could not be fetched"}
            else:
                try:
                    result["transcription"] = bench_transcription(settings, fetched, work, quick=quick,
                                                                  repeats=reps, progress=progress)
                except Exception as e:  # noqa: BLE001
                    result["transcription"] = {"error": f"{type(e).__name__}: {e}"[:500]}
        if "extraction" in parts:
            progress("extraction", 0, 1)
            result["extraction"] = bench_extraction(settings, quick=quick, repeats=reps)
            progress("extraction", 1, 1)
        if "ocr" in parts:
            try:
                result["ocr"] = bench_ocr(settings, quick=quick, progress=progress)
            except Exception as e:  # noqa: BLE001
                result["ocr"] = {"error": f"{type(e).__name__}: {e}"[:500]}
        if "workers" in parts:
            pg_url = _pg_server(settings)
            if not (pg_url and es_url):
                result["workers"] = {"error": "needs PostgreSQL (catalog.url or ROUTEWATCH_PG_URL) and Elasticsearch"}
            else:
                try:
                    result["workers"] = bench_workers(pg_url, es_url, work, progress=progress)
                except Exception as e:  # noqa: BLE001
                    result["workers"] = {"error": f"{type(e).__name__}: {e}"[:500]}
        if "index" in parts:
            qreps = 2 if quick else 5
            result["index"] = {"sqlite": bench_sqlite(work, sizes, repeats=qreps, progress=progress),
                               "query_repeats": qreps}
            if es_url:
                n = min(sizes) if quick else 100_000
                try:
                    result["index"]["elasticsearch"] = {str(n): bench_elastic(es_url, n, repeats=qreps,
                                                                              progress=progress)}
                except Exception as e:  # noqa: BLE001
                    result["index"]["elasticsearch"] = {"error": f"{type(e).__name__}: {e}"[:500]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["targets"] = _targets(result, sizes)
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    return result
