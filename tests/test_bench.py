"""Tests of the performance suite (routewatch.bench): its pieces, and a quick run end to end.

In: the synthetic corpus generator, the SQLite index in a temp dir, and (slow) the demo corpus with the
offline Whisper base model.  Out: assertions on structure and sanity (positive rates, p95 ≥ p50).
Never asserts on speed targets: the machine is shared and timings are noisy.
"""

from __future__ import annotations

import pytest

from routewatch import bench


def test_percentile_interpolates():
    assert bench.percentile([1, 2, 3, 4, 5], 50) == 3
    assert bench.percentile([10.0], 95) == 10.0
    assert bench.percentile(list(range(101)), 95) == pytest.approx(95.0)


def test_synthetic_corpus_is_deterministic_and_prefix_stable():
    a = list(bench.synthetic_docs(0, 300))
    b = list(bench.synthetic_docs(250, 260))
    assert [d.post_id for d in a[:3]] == ["syn-0000000", "syn-0000001", "syn-0000002"]
    assert a[250:260] == b  # post i is the same whatever slice is asked for
    assert a == list(bench.synthetic_docs(0, 300))
    langs = {d.lang for d in a}
    assert langs == {"zh", "en", "es"}
    assert any(d.route[:3] == ("EC", "CO", "PA") for d in a)
    assert any(not d.relevant for d in a) and any(d.has_bribe for d in a)
    assert any(u.kind == "transcript" and u.segments for d in a for u in d.units)
    dates = sorted(d.posted_at for d in a)
    assert dates[0] >= "2024-07-01" and dates[-1] < "2026-07-02"


def test_sqlite_index_bench_small(tmp_path):
    res = bench.bench_sqlite(tmp_path, (400,), repeats=2)
    row = res["400"]
    assert row["posts"] == 400 and row["failed"] == 0 and row["docs_per_s"] > 0
    for part in ("search", "trend_week"):
        assert row[part]["p95_ms"] >= row[part]["p50_ms"] > 0
    kinds = set(row["by_category"])
    assert {"zh_3plus", "zh_2char", "latin_plain", "latin_accents", "phrase", "filter_route",
            "filter_cost", "trend_country", "trend_leg"} <= kinds
    assert row["timeouts"] == 0
    hits = {q["query"]: q["hits"] for q in row["queries"]}
    assert hits["厄瓜多尔"] > 0 and hits["Darién"] > 0 and hits["route=EC>CO>PA"] > 0
    assert not list(tmp_path.glob("index-sqlite.sqlite*"))  # cleaned up


def test_format_table_handles_a_partial_result():
    result = {"date": "2026-01-01T00:00:00+00:00", "quick": True, "machine": bench.machine_info(),
              "extraction": {"posts_per_s_per_core": 1234.5, "runs": [1234.5]},
              "targets": [{"target": "x", "value": "1", "met": True}]}
    text = bench.format_table(result)
    assert "1,234 posts/s per core" in text or "1,235 posts/s per core" in text
    assert "[met] x" in text


def test_format_table_shows_the_workers_side_by_side():
    run = {"queues": {"transcribe": {"jobs": 1, "seconds": 41.75}, "fetch": {"jobs": 30, "seconds": 8.77}}}
    result = {"date": "2026-01-01T00:00:00+00:00", "quick": False, "machine": bench.machine_info(),
              "workers": {"note": "n", "runs": [{"workers": 1, "wall_seconds": 98.7, "cpu_seconds": 82.4, "speedup": 1.0, **run},
                                                {"workers": 2, "wall_seconds": 60.0, "cpu_seconds": 90.0, "speedup": 1.65, **run}]}}
    lines = bench.format_table(result).splitlines()
    head = next(i for i, line in enumerate(lines) if line.strip().startswith("workers"))
    assert lines[head].split() == ["workers", "wall", "s", "CPU", "s", "speed-up", "fetch", "transcribe"]
    assert lines[head + 1].split() == ["1", "98.7", "82.4", "1.00", "8.77s", "41.75s"]
    assert lines[head + 2].split() == ["2", "60.0", "90.0", "1.65", "8.77s", "41.75s"]
    assert "error: needs PostgreSQL" in bench.format_table({**result, "workers": {"error": "needs PostgreSQL"}})


@pytest.mark.slow
def test_quick_run_end_to_end(tmp_path, monkeypatch):
    from routewatch.core.errors import RouteWatchError
    from routewatch.settings import load_settings
    from transcribe.model import ensure_base_model

    try:
        ensure_base_model()
    except RouteWatchError as e:
        pytest.skip(f"offline Whisper base model not installed: {e.reason}")
    seen: list[str] = []
    # this run measures SQLite only, even where CI exports an Elasticsearch URL
    monkeypatch.delenv("ROUTEWATCH_ES_URL", raising=False)
    monkeypatch.delenv("ROUTEWATCH_INDEX_BACKEND", raising=False)
    res = bench.run_bench(load_settings(tmp_path / "data"), quick=True, sizes=(1000,), es_url=None,
                          progress=lambda what, done, total: seen.append(what))
    assert seen
    m = res["machine"]
    assert m["nproc"] >= 1 and m["ram_mb"] > 0 and m["cpu_model"]

    tr = res["transcription"]
    assert "error" not in tr, tr
    assert tr["clips"] == len(bench.QUICK_CLIPS)
    # p28 is a re-encode of p03, but p03's transcript is its own zh subtitles (captions-first), which stand for
    # p03 alone: p28 gets the model's words, so what a post gets never depends on which copy came first
    assert tr["stage"]["reused"] == 0
    assert tr["stage"]["wall_s"] > 0 and tr["naive"]["wall_s"] > 0 and tr["speedup_wall"] > 0
    assert 0 < tr["stage"]["rtf"] and 0 <= tr["stage"]["cer_zh"] <= 1.5 and 0 <= tr["naive"]["cer_zh"]
    # one pair (quick), each side in its own process: wall and CPU ratios, the target judged on CPU
    assert len(tr["pairs"]) == 1 and tr["pairs"][0]["cpu_ratio"] == tr["cpu_ratio_median"] > 0
    assert tr["counters"]["transcribe/from_subtitles"] == 1  # p03 carries zh subtitles
    fx = tr["fingerprint_index"]
    assert (fx["stored"], fx["clips"], fx["same_matches_as_scan"]) == (1000, 3, 3)
    assert fx["matches"] == {"p03": "p28", "p28": "p03"}

    assert res["extraction"]["posts_per_s_per_core"] > 0

    row = res["index"]["sqlite"]["1000"]
    assert row["docs_per_s"] > 0
    assert row["search"]["p95_ms"] >= row["search"]["p50_ms"] > 0
    assert row["trend_week"]["p95_ms"] >= row["trend_week"]["p50_ms"] > 0
    assert "elasticsearch" not in res["index"]

    mem = res["memory"]["stages"]
    assert set(bench.STAGES) <= set(mem)
    assert all(r["peak_mb"] > 10 for r in mem.values())

    assert {t["target"].split(" ")[0] for t in res["targets"]} >= {"transcription", "extraction", "SQLite"}
    text = bench.format_table(res)
    for header in ("1. Transcription", "2. Extraction", "3. Index", "4. Memory", "Targets"):
        assert header in text
