"""README "Scaling out": its capacity table is the output of routewatch/bench/capacity.py, and every figure that
module starts from is written in docs/BENCHMARKS.md as it reads it (so neither side is typed by hand)."""

from __future__ import annotations

import re
from pathlib import Path

from routewatch.bench import capacity

REPO = Path(__file__).resolve().parents[1]


def test_readme_table_is_the_computed_one():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- capacity: python -m routewatch.bench.capacity -->\n(.*?)<!-- /capacity -->", readme, re.S)
    assert found, "README.md has no capacity table between its markers"
    assert found.group(1) == capacity.table()


def test_every_figure_is_the_benchmarks_one():
    bench = (REPO / "docs" / "BENCHMARKS.md").read_text(encoding="utf-8")
    for value, words in (capacity.STAGE_CPU_S, capacity.CORPUS_AUDIO_S, capacity.GPU_WALL_S, capacity.EXTRACT_POSTS_S):
        assert words in bench
        assert f"{value:,g}" in words
    assert capacity.GPU_AUDIO_S == (780, "13 min of audio in 54 s")


def test_the_figures_it_computes():
    assert round(capacity.cpu_s_per_audio_s(), 4) == 0.1368
    assert capacity.videos_per_day_cpu() == 42_106  # 2 cores · 86,400 s / (0.1368 CPU-s · 30 s)
    assert capacity.videos_per_day_gpu() == 41_600  # 86,400 s · 780 / 54 / 30 s
    assert capacity.pages_per_second(2, 0.0, 0.5) == 4.0  # slots bound: 2 / 0.5 s
    assert capacity.pages_per_second(4, 0.5, 1.0) == 2.0  # delay bound: 1 / 0.5 s
    assert capacity.workers_for(42_106) == "1.19 → 2"
