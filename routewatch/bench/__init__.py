"""The performance suite (SPEC §7): ratios and latencies measured side by side in one run.

In: settings, the demo corpus (routewatch/demo/corpus) and synthetic corpora generated here (fixed
seed), optionally an Elasticsearch URL.  Out: `run_bench` → a dict (machine, transcription, extraction,
index, memory, targets) and `format_table` → text. Never writes into the data dir, the repository or
anyone else's Elasticsearch index: all of it lives in a temp dir or bench-named indices. One module per
job: `common` (clocks, targets), `demo_runs`, `transcription`, `extraction`, `synthetic`, `index_part`,
`suite` (the whole run), `report` (tables), `__main__` (the command line and the child processes).
"""

from routewatch.bench.common import QUICK_CLIPS, STAGES, TARGETS, machine_info, percentile
from routewatch.bench.extraction import ocr_extraction_scores
from routewatch.bench.index_part import bench_elastic, bench_sqlite, measure_queries
from routewatch.bench.report import format_table
from routewatch.bench.suite import run_bench
from routewatch.bench.synthetic import search_queries, synthetic_doc, synthetic_docs, trend_queries

__all__ = ["QUICK_CLIPS", "STAGES", "TARGETS", "bench_elastic", "bench_sqlite", "format_table", "machine_info", "measure_queries", "ocr_extraction_scores",
           "percentile", "run_bench", "search_queries", "synthetic_doc", "synthetic_docs", "trend_queries"]
