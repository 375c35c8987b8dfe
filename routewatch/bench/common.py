"""Shared by the bench parts: its constants and targets, the progress callback type, clocks and percentiles."""


import os
import platform
import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Progress = Callable[[str, int, int], None]  # (what, done, total), as routewatch.pipeline.Progress

CORPUS_DIR = Path(__file__).parents[1] / "demo" / "corpus"
STAGES = ("crawl", "fetch", "transcribe", "extract", "index")
QUICK_CLIPS = ("p01", "p03", "p28")  # a story, a clip and its re-encoded repost (fingerprint dedupe)
INDEX_BATCH = 200  # docs per upsert call, as routewatch.pipeline.stage_index
SEED = 20240701

FP_STORED = 10_000  # stored fingerprints for the repost-lookup figure

TARGETS = {
    "fingerprint_lookup_ms": 50.0,  # per clip, 10,000 stored fingerprints
    "transcribe_speedup": 3.0,  # stage over the naive loop, median CPU ratio of the pairs, no loss of CER
    "extract_posts_per_s": 1000.0,  # per core
    "search_p95_ms": 50.0,  # SQLite at 1M posts
    "trend_p95_ms": 300.0,  # weekly trend, SQLite at 1M posts
}


# CER zh of the stage on the demo corpus before captions-first (stop 10): the stage may not lose more than 0.01
TODAY_STAGE_CER_ZH = 0.165


def _noop(what: str, done: int, total: int) -> None:
    pass


# ---- small measuring helpers ------------------------------------------------------------------------------
def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its waited-for children (ffmpeg, ffprobe)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class _Clock:
    def __init__(self) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), _cpu_seconds()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall0, _cpu_seconds() - self.cpu0


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100) with linear interpolation between the nearest ranks."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _lat(ms: Sequence[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "max_ms": round(max(ms), 2) if ms else float("nan"), "n": len(ms)}


def _median(xs: Sequence[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def machine_info() -> dict[str, Any]:
    """nproc, CPU model, RAM, load, versions: what a reader needs to compare two bench runs."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    ram_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    versions = {}
    for dist in ("faster-whisper", "ctranslate2", "onnxruntime", "spacy", "elasticsearch"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:  # noqa: BLE001 - optional
            versions[dist] = ""
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu or platform.machine(),
        "ram_mb": ram_mb,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "versions": versions,
    }
