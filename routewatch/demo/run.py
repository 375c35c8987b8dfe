"""`routewatch demo`: start the demo platform, run the whole pipeline on it, print a summary.

In: an optional data dir.  Out: a filled catalog and index in that dir, and the summary
(posts, media, minutes transcribed, facts, index size, backend, where things are).
Allows only its own server's address through the private-address guard.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from index.base import period_of
from routewatch import pipeline
from routewatch.core.catalog import open_catalog
from routewatch.demo.server import DEMO_BASE, DemoServer
from routewatch.digest import build_digest, write_digest
from routewatch.settings import SourceConfig, load_settings
from routewatch.terminal import Bars, safe_text  # the CLI's one rule for text a terminal must not act on


def demo_sources() -> list[SourceConfig]:
    return [
        SourceConfig(name="telegram:zouxian_notes", urls=["https://t.me/s/zouxian_notes"]),
        SourceConfig(name="telegram:ruta_norte", urls=["https://t.me/s/ruta_norte"]),
        SourceConfig(name="feed:demo", urls=[f"{DEMO_BASE}/feed.xml"]),
        SourceConfig(name="seeds:demo", urls=[f"{DEMO_BASE}/seeds.txt"]),
    ]


def demo_settings(data_dir: str | Path | None, server: DemoServer) -> Any:
    base = load_settings(data_dir)
    crawl = base.crawl.model_copy(update={
        "origins": {**base.crawl.origins, "telegram": server.origin, "demo": server.origin},
        "allow_hosts": [*base.crawl.allow_hosts, server.hostport],
    })
    return base.model_copy(update={"crawl": crawl, "sources": demo_sources()})


def run_demo(data_dir: str | Path | None = None, quiet: bool = False, keep_serving: bool = False) -> dict[str, Any]:
    err = Console(stderr=True)
    t0 = time.monotonic()
    server = DemoServer().start()
    try:
        s = demo_settings(data_dir, server)
        if not quiet:
            err.print(f"[bold]RouteWatch demo[/] — demo platform at {server.origin}, data in {s.data_dir}")
        cat = open_catalog(s.data_dir, url=s.catalog.url)
        try:
            cat.start_run("demo")
            with Bars(not quiet, err) as bars:
                reports = pipeline.run_all(pipeline.Context(settings=s, catalog=cat, progress=bars))
            cat.finish_run()
            st = cat.status()
            facts = sum(pipeline.fact_count_gold(g) for g in _all_gold(cat))
            digest_paths = _digest_latest_week(cat, s)
        finally:
            cat.close()
        idx_docs = next((r.extra.get("documents") for r in reports if r.stage == "index"), 0)
        backend = next((r.extra.get("backend") for r in reports if r.stage == "index"), "sqlite.v1")
        summary = {
            "posts_crawled": st["posts"],
            "media_fetched": st["media"],
            "transcripts": st["transcripts"],
            "minutes_transcribed": st["transcribed_minutes"],
            "facts_extracted": facts,
            "index_documents": idx_docs,
            "index_backend": backend,
            "failures": {f"{f['stage']}/{f['code']}": f["count"] for f in st["failures"]},
            "data_dir": str(Path(s.data_dir).resolve()),
            "catalog": str(cat.path.resolve()) if isinstance(cat.path, Path) else str(cat.path),  # or the redacted URL
            "digest": digest_paths.get("digest.html", ""),
            "seconds": round(time.monotonic() - t0, 1),
            "stages": {r.stage: {"done": r.done, "reused": r.reused, "skipped": r.skipped, "failed": r.failed}
                       for r in reports},
        }
        if not quiet:
            _print_summary(summary)
        if keep_serving:
            err.print(f"demo platform still serving at {server.origin} (Ctrl-C to stop)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return summary
    finally:
        server.stop()


def _digest_latest_week(cat: Any, s: Any) -> dict[str, str]:
    """The digest of the newest week that has posts, written under DATA/digests/<week>/."""
    latest = cat.latest_posted_at()
    if not latest:
        return {}
    week = period_of(latest, "week")
    return write_digest(build_digest(cat, s, week), Path(s.data_dir) / "digests" / week, data_dir=s.data_dir)


def _all_gold(cat: Any) -> list[dict]:
    return cat.gold_summaries()


def _print_summary(s: dict[str, Any]) -> None:
    out = Console()
    data_dir, digest = safe_text(s["data_dir"], one_line=True), safe_text(s.get("digest") or "(no dated posts)")
    t = Table(title="RouteWatch demo — summary", show_header=False)
    t.add_row("posts crawled", str(s["posts_crawled"]))
    t.add_row("media fetched", str(s["media_fetched"]))
    t.add_row("minutes transcribed", f"{s['minutes_transcribed']:.2f} ({s['transcripts']} transcripts)")
    ocr = s.get("stages", {}).get("ocr")
    if ocr:  # videos whose burned-in text was read (a repost's file is read once)
        t.add_row("on-screen text", f"{ocr['done']} videos read ({ocr['reused']} repost files reused)")
    t.add_row("facts extracted", str(s["facts_extracted"]))
    t.add_row("index", f"{s['index_documents']} documents ({s['index_backend']})")
    t.add_row("failures", ", ".join(f"{k}: {v}" for k, v in s["failures"].items()) or "none")
    t.add_row("data dir", Text(data_dir))  # a path is text, never rich markup
    t.add_row("digest", Text(digest))
    t.add_row("time", f"{s['seconds']} s")
    out.print(t)
    out.print(Text.assemble("Next: ", ("routewatch search 厄瓜多尔 --data-dir " + data_dir, "bold"),
                            "   ·   routewatch status --data-dir " + data_dir))
