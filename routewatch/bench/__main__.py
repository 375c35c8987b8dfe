"""`python -m routewatch.bench`: the suite from the command line, and the child entry the parts use."""


import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from routewatch.bench.common import _noop
from routewatch.bench.demo_runs import _vm_hwm_kb
from routewatch.bench.report import format_table
from routewatch.bench.suite import run_bench
from routewatch.bench.transcription import _naive_pass, _stage_pass


def _child_main(argv: list[str]) -> int:
    """`python -m routewatch.bench --child STAGE SPEC.json`: run one stage, print its report as JSON."""
    stage, spec_path = argv[0], Path(argv[1])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    from routewatch import pipeline
    from routewatch.core.catalog import open_catalog
    from routewatch.settings import Settings

    if stage in ("naive-pass", "stage-pass"):  # one side of a transcription pair, in its own process
        if stage == "naive-pass":
            res = _naive_pass(spec["model_path"], spec["items"], _noop)
        else:
            keep = set(spec["keep"]) if spec["keep"] is not None else None
            res = _stage_pass(Settings.model_validate(spec["settings"]), Path(spec["fetched"]),
                              Path(spec["workdir"]), keep, _noop)
        print(json.dumps(res, ensure_ascii=False))
        return 0
    settings = Settings.model_validate(spec["settings"])
    if stage == "baseline":  # the floor every stage process pays: interpreter + settings + catalog imports
        print(json.dumps({"stage": stage, "done": 0, "failed": 0, "reused": 0, "skipped": 0, "seconds": 0.0,
                          "vm_hwm_kb": _vm_hwm_kb()}))
        return 0
    cat = open_catalog(settings.data_dir, url=settings.catalog.url)
    try:
        ctx = pipeline.Context(settings=settings, catalog=cat)
        run = {"crawl": pipeline.stage_crawl, "fetch": pipeline.stage_fetch,
               "transcribe": pipeline.stage_transcribe, "extract": pipeline.stage_extract,
               "index": pipeline.stage_index}[stage]
        rep = run(ctx)
    finally:
        cat.close()
    print(json.dumps({"stage": stage, "done": rep.done, "failed": rep.failed, "reused": rep.reused,
                      "skipped": rep.skipped, "seconds": rep.seconds, "vm_hwm_kb": _vm_hwm_kb()}, default=str))
    return 0


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        return _child_main(argv[1:])
    import argparse

    from routewatch.settings import load_settings

    ap = argparse.ArgumentParser(description="RouteWatch performance suite (SPEC §7)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default="", help="comma-separated corpus sizes, e.g. 10000,100000")
    ap.add_argument("--es-url", default=None)
    ap.add_argument("--parts", default="transcription,extraction,index,memory")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--out", default="", help="also write the JSON result to this file")
    a = ap.parse_args(argv)
    kw: dict[str, Any] = {}
    if a.sizes:
        kw["sizes"] = tuple(int(x) for x in a.sizes.split(","))

    def show(what: str, done: int, total: int) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {what} {done}/{total}", file=sys.stderr, flush=True)

    res = run_bench(load_settings(), quick=a.quick, es_url=a.es_url, progress=show,
                    parts=tuple(a.parts.split(",")), repeats=a.repeats, **kw)
    if a.out:
        from routewatch.core.outputs import write_output

        write_output(a.out, json.dumps(res, ensure_ascii=False, indent=1))
    print(json.dumps(res, ensure_ascii=False, indent=1) if a.json else format_table(res))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
