"""The demo corpus in a temp data dir, each pipeline stage in a child process (memory peak per stage)."""


import json
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from routewatch.bench.common import CORPUS_DIR, QUICK_CLIPS, STAGES, Progress, _Clock, _noop


# ---- the demo corpus in a temp data dir; each stage in a child process (memory peak per stage) ----------
def _settings_for(settings: Any, data_dir: Path, **update: Any) -> Any:
    """The caller's settings (transcribe and extract knobs) on a temp data dir with the SQLite index."""
    index = settings.index.model_copy(update={"backend": "sqlite"})
    return settings.model_copy(update={"data_dir": Path(data_dir), "index": index, **update})


def _vm_hwm_kb() -> int:
    """Peak resident set of this process image (VmHWM). Not ru_maxrss: Linux carries ru_maxrss over
    fork + exec, so a child started by a big parent would report the parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_stage_child(stage: str, settings: Any, workdir: Path) -> dict[str, Any]:
    spec = workdir / f"child-{stage}.json"
    spec.write_text(json.dumps({"settings": json.loads(settings.model_dump_json())}), encoding="utf-8")
    t = _Clock()
    proc = subprocess.Popen([sys.executable, "-m", "routewatch.bench", "--child", stage, str(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(Path(__file__).parents[2]))
    out, err = proc.communicate()
    wall, _ = t.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"bench child for stage {stage} failed: {err.decode(errors='replace')[-800:]}")
    line = [ln for ln in out.decode().splitlines() if ln.startswith("{")][-1]
    rep = json.loads(line)
    rep["wall_s"] = round(wall, 2)
    rep["peak_mb"] = round(rep["vm_hwm_kb"] / 1024, 1)
    return rep


def _mark_subset(data_dir: Path, keep: set[str]) -> None:
    """Only the posts whose corpus id is in `keep` remain to be transcribed (quick mode)."""
    from routewatch.core.catalog import open_catalog

    cat = open_catalog(data_dir)
    try:
        with cat.tx():
            for pid in cat.pending("transcribe", after="fetch"):
                post = cat.get_post(pid)
                if post is None or _corpus_id(post.media_url) not in keep:
                    cat.set_status(pid, "transcribe", "skipped", "bench")
    finally:
        cat.close()


_MEDIA_TO_ID: dict[str, str] = {}


def _corpus() -> list[dict[str, Any]]:
    return json.loads((CORPUS_DIR / "posts.json").read_text(encoding="utf-8"))


def _corpus_id(media_url: str) -> str:
    if not _MEDIA_TO_ID:
        _MEDIA_TO_ID.update({p["media"]: p["id"] for p in _corpus() if p.get("media")})
    return _MEDIA_TO_ID.get((media_url or "").rsplit("/", 1)[-1], "")


def prepare_demo(settings: Any, workdir: Path, *, memory: bool, quick: bool,
                 progress: Progress = _noop) -> tuple[Path, dict[str, Any]]:
    """Crawl + fetch the demo platform into a temp dir (children); returns a copy of the fetched dir
    and, when `memory`, the peak memory of every stage run on the demo corpus."""
    from routewatch.demo.run import demo_sources
    from routewatch.demo.server import DemoServer

    demo = workdir / "demo"
    rows: dict[str, Any] = {}
    server = DemoServer().start()
    try:
        crawl = settings.crawl.model_copy(update={
            "origins": {**settings.crawl.origins, "telegram": server.origin, "demo": server.origin},
            "allow_hosts": [*settings.crawl.allow_hosts, server.hostport]})
        s = _settings_for(settings, demo, crawl=crawl, sources=demo_sources())
        demo.mkdir(parents=True)
        if memory:
            rows["baseline"] = _run_stage_child("baseline", s, workdir)
        for i, stage in enumerate(("crawl", "fetch")):
            progress("memory", i, len(STAGES))
            rows[stage] = _run_stage_child(stage, s, workdir)
    finally:
        server.stop()
    fetched = workdir / "fetched"
    shutil.copytree(demo, fetched)
    if memory:
        if quick:
            _mark_subset(demo, set(QUICK_CLIPS))
        for i, stage in enumerate(("transcribe", "extract", "index"), start=2):
            progress("memory", i, len(STAGES))
            rows[stage] = _run_stage_child(stage, s, workdir)
        progress("memory", len(STAGES), len(STAGES))
    shutil.rmtree(demo, ignore_errors=True)
    return fetched, rows
