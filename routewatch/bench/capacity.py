"""The capacity table of README "Scaling out", computed from the figures measured in docs/BENCHMARKS.md.

In: the figures below, each with the words of docs/BENCHMARKS.md it is read from (tests/test_capacity.py checks
those words are there, and that README's table is this module's output).  Out: a Markdown table of videos a
day per transcription worker (CPU, GPU), posts per second per extract worker and crawl pages per second per
domain budget. `python -m routewatch.bench.capacity` prints it. Measures nothing itself.
"""

from __future__ import annotations

import math

DAY = 86_400
CLIP_SECONDS = 30.0  # issue 17's typical short video
LOAD = 50_000  # issue 17's daily load: new short videos a day

# (value, the words of docs/BENCHMARKS.md it comes from)
STAGE_CPU_S = (41.34, "stage (VAD, dedupe)        153.85    41.34")  # transcription stage, CPU-s for the corpus
CORPUS_AUDIO_S = (302.2, "25 clips, 302.2 s of audio")  # the demo corpus's audio
GPU_AUDIO_S, GPU_WALL_S = (13 * 60, "13 min of audio in 54 s"), (54.0, "13 min of audio in 54 s")  # large-v2 fp16, V100S
EXTRACT_POSTS_S = (1537.0, "1,537 posts/s per core")
WORKER_CORES = 2  # a CPU transcription worker: `transcribe.threads` = 2 (the bench's setting)

# crawl budgets: (concurrency_per_domain, download_delay s) × server latency s
BUDGETS = ((1, 0.0), (2, 0.0), (4, 0.0), (1, 1.0), (2, 0.5), (4, 0.25))
LATENCIES = (0.5, 1.0, 2.0)


def cpu_s_per_audio_s() -> float:
    return STAGE_CPU_S[0] / CORPUS_AUDIO_S[0]


def videos_per_day_cpu(cores: int = WORKER_CORES) -> int:
    """Clips of CLIP_SECONDS a transcription worker with `cores` busy cores finishes in a day."""
    return int(cores * DAY / (cpu_s_per_audio_s() * CLIP_SECONDS))


def videos_per_day_gpu() -> int:
    """Clips a day on one V100S-class GPU at faster-whisper's published large-v2 speed (a lower bound for base)."""
    return int(DAY * (GPU_AUDIO_S[0] / GPU_WALL_S[0]) / CLIP_SECONDS)


def pages_per_second(concurrency: int, delay: float, latency: float) -> float:
    """What one domain's shared budget lets through: starts are `delay` apart across every worker, and at most
    `concurrency` requests of `latency` seconds are in flight — the lower of 1/delay and concurrency/latency."""
    by_slots = concurrency / latency
    return min(by_slots, 1 / delay) if delay > 0 else by_slots


def workers_for(per_day: float, load: int = LOAD) -> str:
    """How many workers a daily load needs: the exact share and the whole number to start."""
    need = load / per_day
    return f"{need:.2f} → {max(1, math.ceil(need))}"


def _n(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.2f}".rstrip("0").rstrip(".")


def table() -> str:
    """The README table, one Markdown row per line."""
    rows = [
        f"| worker | capacity | for {LOAD:,} videos/day | from |",
        "|---|---|---|---|",
        f"| transcribe, CPU ({WORKER_CORES} cores) | {_n(videos_per_day_cpu())} videos/day of {CLIP_SECONDS:g} s | "
        f"{workers_for(videos_per_day_cpu())} | "
        f"{STAGE_CPU_S[0]:g} CPU-s per {CORPUS_AUDIO_S[0]:g} s of demo audio = {cpu_s_per_audio_s():.3f} CPU-s per "
        "audio-second (stage with VAD, dedupe, captions-first) |",
        f"| transcribe, GPU (1 × V100S class) | {_n(videos_per_day_gpu())} videos/day of {CLIP_SECONDS:g} s | "
        f"{workers_for(videos_per_day_gpu())} | "
        f"faster-whisper's published large-v2 fp16 figure, {GPU_AUDIO_S[0] / 60:g} min of audio in {GPU_WALL_S[0]:g} s "
        "(not measured here; base is faster) |",
        f"| extract (1 process = 1 core) | {_n(EXTRACT_POSTS_S[0])} posts/s = {_n(EXTRACT_POSTS_S[0] * DAY / 1e6)} M "
        f"posts/day | {workers_for(EXTRACT_POSTS_S[0] * DAY)} | bench part 2, posts per CPU-second |",
    ]
    head = "| crawl budget of one domain | " + " | ".join(f"latency {x:g} s" for x in LATENCIES) + " |"
    crawl = [head, "|---|" + "---|" * len(LATENCIES)]
    for c, d in BUDGETS:
        cells = " | ".join(f"{_n(pages_per_second(c, d, x))} pages/s" for x in LATENCIES)
        crawl.append(f"| concurrency {c}, delay {d:g} s | {cells} |")
    return "\n".join(rows) + "\n\n" + "\n".join(crawl) + "\n"


if __name__ == "__main__":
    print(table(), end="")
