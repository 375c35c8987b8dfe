"""The `routewatch` command line (CONVENTIONS §14): one group, every command with help and an example.

In: arguments and options.  Out: human-readable text (rich) or, with `--json`, only JSON on stdout.
Bad input exits non-zero with one line `E### reason` on stderr, never a traceback.
Content (captions, snippets, names, titles, failure reasons) is printed as plain text with every
terminal control and bidi override made visible (`safe_text`), never parsed as rich markup.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.privacy import BIDI_CONTROLS, C1_CONTROLS
from routewatch.terminal import Bars, safe_text

app = typer.Typer(
    name="routewatch",
    help="Monitor migration-route narratives on short-video platforms: crawl, transcribe, extract, index, search.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (default: $ROUTEWATCH_HOME or ./routewatch-data).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout and nothing else.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file (default: DATA_DIR/routewatch.toml).")]
WaitOpt = Annotated[float, typer.Option("--wait", help="Seconds to wait for another routewatch process to finish.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Write through an existing symlink or special file.")]


_JSON_UNSAFE = re.compile(f"[{C1_CONTROLS}{BIDI_CONTROLS}\u2028\u2029]")
_MATCH_STYLE = "bold yellow"


def _cell(value: object, style: str = "") -> Text:
    """A table cell or line of content: plain rich Text (never markup), one line."""
    return value if isinstance(value, Text) else Text(safe_text(value, one_line=True), style=style)


def _snippet(snippet: str, span: Any = None) -> Text:
    """A search / trace snippet as plain Text, the match the index wrapped in [ ] styled.

    The index marks the match as `[match]` (index.sqlite_fts.make_snippet) but the text around it may
    hold brackets too: the marker is the first `[` whose `]` sits exactly the span's length later.
    """
    text = safe_text(snippet)
    out = Text(text)
    if span:
        n = int(span[1]) - int(span[0])
        i = text.find("[")
        while i >= 0:
            j = i + 1 + n
            if j < len(text) and text[j] == "]" and not any(c in "[]" for c in text[i + 1 : j]):
                out.stylize(_MATCH_STYLE, i + 1, j)
                break
            i = text.find("[", i + 1)
    return out


def _row(table: Table, *cells: object) -> None:
    table.add_row(*(_cell(c) for c in cells))


def _say(console: Console, message: str, style: str = "") -> None:
    """One line that may carry content (a claim, a file name, a failure reason): never markup."""
    console.print(Text(safe_text(message), style=style), soft_wrap=True)


def _json_line(obj: Any, **kw: Any) -> None:
    """JSON on stdout. json.dumps escapes C0 controls already; DEL, C1 and bidi controls are escaped
    too (\\u009b ...), which decodes to the same value and keeps a terminal showing the JSON safe."""
    text = json.dumps(obj, ensure_ascii=False, **kw)
    print(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text))


def _die(code: Code | str, reason: str) -> None:
    err.print(Text.assemble((Code(code).value, "bold red"), " ", safe_text(reason)), highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def _errors():
    try:
        yield
    except RouteWatchError as e:
        _die(e.code, e.reason)
    except sqlite3.Error as e:  # a damaged catalog or a full disk, met while reading or writing
        from routewatch.core.catalog import db_error

        coded = db_error(e)
        _die(coded.code, coded.reason)
    except KeyboardInterrupt:
        err.print("interrupted: finished items are kept; run the same command again to resume")
        raise typer.Exit(130) from None


def _settings(data_dir: Path | None, config: Path | None = None, **overrides: Any):
    from routewatch.settings import load_settings

    try:
        return load_settings(data_dir, config, **overrides)
    except RouteWatchError:
        raise
    except Exception as e:  # pydantic validation of the TOML / env
        raise RouteWatchError(Code.E902, f"invalid settings: {str(e).splitlines()[0]}") from e


def _catalog(settings: Any, wait: float = 0.0, write: bool = True):
    from routewatch.core.catalog import open_catalog

    return open_catalog(settings.data_dir, write=write, wait=wait, url=settings.catalog.url)


def _Bars(enabled: bool) -> Bars:  # noqa: N802 - used like the class it builds
    """Progress bars per stage on the CLI's stderr; silent with --json."""
    return Bars(enabled, err)


def _ctx(settings: Any, catalog: Any, bars: Any):
    from routewatch.pipeline import Context

    return Context(settings=settings, catalog=catalog, progress=bars)


def _print_reports(reports: list[Any], as_json: bool) -> None:
    from dataclasses import asdict

    if as_json:
        _json_line([asdict(r) for r in reports], default=str)
        return
    t = Table("stage", "done", "reused", "skipped", "failed", "seconds")
    for r in reports:
        _row(t, r.stage, r.done, r.reused, r.skipped, r.failed, f"{r.seconds:.1f}")
    out.print(t)


def _shorten(text: str, width: int) -> str:
    """At most `width` characters, cut at a word boundary (with …), never in the middle of a word."""
    text = " ".join((text or "").split())
    if len(text) <= width:
        return text
    cut = text[:width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ,;:") + "…"


def _failure_summary(reports: list[Any], failures: list[dict[str, Any]], as_json: bool) -> None:
    """Per failure code: the count and one reason, on stderr; exit 1 (E909) when every item failed.
    A partial failure prints the same summary and exits 0 (README: Exit codes)."""
    failed = sum(r.failed for r in reports)
    worked = sum(r.done + r.reused + r.skipped for r in reports)
    if not failed:
        return
    for f in failures:
        _say(err, f"{f['code']} ×{f['count']} ({f['stage']}): {_shorten(f['example'] or '', 160)}")
    if not worked:
        codes = ", ".join(f"{f['code']} ×{f['count']}" for f in failures) or f"{failed} failures"
        err.print(Text.assemble((Code.E909.value, "bold red"), " ", safe_text(
            f"every item failed ({failed}): {codes}; see `routewatch status`")), highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    _say(err, f"{failed} item(s) failed, {worked} done, reused or skipped; see `routewatch status`")


def _stage_command(name: str, data_dir: Path | None, config: Path | None, as_json: bool, wait: float,
                   **kw: Any) -> None:
    from routewatch import pipeline

    with _errors():
        s = _settings(data_dir, config)
        cat = _catalog(s, wait)
        try:
            cat.start_run(name)
            with _Bars(not as_json) as bars:
                fn = getattr(pipeline, f"stage_{name}")
                rep = fn(_ctx(s, cat, bars), **kw)
            cat.finish_run()
            failures = cat.run_failures()
        finally:
            cat.close()
        _print_reports([rep], as_json)
        _failure_summary([rep], failures, as_json)


# ---- pipeline commands ----------------------------------------------------------------------------------
@app.command()
def run(config: ConfigOpt = None, data_dir: DataDir = None, source: Annotated[str | None, typer.Option(
        help="Only this configured source.")] = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """Run crawl → fetch → transcribe → extract → index for the configured sources; resumable.

    On a PostgreSQL catalog: enqueue a crawl job per source for `routewatch worker`s and return; `--wait N` then
    waits up to N seconds until every queue is empty and no post is pending (E972 if not).

    Example: routewatch run --config routewatch.toml
    """
    from routewatch import pipeline

    with _errors():
        s = _settings(data_dir, config)
        if not s.sources:
            raise RouteWatchError(Code.E902, "no sources configured: add [[sources]] to routewatch.toml "
                                  "(see README) or use `routewatch crawl --url URL`")
        if _on_postgresql(s):
            _run_queued(s, config, source, as_json, wait)
            return
        cat = _catalog(s, wait)
        try:
            cat.start_run("run")
            with _Bars(not as_json) as bars:
                reports = pipeline.run_all(_ctx(s, cat, bars), source=source)
            reports += _alerts_after_run(s, cat)
            cat.finish_run()
            failures = cat.run_failures()
        finally:
            cat.close()
        _print_reports(reports, as_json)
        _failure_summary(reports, failures, as_json)


def _on_postgresql(s: Any) -> bool:
    from routewatch.core.catalog_url import parse_catalog_url

    return parse_catalog_url(s.catalog.url, s.data_dir).backend == "postgresql"


def _run_queued(s: Any, config: Path | None, source: str | None, as_json: bool, wait: float) -> None:
    """`run` on PostgreSQL: a crawl job per source, every pending post's next stage; optionally wait for the queues."""
    import time

    from routewatch.distributed.control import queue_status, wait_idle
    from routewatch.distributed.tasks import open_pipeline

    p = open_pipeline(s, config)
    with p.app.open():
        sources = p.enqueue_sources(source)
        with p.catalog() as cat:
            stages = p.advance(cat, None)
        if not as_json:
            _say(err, f"enqueued crawl of {len(sources)} source(s): {', '.join(sources) or 'none (already queued)'}; "
                 "pending posts: " + (", ".join(f"{k} {v}" for k, v in stages.items() if v) or "none"))
        result: dict[str, Any] = {"enqueued": {"crawl": sources, **stages}}
        if wait > 0:
            t0 = time.monotonic()
            deadline = t0 + wait

            def say(line: str) -> None:
                if time.monotonic() > deadline:
                    raise RouteWatchError(Code.E972, f"the queues are not empty after {wait:g} s ({line})")
                if not as_json:
                    err.print(f"[{time.monotonic() - t0:6.1f}s] {line}", highlight=False)

            result["queues"] = wait_idle(p, say)
            result["seconds"] = round(time.monotonic() - t0, 1)
        else:
            result["queues"] = queue_status(p)["queues"]
    if as_json:
        _json_line(result)


@app.command()
def worker(queues: Annotated[str | None, typer.Option("--queues", help="Comma-separated stage queues to serve "
                                                      "(crawl, fetch, transcribe, ocr, extract, index); default all.")] = None,
           concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Jobs run at once.")] = 1,
           name: Annotated[str | None, typer.Option("--name", help="Worker name in logs.")] = None,
           config: ConfigOpt = None, data_dir: DataDir = None) -> None:
    """Run a worker of the distributed mode on the PostgreSQL catalog until SIGINT/SIGTERM (E970 on SQLite).

    Example: routewatch worker --queues transcribe,ocr
    """
    import os

    from routewatch.distributed.tasks import catalog_dsn, queue_names
    from routewatch.distributed.worker import run_worker

    with _errors():
        s = _settings(data_dir, config)
        catalog_dsn(s)  # E970 on an SQLite catalog
        qs = queue_names(queues.split(",")) if queues else None
        run_worker(s, config, qs, concurrency, name or f"rw-{os.getpid()}")


@app.command()
def crawl(source: Annotated[str | None, typer.Option(help="Only this configured source.")] = None,
          url: Annotated[list[str] | None, typer.Option("--url", help="Crawl these URLs instead (repeatable).")] = None,
          config: ConfigOpt = None, data_dir: DataDir = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """Discover posts from the configured sources, or from the given page, feed, post URLs or ytsearchN:QUERY.

    Example: routewatch crawl --url https://t.me/s/ruta_norte
    """
    _stage_command("crawl", data_dir, config, as_json, wait, source=source, urls=url)


@app.command("import")
def import_cmd(kind: Annotated[str, typer.Argument(help="zeeschuimer (NDJSON) or 4cat (CSV).")],
               file: Annotated[Path, typer.Argument(help="The export file.")],
               source: Annotated[str | None, typer.Option(help="Source name to record (default: kind:file name).")] = None,
               encoding: Annotated[str | None, typer.Option(help="The file's text encoding when not UTF-8 (e.g. cp1252, gbk); "
                                                            "default: detected.")] = None,
               data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False,
               wait: WaitOpt = 0.0) -> None:
    """Add posts from a researcher's export (Zeeschuimer NDJSON, 4CAT CSV), keeping its capture metadata.

    Example: routewatch import zeeschuimer tiktok-2026-11.ndjson
    """
    from crawlers.imports import import_file

    with _errors():
        s = _settings(data_dir, config)
        cat = _catalog(s, wait)
        try:
            cat.start_run(f"import {kind}")
            rep = import_file(kind, file, cat, s.crawl, source_name=source, encoding=encoding)
            cat.finish_run()
        finally:
            cat.close()
        if as_json:
            _json_line(rep.to_dict())
        else:
            bad = ", ".join(f"{k}: {v}" for k, v in rep.failed_by_code.items()) or "none"
            _say(err, f"read {rep.read} lines: {rep.imported} new posts, {rep.duplicates} already known, "
                      f"bad lines {bad}. Next: routewatch fetch")


@app.command()
def recheck(older_than: Annotated[str, typer.Option("--older-than", help="Revisit posts not checked for this long (7d, 12h, 30m).")] = "7d",
            limit: Annotated[int | None, typer.Option(help="At most this many posts.")] = None,
            config: ConfigOpt = None, data_dir: DataDir = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """Revisit known posts and record whether each is available, deleted, private, geo-blocked or its account gone.

    Example: routewatch recheck --older-than 7d
    """
    from crawlers.recheck import parse_age
    from crawlers.recheck import recheck as run_recheck

    with _errors():
        age = parse_age(older_than)
        s = _settings(data_dir, config)
        cat = _catalog(s, wait)
        try:
            cat.start_run("recheck")
            rep = run_recheck(cat, s.crawl, age, limit=limit)
            if sum(rep.states.values()):  # a post whose state changed is indexed again (search --state)
                from routewatch.pipeline import stage_index

                try:
                    stage_index(_ctx(s, cat, lambda *_: None))
                except RouteWatchError as e:  # the states are kept; the index catches up on `routewatch index`
                    _say(err, f"{e.code.value} search index not updated ({e.reason}): run `routewatch index`")
            cat.finish_run()
        finally:
            cat.close()
        if as_json:
            _json_line(rep.to_dict())
        else:
            states = ", ".join(f"{k}: {v}" for k, v in sorted(rep.states.items())) or "none"
            bad = ", ".join(f"{k}: {v}" for k, v in rep.failed_by_code.items()) or "none"
            _say(err, f"rechecked {rep.checked} posts: {states}; unreachable {bad}")


@app.command()
def fetch(config: ConfigOpt = None, data_dir: DataDir = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0,
          retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Also retry items that failed before.")] = False) -> None:
    """Download the media of crawled posts (yt-dlp), content-addressed, with subtitles.

    Example: routewatch fetch --retry-failed
    """
    _stage_command("fetch", data_dir, config, as_json, wait, retry_failed=retry_failed)


@app.command()
def transcribe(config: ConfigOpt = None, data_dir: DataDir = None, as_json: JsonOpt = False,
               wait: WaitOpt = 0.0) -> None:
    """Transcribe fetched media (faster-whisper); identical audio is transcribed once.

    Example: routewatch transcribe
    """
    _stage_command("transcribe", data_dir, config, as_json, wait)


@app.command()
def ocr(config: ConfigOpt = None, data_dir: DataDir = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """Read the words on screen of fetched videos (burned-in captions); a repost's file is read once.

    Example: routewatch ocr
    """
    _stage_command("ocr", data_dir, config, as_json, wait)


@app.command()
def extract(config: ConfigOpt = None, data_dir: DataDir = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """Extract countries, route, places, costs and bribes from captions, subtitles and transcripts.

    Example: routewatch extract
    """
    _stage_command("extract", data_dir, config, as_json, wait)


@app.command()
def index(rebuild: Annotated[bool, typer.Option("--rebuild", help="Recreate the index from the catalog.")] = False,
          config: ConfigOpt = None, data_dir: DataDir = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """Index extracted posts for search and trends (SQLite FTS5 by default).

    Example: routewatch index --rebuild
    """
    _stage_command("index", data_dir, config, as_json, wait, rebuild=rebuild)


@app.command()
def status(data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False,
           check: Annotated[bool, typer.Option("--check", help="Also verify every page of the catalog file "
                                               "(SQLite integrity check; E920 when damaged).")] = False) -> None:
    """Counts per stage and source, failures by error code.

    Example: routewatch status --json
    """
    from routewatch.view import policy
    from routewatch.web.public import deep_clean

    with _errors():
        s = _settings(data_dir, config)
        if not s.catalog_exists():
            raise RouteWatchError(Code.E903, f"no catalog in {s.data_dir}: run `routewatch demo` or `routewatch run`")
        cat = _catalog(s, write=False)
        try:
            if check:
                cat.check_integrity()
            # names as the web Status page shows them: one output policy (routewatch.view)
            scrub = policy(s, cat)
            info = deep_clean(scrub, cat.status())
            info["privacy"] = scrub.provenance()
        finally:
            cat.close()
        if _on_postgresql(s):
            info["distributed"] = _queue_status(s, config)
        if as_json:
            _json_line(info)
            return
        t = Table("stage", "done", "skipped", "failed", "pending", title=_cell(f"RouteWatch status — {s.data_dir}"))
        for st, d in info["stages"].items():
            _row(t, st, d["done"], d["skipped"], d["failed"], d["pending"])
        out.print(t)
        if info.get("distributed"):
            _print_queues(info["distributed"])
        if info["health"]:
            _print_health(info["health"])
        if info["failures"]:
            t3 = Table("stage", "code", "count", Column("example", overflow="fold"), title="failures by code")
            for f in info["failures"]:
                _row(t3, f["stage"], f["code"], f["count"], _shorten(f["example"] or "", 200))
            out.print(t3)


def _queue_status(s: Any, config: Path | None) -> dict[str, Any]:
    """status on PostgreSQL: the job queues and workers (empty before the first `run` / `worker`)."""
    from routewatch.distributed.control import queue_status
    from routewatch.distributed.tasks import Pipeline, Runtime

    p = Pipeline(Runtime(s, config))
    with p.app.open():
        try:
            return queue_status(p)
        except Exception as e:  # noqa: BLE001 - no job tables yet: nothing was ever queued
            if "procrastinate" not in str(e):
                raise
            return {"queues": {}, "workers": []}


def _print_queues(d: dict[str, Any]) -> None:
    t = Table("queue", "pending", "running", "failed", "stalled", title="job queues")
    for q, v in d["queues"].items():
        _row(t, q, v["pending"], v["running"], v["failed"], v["stalled"])
    out.print(t)
    t2 = Table("worker", "last heartbeat", "seconds ago", "alive", title="workers")
    for w in d["workers"]:
        _row(t2, w["id"], w["last_heartbeat"], w["seconds_ago"], "yes" if w["alive"] else "no")
    out.print(t2)


@app.command("migrate-catalog")
def migrate_catalog(
    to: Annotated[str, typer.Option("--to", help="The PostgreSQL catalog to copy into: postgresql://USER@HOST:PORT/DATABASE "
                                    "(the database must exist; its tables are created).")],
    batch: Annotated[int, typer.Option("--batch", min=1, max=100_000, help="Rows per transaction.")] = 1000,
    data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0,
) -> None:
    """Copy this data dir's SQLite catalog into PostgreSQL, table by table; run it again to resume.

    Verified by row counts and a content hash per table: exits 0 only when every table matches (E962 when one
    differs). The SQLite index is not copied: with PostgreSQL the index is Elasticsearch (`index --rebuild`).

    Example: routewatch migrate-catalog --to postgresql://rwpg@127.0.0.1:5450/routewatch
    """
    import time

    from routewatch.core.catalog import Catalog, open_catalog
    from routewatch.core.catalog_copy import copy_catalog
    from routewatch.core.catalog_url import parse_catalog_url
    from routewatch.core.pgdb import redact

    with _errors():
        s = _settings(data_dir, config)
        if parse_catalog_url(to, s.data_dir).backend != "postgresql":
            raise RouteWatchError(Code.E960, f"--to must be a postgresql:// URL, not {redact(to)[:60]!r}")
        if not s.catalog_path.exists():
            raise RouteWatchError(Code.E903, f"no SQLite catalog at {s.catalog_path}: nothing to copy")
        t0 = time.monotonic()
        src = Catalog(s.catalog_path, lock_timeout=wait)  # the lock keeps writers out while it is read
        try:
            dst = open_catalog(s.data_dir, url=to)
            try:
                checks = copy_catalog(src, dst, batch=batch, progress=None if as_json else
                                      lambda t, n: _say(err, f"{t}: {n:,} rows copied"))
            finally:
                dst.close()
        finally:
            src.close()
        seconds = round(time.monotonic() - t0, 2)
        bad = [c.table for c in checks if not c.ok]
        if as_json:
            _json_line({"to": redact(to), "seconds": seconds, "ok": not bad, "tables": [c.as_dict() for c in checks]})
        else:
            t = Table("table", "copied now", "rows in SQLite", "rows in PostgreSQL", "hash in SQLite",
                      "hash in PostgreSQL", "same", title=_cell(f"migrate-catalog → {redact(to)}"))
            for c in checks:
                _row(t, c.table, f"{c.copied:,}", f"{c.source_rows:,}", f"{c.copy_rows:,}", c.source_hash, c.copy_hash,
                     "yes" if c.ok else "NO")
            out.print(t)
            _say(out, f"{sum(c.source_rows for c in checks):,} rows in {len(checks)} tables, {seconds} s")
        if bad:
            raise RouteWatchError(Code.E962, f"the copy differs from the SQLite catalog in {', '.join(bad)}: run "
                                  "the same command again (it resumes), and if it still differs, report it")


def _print_health(health: dict[str, Any]) -> None:
    """Collector health: a table on a wide terminal, one line per source below 100 columns (names whole)."""
    def when(d: dict[str, Any]) -> str:
        return (d.get("last_run_at") or "")[:16].replace("T", " ") or str(d["last_run"])

    def joined(m: dict[str, Any]) -> str:
        return ", ".join(f"{k}: {v}" for k, v in m.items())

    if out.width < 100:
        _say(out, "collector health (last run, UTC)")
        for name, d in health.items():
            parts = [f"last run {when(d)}", f"discovered {d['discovered']}"]
            if d["median_previous"] is not None:
                parts.append(f"median before {d['median_previous']:g}")
            parts.append(f"fetched {d['fetched']}")
            parts += [f"skipped {joined(d['skipped'])}"] if d["skipped"] else []
            parts += [f"failed {joined(d['failed'])}"] if d["failed"] else []
            out.print(Text.assemble((safe_text(name, one_line=True), "bold"), "  ", safe_text("; ".join(parts)), "  ",
                                    (safe_text(d["flag"]), "bold red") if d["flag"] else ("ok", "")), soft_wrap=False)
        return
    t2 = Table("source", Column("last run (UTC)", no_wrap=True), "discovered", "median before", "fetched", "skipped",
               "failed", "health", title="collector health")
    for name, d in health.items():
        _row(t2, name, when(d), d["discovered"], "" if d["median_previous"] is None else f"{d['median_previous']:g}",
             d["fetched"], joined(d["skipped"]), joined(d["failed"]), _cell(d["flag"], "bold red") if d["flag"] else "ok")
    out.print(t2)


# ---- search ---------------------------------------------------------------------------------------------
QUERY_HELP = ('Words are AND-ed; OR between alternatives; -word or NOT word excludes posts that contain it '
              'anywhere; "exact phrase"; (parentheses) group. Chinese, Traditional and accents are folded. '
              'Empty: every post, newest first.')
CountryOpt = Annotated[str | None, typer.Option(help="Country: ISO code (PA) or name in zh/en/es (Panamá, 巴拿马).")]
RouteOpt = Annotated[str | None, typer.Option(help="Ordered route subsequence, quoted: 'EC>CO>PA' (codes or names).")]
PlatformOpt = Annotated[str | None, typer.Option(help="telegram, youtube, tiktok, demo, web …")]
LangOpt = Annotated[str | None, typer.Option(help="zh, en or es.")]
SinceOpt = Annotated[str | None, typer.Option(help="Posted on or after DATE (YYYY-MM-DD).")]
UntilOpt = Annotated[str | None, typer.Option(help="Posted on or before DATE (YYYY-MM-DD).")]
BribeOpt = Annotated[bool, typer.Option("--has-bribe", help="Only posts that mention a bribe.")]
MinCostOpt = Annotated[float | None, typer.Option(help="Quoted cost at least AMOUNT (needs --currency).")]
MaxCostOpt = Annotated[float | None, typer.Option(help="Quoted cost at most AMOUNT (needs --currency).")]
CurrencyOpt = Annotated[str | None, typer.Option(help="Currency of the cost filter (ISO, e.g. USD).")]
MinConfOpt = Annotated[float | None, typer.Option(
    "--min-confidence", help="Facts below this confidence (0-1) match no filter and count nowhere "
                             "[default: extract.aggregate_min_confidence].")]
RelevantSearchOpt = Annotated[bool | None, typer.Option(
    "--relevant/--all", help="Only posts judged relevant, or every post with its facts [default: --all].",
    show_default=False)]
RelevantAggOpt = Annotated[bool | None, typer.Option(
    "--relevant/--all", help="Count relevant posts only, or every post with its facts [default: --relevant].",
    show_default=False)]
StateOpt = Annotated[str | None, typer.Option(
    help="Only posts `routewatch recheck` last saw in this state: available, deleted, private, geo_blocked, "
         "account_gone, or unchecked.")]


@app.command()
def search(
    query: Annotated[str, typer.Argument(help=QUERY_HELP)] = "",
    country: CountryOpt = None, route: RouteOpt = None, platform: PlatformOpt = None, lang: LangOpt = None,
    since: SinceOpt = None, until: UntilOpt = None, has_bribe: BribeOpt = False,
    min_cost: MinCostOpt = None, max_cost: MaxCostOpt = None, currency: CurrencyOpt = None,
    min_confidence: MinConfOpt = None, relevant: RelevantSearchOpt = None, state: StateOpt = None,
    limit: Annotated[int, typer.Option(help="Hits per page (1-1000).")] = 20,
    offset: Annotated[int, typer.Option(help="Hits to skip (the next page: --offset 20).")] = 0,
    sort: Annotated[str, typer.Option(help="relevance (best first) or date (newest first).")] = "relevance",
    data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:
    """Search captions, subtitles and transcripts, with filters.

    Query syntax: words are AND-ed (darien gap); OR (走线 OR 润); -word or NOT word excludes every post that
    contains it (darien -tapachula); "exact phrase"; (parentheses). Malformed syntax is refused (E505-E508).
    Prints "N of TOTAL (exact)" or "(at least)" and full post ids (for evidence / trace / the post page).

    Example: routewatch search 厄瓜多尔 --route 'EC>CO' --json
    Example: routewatch search --country PA --min-confidence 0.8 --relevant
    Example: routewatch search 走线 --state unchecked --limit 5
    """
    from index.settings import SQLITE
    from routewatch.pipeline import open_index
    from routewatch.search_input import build_query, describe_total

    with _errors():
        s = _settings(data_dir, config)
        q = build_query(query, country=country, route=route, platform=platform, lang=lang, since=since,
                        until=until, has_bribe=has_bribe, min_cost=min_cost, max_cost=max_cost,
                        currency=currency, limit=limit, offset=offset, sort=sort,
                        names={"limit": "--limit", "offset": "--offset"}, min_confidence=min_confidence,
                        relevant=relevant, state=state)
        if s.index.backend == SQLITE and not s.catalog_path.exists():
            raise RouteWatchError(Code.E903, f"no index in {s.data_dir}: run `routewatch demo` or `routewatch run`")
        idx = open_index(s, read_only=True)
        try:
            found = idx.search(q)
        finally:
            idx.close()
        hits = _public_hits(found, s)
        _add_filter_matches(hits, q, s)
        total, relation = found.total, found.relation
        if as_json:
            _json_line({"query": query, "count": len(hits), "total": total, "total_relation": relation,
                        "offset": q.offset, "limit": q.limit, "sort": q.sort, "hits": hits})
            return
        summary = describe_total(len(hits), total, relation, q.offset)
        if not hits:
            _say(out, f"no hits ({summary})")
            return
        _print_hits(hits, summary)
        if q.offset + len(hits) < total:
            _say(err, f"next page: --offset {q.offset + len(hits)}")


def _print_hits(hits: list[dict[str, Any]], title: str) -> None:
    """Hits as a table on a wide terminal (>= 120 columns), as one block per hit on a narrow one or a pipe
    (80 columns): post ids are printed whole on a line of their own, never cut; snippets wrap."""
    def secs(h: dict[str, Any]) -> str:
        return f"{h['start_sec']:.1f}–{h['end_sec']:.1f} s" if h.get("start_sec") is not None else ""

    _say(out, title)
    if out.width >= 120:
        t = Table(Column("post", no_wrap=True, min_width=max(len(h["post_id"]) for h in hits)),
                  Column("platform", no_wrap=True), Column("posted", no_wrap=True), Column("source", no_wrap=True),
                  Column("seconds", no_wrap=True), Column("snippet", overflow="fold", ratio=1))
        for h in hits:
            snip = _snippet(h["snippet"], h["span"])
            for r in h.get("matched") or []:
                from routewatch.matched import describe

                snip.append("\nmatched: " + safe_text(describe(r), one_line=True), style="dim")
            snip.append("\n" + _by_line(h), style="dim")
            _row(t, h["post_id"], h["platform"], (h["posted_at"] or "")[:10], h["source"], secs(h), snip)
        out.print(t)
        return
    for h in hits:
        head = Text.assemble((safe_text(h["post_id"], one_line=True), "bold"), "  ",
                             safe_text(" · ".join(x for x in (h["platform"], (h["posted_at"] or "")[:10],
                                                               h["source"], secs(h)) if x), one_line=True))
        out.print(head, soft_wrap=True, overflow="ignore", crop=False)
        body = _snippet(h["snippet"], h["span"])
        body.pad_left(2)
        out.print(body, overflow="fold")
        _print_matched(h)
        out.print(Text("  " + _by_line(h), style="dim"), overflow="fold")


def _by_line(h: dict[str, Any]) -> str:
    """Who posted it and where, as routewatch.view renders it: "by user-… · URL (not a link: …)"."""
    from routewatch.view import URL_NOTE

    url = safe_text(h.get("url") or "", one_line=True)
    if url and not h.get("url_is_link"):
        url += f" ({URL_NOTE})"
    return " · ".join(x for x in (f"by {safe_text(h['author'], one_line=True)}" if h.get("author") else "", url) if x)


def _add_filter_matches(hits: list[dict[str, Any]], q: Any, s: Any) -> None:
    """A search with filters and no words: each hit says which fact matched and where (routewatch/matched.py)."""
    from routewatch.core.privacy import redact_text
    from routewatch.matched import filter_matches, is_filter_only

    if not hits or not is_filter_only(q):
        return
    cat = _read_catalog(s)
    try:
        for h in hits:
            rows = filter_matches(cat.get_facts(h["post_id"]) or {}, q)
            if s.privacy.redact_contacts:
                for r in rows:
                    r["evidence"]["text"] = redact_text(r["evidence"]["text"])
            h["matched"] = rows
    finally:
        cat.close()


def _print_matched(h: dict[str, Any]) -> None:
    from routewatch.matched import describe

    for r in h.get("matched") or []:
        line = Text("  matched: " + safe_text(describe(r), one_line=True), style="dim")
        out.print(line, overflow="fold")


def _public_hits(found: Any, settings: Any) -> list[dict[str, Any]]:
    """Search hits with each post as every surface shows it (routewatch.view: author, URL, platform id)."""
    from routewatch.core.privacy import redact_text
    from routewatch.view import PostView, policy

    if not found:
        return []
    try:
        cat = _read_catalog(settings)
    except RouteWatchError:  # an index without its catalog (an index-only file): hits as the index has them
        cat = None
    try:
        scrub = policy(settings, cat)
        hits = []
        for h in found:
            post = cat.get_post(h.post_id) if cat is not None else None
            v = PostView.of(post, scrub) if post is not None else None
            hits.append({
                "post_id": h.post_id, "url": v.url if v else scrub.url_shown(h.url), "url_is_link": bool(v and v.url_is_link),
                "platform": h.platform, "platform_id": v.platform_id if v else None,
                "author": v.author if v else "", "posted_at": h.posted_at,
                "snippet": redact_text(h.snippet, scrub.public_accounts) if scrub.redact else h.snippet,
                "source": h.source, "unit_id": h.unit_id, "score": round(h.score, 4),
                "span": list(h.span) if h.span else None, "start_sec": h.start_sec, "end_sec": h.end_sec,
                "privacy": scrub.provenance()["mode"],
            })
        return hits
    finally:
        if cat is not None:
            cat.close()


@app.command()
def trends(by: Annotated[str, typer.Option(help="week, day or month.")] = "week",
           field: Annotated[str, typer.Option(help="country, leg, term or platform.")] = "country",
           query: Annotated[str, typer.Argument(help="Only posts this search finds (same syntax as search).")] = "",
           country: CountryOpt = None, route: RouteOpt = None, platform: PlatformOpt = None, lang: LangOpt = None,
           since: SinceOpt = None, until: UntilOpt = None, has_bribe: BribeOpt = False,
           min_cost: MinCostOpt = None, max_cost: MaxCostOpt = None, currency: CurrencyOpt = None,
           min_confidence: MinConfOpt = None, relevant: RelevantAggOpt = None, state: StateOpt = None,
           data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Counts per period by country, leg, term or platform, with each period's total posts; takes the same
    query and filters as search (relevant posts only, unless --all).

    Example: routewatch trends "走线 OR 润" --by month --field country
    Example: routewatch trends --field leg --by month --min-confidence 0.3 --all
    """
    from index.settings import SQLITE
    from routewatch.pipeline import open_index
    from routewatch.search_input import build_query

    with _errors():
        s = _settings(data_dir, config)
        q = build_query(query, country=country, route=route, platform=platform, lang=lang, since=since,
                        until=until, has_bribe=has_bribe, min_cost=min_cost, max_cost=max_cost, currency=currency,
                        min_confidence=min_confidence, relevant=relevant, state=state)
        if s.index.backend == SQLITE and not s.catalog_path.exists():
            raise RouteWatchError(Code.E903, f"no index in {s.data_dir}: run `routewatch demo` or `routewatch run`")
        idx = open_index(s, read_only=True)
        try:
            rows = idx.trends(field, by, q)
        finally:
            idx.close()
        if as_json:
            _json_line({"by": by, "field": field, "query": query, "rows": rows})
            return
        if not rows:
            _say(out, "no posts in any period" + (" for this query" if query or q != type(q)() else ""))
            return
        t = Table("period", Column(safe_text(field, one_line=True)), "count", "total")
        for r in rows:
            _row(t, r["period"], r["value"], r["count"], r["total"])
        out.print(t)


# ---- researchers and fact-checkers -------------------------------------------------------------------------
@app.command()
def digest(week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W45.")],
           out: Annotated[Path, typer.Option("--out", help="Output directory.")],
           min_confidence: MinConfOpt = None, relevant: RelevantAggOpt = None,
           data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False,
           force: ForceOpt = False) -> None:
    """Weekly digest: DIR/digest.html, DIR/digest.md and chart images (counts under 5 shown as <5).

    Example: routewatch digest --week 2026-W45 --out digests/2026-W45
    Example: routewatch digest --week 2026-W45 --min-confidence 0.8 --all --out digests/2026-W45-all
    """
    from routewatch.digest import build_digest, write_digest
    from routewatch.search_input import check_confidence

    with _errors():
        s = _settings(data_dir, config)
        cat = _read_catalog(s)
        try:
            d = build_digest(cat, s, week, min_confidence=check_confidence(min_confidence), relevant=relevant)
        finally:
            cat.close()
        paths = write_digest(d, out, data_dir=s.data_dir, force=force)
        if as_json:
            _json_line({"week": week, "files": paths, "digest": d})
        else:
            out.mkdir(parents=True, exist_ok=True)
            _say(err, f"digest for {week}: {paths['digest.html']} and {paths['digest.md']}")


@app.command()
def trace(claim: Annotated[str, typer.Argument(help="The claim, in Chinese, English or Spanish, or a post id / URL.")],
          limit: Annotated[int, typer.Option(help="Maximum groups.")] = 20,
          data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Earliest and related posts for a claim: a timeline with each post's stance and deciding words, and
    near-duplicate groups with evidence per post. The claim may also be a post id, an unambiguous id prefix
    or a post URL: that post's caption is traced.

    Example: routewatch trace "厄瓜多尔免签" --json
    """
    from routewatch.postref import find_post, looks_like_ref
    from routewatch.trace import trace_claim

    with _errors():
        if not claim.strip():
            raise RouteWatchError(Code.E903, "give a claim to trace, e.g. routewatch trace \"厄瓜多尔免签\"")
        if limit < 1 or limit > 1000:
            raise RouteWatchError(Code.E903, f"--limit must be between 1 and 1000, got {limit}")
        s = _settings(data_dir, config)
        cat = _read_catalog(s)
        try:
            pid = find_post(cat, claim) if looks_like_ref(claim) else None
            if pid is not None:  # a post id, prefix or URL: trace what that post claims (its caption)
                post = cat.get_post(pid)
                claim = (post.caption if post else "") or next((u.text for u in cat.units(pid) if u.text), claim)
                if not as_json:
                    _say(err, f"tracing the caption of post {pid}")
            res = trace_claim(cat, s, claim, limit=limit)
        finally:
            cat.close()
        if as_json:
            _json_line(res)
            return
        if not res["groups"]:
            _say(out, f"no post matches {claim!r}")
            return
        from routewatch.trace import summary_lines

        for line in summary_lines(res):
            _say(out, line)
        if out.width < 120:  # a narrow terminal: one block per post instead of ten squeezed columns
            for e in res["timeline"]:
                secs = f", {e['start_sec']:.1f}–{e['end_sec']:.1f} s" if e.get("start_sec") is not None else ""
                _say(out, f"{(e['posted_at'] or 'unknown')[:10]}  {e['post_id']} ({e['platform']}, group {e['group']}"
                          f", captured {(e['captured_at'] or '')[:10]})")
                _say(out, f"  {e['stance']['label']}: {' · '.join(e['stance']['words'])}  [{e['source']}{secs}]")
                out.print(Text("  ").append_text(_snippet(e["snippet"].replace("\n", " "), e.get("span"))))
                out.print(Text("  " + _by_line(e), style="dim"), overflow="fold")
            return
        t = Table("posted", "captured", "post", "platform", "group", "stance", "deciding words", "source", "seconds",
                  "snippet", title="timeline, by posting time")
        t.columns[2].no_wrap = True
        t.columns[-1].overflow = "fold"
        for e in res["timeline"]:
            secs = f"{e['start_sec']:.1f}–{e['end_sec']:.1f}" if e.get("start_sec") is not None else ""
            _row(t, (e["posted_at"] or "unknown")[:10], (e["captured_at"] or "")[:10], e["post_id"], e["platform"],
                 e["group"], e["stance"]["label"], " · ".join(e["stance"]["words"]), e["source"], secs,
                 _snippet(e["snippet"], e.get("span")).append("\n" + _by_line(e), style="dim"))
        out.print(t)


@app.command()
def evidence(post_id: Annotated[str, typer.Argument(help="Post id (from search or trace), an unambiguous id prefix "
                                                       "or the post's URL.")],
             output: Annotated[Path, typer.Option("-o", "--output", help="Bundle zip to write.")],
             data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False,
             force: ForceOpt = False) -> None:
    """Evidence bundle: snapshot, media, hashes, transcript, extraction, provenance and a sha256 manifest.

    Example: routewatch evidence telegram-58d7 -o evidence.zip
    """
    from routewatch.core.outputs import check_output
    from routewatch.evidence import build_bundle, verify_bundle
    from routewatch.postref import resolve_post

    with _errors():
        s = _settings(data_dir, config)
        check_output(output, data_dir=s.data_dir, force=force)  # a refused -o is said before any work
        cat = _read_catalog(s)
        try:
            path = build_bundle(cat, s, resolve_post(cat, post_id), output, force=force)
        finally:
            cat.close()
        problems = verify_bundle(path) if path.is_file() else []  # a FIFO written with --force is not re-read
        if as_json:
            _json_line({"bundle": str(path), "verified": not problems, "problems": problems})
        else:
            _say(err, f"evidence bundle {path} ({'verified' if not problems else 'PROBLEMS: ' + '; '.join(problems)})")


@app.command()
def verify(bundle: Annotated[Path, typer.Argument(help="An evidence bundle zip (from `routewatch evidence`).")],
           data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Check every hash of an evidence bundle and its signed statement; say what each proves and what it does not.
    Exits 0 only when everything matches; otherwise names each changed, added or missing file. Needs no
    data dir (--data-dir is accepted and ignored): a fact-checker runs it on the bundle alone.

    Example: routewatch verify evidence.zip
    """
    from routewatch.evidence import verify_report

    with _errors():
        if not bundle.is_file():
            raise RouteWatchError(Code.E903, f"no bundle at {bundle}")
        checks = verify_report(bundle)
        ok = bool(checks) and all(c.ok for c in checks)
        if as_json:
            _json_line({"bundle": str(bundle), "verified": ok,
                        "checks": [{"file": c.file, "ok": c.ok, "what": c.what, "proves": c.proves,
                                    "does_not_prove": c.not_proves} for c in checks]})
        else:
            for c in checks:
                _say(out, f"{'ok  ' if c.ok else 'FAIL'} {c.file}: {c.what}")
                if c.ok:
                    _say(out, f"       proves: {c.proves}")
                    _say(out, f"       does not prove: {c.not_proves}")
            _say(out, "verified: every hash matches" if ok else "NOT verified")
        if not ok:
            raise typer.Exit(1)


@app.command()
def export(fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or parquet.")],
           output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
           query: Annotated[str, typer.Argument(help="Search query, as for `search` (none: every post).")] = "",
           country: CountryOpt = None, route: RouteOpt = None, platform: PlatformOpt = None, lang: LangOpt = None,
           since: SinceOpt = None, until: UntilOpt = None, has_bribe: BribeOpt = False,
           min_cost: MinCostOpt = None, max_cost: MaxCostOpt = None, currency: CurrencyOpt = None,
           min_confidence: MinConfOpt = None, relevant: RelevantSearchOpt = None, state: StateOpt = None,
           sort: Annotated[str, typer.Option(help="relevance (best first) or date (newest first).")] = "relevance",
           bom: Annotated[bool, typer.Option("--bom", help="CSV: start with a UTF-8 byte order mark (for Excel).")] = False,
           data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False,
           force: ForceOpt = False) -> None:
    """Export the posts a search finds (all pages; no query and no filter: every post) with media, text
    units, transcripts, facts and provenance. CSV adds flat columns (countries EC;CO;PA, route EC>CO>PA,
    first cost, bribe count) beside the JSON ones.

    Example: routewatch export --format parquet -o posts.parquet
    Example: routewatch export --format csv --relevant --min-confidence 0.8 --state unchecked -o sure.csv
    """
    from routewatch.export import check_format, is_everything, matching_ids
    from routewatch.export import export as do_export
    from routewatch.search_input import build_query

    with _errors():
        check_format(fmt)
        s = _settings(data_dir, config)
        q = build_query(query, country=country, route=route, platform=platform, lang=lang, since=since,
                        until=until, has_bribe=has_bribe, min_cost=min_cost, max_cost=max_cost,
                        currency=currency, sort=sort, min_confidence=min_confidence, relevant=relevant, state=state)
        cat = _read_catalog(s)
        try:
            ids, complete = None, True
            if not is_everything(q):
                from routewatch.pipeline import open_index

                idx = open_index(s, read_only=True)
                try:
                    ids, complete = matching_ids(idx, q)
                finally:
                    idx.close()
            n = do_export(cat, s, fmt, output, force=force, post_ids=ids, bom=bom)
        finally:
            cat.close()
        if as_json:
            _json_line({"format": fmt, "path": str(output), "records": n, "complete": complete})
        else:
            _say(err, f"exported {n} posts → {output}")
            if not complete:
                _say(err, "the search found more posts than it can page through; narrow it to export the rest")


def _alerts_after_run(s: Any, cat: Any) -> list[Any]:
    """After a run: the new matches of every saved search, stored (and posted to their webhooks) as a
    report row "alerts" (done = new matches, failed = saved searches whose check or webhook failed)."""
    import time

    from routewatch import alerts
    from routewatch.core.catalog import now_iso
    from routewatch.core.records import Failure
    from routewatch.core.stage import StageReport

    if not cat.saved_search_rows():
        return []
    from routewatch.pipeline import open_index

    rep, t0 = StageReport("alerts"), time.monotonic()
    idx = open_index(s, read_only=True)
    try:
        new = alerts.check(cat, idx)
        rep.done = sum(len(v) for v in new.values())
        rep.extra["new"] = {k: len(v) for k, v in new.items()}
        sent = alerts.deliver(cat, alerts.scrubber_for(s, cat), **alerts.webhook_options(s))
        rep.extra["delivered"] = sent["delivered"]
        for name, why in sent["failed"].items():
            code, _, reason = why.partition(" ")
            cat.record_failure(Failure("alerts", name, code, reason, now_iso()))
            rep.failed += 1
    except RouteWatchError as e:
        cat.record_failure(Failure("alerts", "saved searches", e.code.value, e.reason, now_iso()))
        rep.failed += 1
    finally:
        idx.close()
    rep.seconds = time.monotonic() - t0
    return [rep]


SavedAction = Annotated[str, typer.Argument(help="add, list or rm.")]


@app.command()
def saved(action: SavedAction,
          name: Annotated[str, typer.Argument(help="Name of the saved search (letters, digits, _ . -).")] = "",
          query: Annotated[str, typer.Argument(help="Search query, as for `search` (add only).")] = "",
          country: CountryOpt = None, route: RouteOpt = None, platform: PlatformOpt = None, lang: LangOpt = None,
          since: SinceOpt = None, until: UntilOpt = None, has_bribe: BribeOpt = False,
          min_cost: MinCostOpt = None, max_cost: MaxCostOpt = None, currency: CurrencyOpt = None,
          webhook: Annotated[str | None, typer.Option(help="POST new matches as JSON to this http(s) URL.")] = None,
          changes: Annotated[bool, typer.Option("--changes", help="Also alert the week changes (places, legs, terms, "
                                                "price levels beyond chance) among its new posts.")] = False,
          data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """Saved searches: `saved add NAME QUERY [filters]`, `saved list`, `saved rm NAME`. What a saved search
    matches when it is added is its baseline; `routewatch alerts` lists what matches after.

    Example: routewatch saved add darien 达连 --country PA
    """
    from routewatch import alerts

    with _errors():
        if action not in ("add", "list", "rm"):
            raise RouteWatchError(Code.E903, f"saved expects add, list or rm, not {action!r}")
        s = _settings(data_dir, config)
        if action == "list":
            cat = _read_catalog(s)
            try:
                rows = [x.public() for x in alerts.saved(cat)] if _has_saved(cat) else []
                unseen = {r["name"]: len(alerts.pending(cat, r["name"])) for r in rows}
            finally:
                cat.close()
            if as_json:
                _json_line({"saved_searches": [{**r, "unseen": unseen[r["name"]]} for r in rows]})
                return
            if not rows:
                _say(out, "no saved searches (add one: routewatch saved add NAME QUERY [filters])")
                return
            t = Table("name", "query", "filters", "unseen", "checked")
            for r in rows:
                _row(t, r["name"], r["query"], " ".join(f"--{k.replace('_', '-')} {v}" for k, v in r["filters"].items()),
                     unseen[r["name"]], (r["checked_at"] or "")[:16])
            out.print(t)
            return
        if not name:
            raise RouteWatchError(Code.E903, f"saved {action} needs a NAME")
        _read_catalog(s).close()
        cat = _catalog(s, wait)
        try:
            if action == "rm":
                alerts.remove(cat, alerts.check_name(name))
                result: dict[str, Any] = {"removed": name}
            else:
                from routewatch.pipeline import open_index

                filters = {"country": country, "route": route, "platform": platform, "lang": lang, "since": since,
                           "until": until, "has_bribe": has_bribe, "min_cost": min_cost, "max_cost": max_cost,
                           "currency": currency}
                idx = open_index(s, read_only=True)
                try:
                    one, base = alerts.add(cat, idx, name, query, filters, webhook or "", changes=changes)
                finally:
                    idx.close()
                result = {"added": one.public(), "baseline": base}
        finally:
            cat.close()
        if as_json:
            _json_line(result)
        elif action == "rm":
            _say(err, f"removed saved search {name}")
        else:
            _say(err, f"saved search {name}: {result['baseline']} posts match now (its baseline); "
                      "`routewatch alerts` lists the posts that match after")


def _has_saved(cat: Any) -> bool:
    return cat.has_saved_searches()


@app.command()
def alerts(name: Annotated[str | None, typer.Option("--name", help="Only this saved search.")] = None,
           peek: Annotated[bool, typer.Option("--peek", help="List without marking them seen.")] = False,
           no_check: Annotated[bool, typer.Option("--no-check", help="Do not run the saved searches first.")] = False,
           data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """New matches of the saved searches since they were last seen: runs them first (as every `run` does),
    lists the posts each one matches for the first time, then marks them seen (each post is listed once).

    Example: routewatch alerts --json
    """
    from routewatch import alerts as al

    with _errors():
        s = _settings(data_dir, config)
        _read_catalog(s).close()
        cat = _catalog(s, wait)
        try:
            if name is not None:
                al.saved(cat, al.check_name(name))  # E932 before anything runs
            delivered: dict[str, Any] = {}
            if not no_check:
                from routewatch.pipeline import open_index

                idx = open_index(s, read_only=True)
                try:
                    al.check(cat, idx, [name] if name else None)
                finally:
                    idx.close()
                delivered = al.deliver(cat, al.scrubber_for(s, cat), **al.webhook_options(s))
            todo = al.pending(cat, name)
            scrub = al.scrubber_for(s, cat)
            views = [al.view(cat, scrub, a) for a in todo]
            if as_json:
                _json_line({"count": len(views), "alerts": views, "webhooks": delivered or None})
            else:
                _print_alerts(views)
            sys.stdout.flush()
            from routewatch.core.stage import failpoint

            failpoint("alerts_seen", 0, "before")
            if not peek:  # marked only once they are out: a kill before this lists them again, never loses one
                al.mark(cat, todo)
        finally:
            cat.close()
        for n, why in (delivered.get("failed") or {}).items():
            _say(err, f"{why} (saved search {n}; retried on the next run)")


def _print_alerts(views: list[dict[str, Any]]) -> None:
    if not views:
        _say(out, "no new matches")
        return
    _say(out, f"{len(views)} new match{'es' if len(views) != 1 else ''}")
    for v in views:
        if v.get("change"):
            out.print(Text.assemble((safe_text(v["saved_search"], one_line=True), "bold"), "  ", ("change", "bold"),
                                    "  ", safe_text(v["title"], one_line=True)), soft_wrap=True, crop=False)
            body = Text(safe_text(v["snippet"] + "; posts: " + ", ".join(v["change"].get("posts") or [])))
            body.pad_left(2)
            out.print(body, overflow="fold")
            continue
        head = Text.assemble((safe_text(v["saved_search"], one_line=True), "bold"), "  ",
                             (safe_text(v["post_id"], one_line=True), "bold"), "  ",
                             safe_text(" · ".join(x for x in (v["platform"], (v["posted_at"] or "")[:10],
                                                               ">".join(v["route"])) if x), one_line=True))
        out.print(head, soft_wrap=True, overflow="ignore", crop=False)
        body = Text(safe_text(v["snippet"]))
        body.pad_left(2)
        out.print(body, overflow="fold")


def _read_catalog(s: Any):
    if not s.catalog_exists():
        raise RouteWatchError(Code.E903, f"no catalog in {s.data_dir}: run `routewatch demo` or `routewatch run`")
    return _catalog(s, write=False)


@app.command()
def serve(port: Annotated[int, typer.Option(help="Port to listen on (1-65535).")] = 8000,
          host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 inside a container).")] = "127.0.0.1",
          workers: Annotated[int | None, typer.Option(min=1, max=64, help="Server processes (default: web.workers, 1); "
                                                      "the number of cores on a shared server.")] = None,
          data_dir: DataDir = None, config: ConfigOpt = None) -> None:
    """Web UI and JSON API (OpenAPI at /openapi.json) over the data dir.

    Example: routewatch serve --port 8000
    """
    with _errors():
        from routewatch.web import serve as web_serve

        if not 1 <= port <= 65535:
            raise RouteWatchError(Code.E903, f"--port must be between 1 and 65535, got {port}")

        s = _settings(data_dir, config)
        _read_catalog(s).close()  # no catalog (E903), a damaged one (E920): said now, not on every request
        _say(err, f"RouteWatch web UI on http://{host}:{port}/  (data: {s.data_dir})")
        web_serve(s, host=host, port=port, workers=workers)


@app.command()
def bench(quick: Annotated[bool, typer.Option("--quick", help="Small corpora and 3 clips (a smoke run, ~minutes).")] = False,
          sizes: Annotated[str | None, typer.Option(help="Synthetic corpus sizes, e.g. 10000,100000,1000000.")] = None,
          es_url: Annotated[str | None, typer.Option(help="Elasticsearch URL for the ES figures (or ROUTEWATCH_ES_URL).")] = None,
          part: Annotated[list[str] | None, typer.Option("--part", help="transcription, extraction, index, memory, ocr, workers (repeatable; workers: demo on 1 and 2 workers, PostgreSQL + Elasticsearch).")] = None,
          data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """The performance suite: transcription RTF and speed-up over the naive loop, extraction
    posts/s, indexing docs/s, search and trend latency p50/p95 at 10k-1M posts, memory per stage.

    Example: routewatch bench --quick
    """
    import os

    from routewatch.bench import format_table, run_bench

    with _errors():
        s = _settings(data_dir, config)
        kw: dict[str, Any] = {"quick": quick, "es_url": es_url or os.environ.get("ROUTEWATCH_ES_URL") or None}
        if sizes:
            try:
                kw["sizes"] = tuple(int(x) for x in sizes.split(","))
            except ValueError as e:
                raise RouteWatchError(Code.E903, f"--sizes expects numbers like 10000,100000, got {sizes!r}") from e
        if part:
            kw["parts"] = tuple(part)
        with _Bars(not as_json) as bars:
            res = run_bench(s, progress=bars, **kw)
        if as_json:
            _json_line(res, default=str)
        else:
            out.print(format_table(res), highlight=False)


# ---- text tools -----------------------------------------------------------------------------------------
@app.command()
def annotate(infile: Annotated[Path, typer.Argument(help="JSONL with {\"id\",\"text\"} per line.")],
             output: Annotated[Path, typer.Option("-o", "--output", help="Output JSONL (gold schema).")],
             data_dir: DataDir = None, force: ForceOpt = False) -> None:
    """Text-only extraction: one line per input line in the gold schema (what `routewatch eval` reads).

    Example: routewatch annotate posts.jsonl -o annotated.jsonl
    """
    with _errors():
        import nlp
        from routewatch.core.outputs import check_output, open_output
        from routewatch.settings import data_dir_from_env

        if not infile.is_file():
            raise RouteWatchError(Code.E903, f"input file not found or not a regular file: {infile}")
        guard = {"data_dir": data_dir_from_env(data_dir), "inputs": [infile], "force": force}
        check_output(output, **guard)
        ex = nlp.build_extractor()
        n = bad = 0
        with open(infile, encoding="utf-8", errors="replace") as fin, open_output(output, **guard) as fout:
            for lineno, line in enumerate(fin, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict) or "text" not in obj:
                        raise ValueError("needs an object with 'id' and 'text'")
                except ValueError as e:
                    _say(err, f"{Code.E601.value} line {lineno}: {e}")
                    bad += 1
                    continue
                fout.write(json.dumps(nlp.annotate_line(obj, ex), ensure_ascii=False) + "\n")
                n += 1
        _say(err, f"annotated {n} lines → {output}" + (f" ({bad} bad lines skipped)" if bad else ""))


@app.command("eval")
def eval_cmd(gold: Annotated[Path, typer.Argument(help="Gold JSONL: one object per line with \"id\", \"text\" "
                                                     "and the expected fields, as `routewatch annotate` writes them.")],
             data_dir: DataDir = None, as_json: JsonOpt = False,
             categories: Annotated[Path | None, typer.Option(
                 help="JSON map post id -> category: scores per category too.")] = None) -> None:
    """Annotate the gold file's texts and score per field (precision / recall / F1) with the misses,
    grouped by cause (and per category with --categories).

    Example: routewatch eval gold.jsonl
    """
    with _errors():
        import nlp
        from nlp import evaluate

        if not gold.is_file():
            raise RouteWatchError(Code.E903, f"gold file not found: {gold}")
        rows = []
        for lineno, line in enumerate(gold.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise RouteWatchError(Code.E601, f"{gold} line {lineno}: not valid JSON ({e.msg})") from e
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise RouteWatchError(Code.E601, f"{gold} line {lineno}: needs an object with \"id\" and \"text\"")
            rows.append(obj)
        ex = nlp.build_extractor()
        preds = [nlp.annotate_line(r, ex) for r in rows]
        scores = evaluate.score(rows, preds)
        groups = None
        if categories is not None:
            if not categories.exists():
                raise RouteWatchError(Code.E903, f"categories file not found: {categories}")
            groups = evaluate.by_category(rows, preds, json.loads(categories.read_text(encoding="utf-8")))
        if as_json:
            _json_line({**scores, "categories": groups, "causes": evaluate.causes(rows, preds)} if groups
                       else {**scores, "causes": evaluate.causes(rows, preds)}, default=str)
            return
        _say(out, evaluate.report(scores, evaluate.misses(rows, preds), groups, evaluate.causes(rows, preds)))


@app.command("transcribe-file")
def transcribe_file(files: Annotated[list[Path], typer.Argument(help="Audio or video files ffmpeg can read.")],
                    output: Annotated[Path, typer.Option("-o", "--output", help="Output JSONL.")],
                    model: Annotated[str | None, typer.Option(help="Model: base (offline), a CT2 dir or a name.")] = None,
                    language: Annotated[str | None, typer.Option(help="Force a language (zh, en, es).")] = None,
                    data_dir: DataDir = None, config: ConfigOpt = None, force: ForceOpt = False) -> None:
    """Transcribe files directly: one JSON line per file (language, text, timed segments, model, seconds).

    Example: routewatch transcribe-file clip.mp4 -o clip.jsonl
    """
    with _errors():
        from transcribe import transcribe_files

        s = _settings(data_dir, config)
        ts = s.transcribe
        upd: dict[str, Any] = {}
        if model:
            upd["model"] = model
        if language:
            upd["languages"] = (language,)
        if upd:
            ts = ts.model_copy(update=upd)

        _file_lines(output, s.data_dir, files, force, lambda: transcribe_files([str(f) for f in files], ts),
                    "transcribe", "transcribed")


def _file_lines(output: Path, data_dir: Path, files: list[Path], force: bool, lines: Any, stage: str,
                done: str) -> None:
    """transcribe-file / ocr-file: one JSON line per input file, written through the safe output writer,
    with a progress bar; a file's failure is one coded line on stderr, and exit 1 when every file failed."""
    from routewatch.core.outputs import open_output

    n = bad = 0
    with open_output(output, data_dir=data_dir, inputs=files, force=force) as fout, _Bars(True) as bars:
        for i, line in enumerate(lines()):
            fout.write(json.dumps(line, ensure_ascii=False) + "\n")
            fout.flush()
            if "error" in line:
                bad += 1
                _say(err, f"{line['error']['code']} {line['file']}: {line['error']['reason']}")
            else:
                n += 1
            bars(stage, i + 1, len(files))
    _say(err, f"{done} {n} file(s) → {output}" + (f"; {bad} failed" if bad else ""))
    if bad and not n:
        raise typer.Exit(1)


@app.command("ocr-file")
def ocr_file(files: Annotated[list[Path], typer.Argument(help="Video files (or still images) ffmpeg can read.")],
             output: Annotated[Path, typer.Option("-o", "--output", help="Output JSONL.")],
             threads: Annotated[int, typer.Option(help="OCR threads.")] = 2,
             show_overlays: Annotated[bool, typer.Option("--show-overlays", help="Also print overlay texts (uploader ids).")] = False,
             data_dir: DataDir = None, force: ForceOpt = False) -> None:
    """Read the words on screen (burned-in captions): one JSON line per file (text, timed segments, overlays).

    Example: routewatch ocr-file clip.mp4 -o clip.ocr.jsonl
    """
    with _errors():
        from ocr import OcrSettings, ocr_files
        from routewatch.settings import data_dir_from_env

        _file_lines(output, data_dir_from_env(data_dir), files, force,
                    lambda: ocr_files([str(f) for f in files], OcrSettings(threads=threads),
                                      show_overlay_text=show_overlays), "ocr", "read")


# ---- demo ---------------------------------------------------------------------------------------------
@app.command()
def demo(data_dir: DataDir = None, as_json: JsonOpt = False,
         keep_serving: Annotated[bool, typer.Option(help="Keep the demo platform running afterwards.")] = False) -> None:
    """Start the built-in demo platform and run the whole pipeline on it; print a summary.

    Example: routewatch demo --data-dir /tmp/rw-demo
    """
    from routewatch.demo.run import run_demo

    with _errors():
        summary = run_demo(data_dir, quiet=as_json, keep_serving=keep_serving)
        if as_json:
            _json_line(summary)


def main() -> None:
    """The console entry point. Bad usage (a missing required option, an unknown option, a value click
    cannot convert) prints one line `E903 reason` like every other refusal, not click's usage box;
    `--help` and no arguments at all still print the help. Anything else a command raises ends in one
    coded line through the guard (E906 for a bug)."""
    from typer._click import exceptions as click_errors  # typer 0.29 vendors click: its exceptions live here

    from routewatch.core.guard import run_guarded

    command = typer.main.get_command(app)

    def _run(args: list[str], prog_name: str) -> None:
        try:
            rc = command.main(args=args, prog_name=prog_name, standalone_mode=False)
        except getattr(click_errors, "NoArgsIsHelpError", ()):  # help was printed, by design
            rc = 0
        except click_errors.UsageError as e:
            ctx = e.ctx
            where = f"routewatch {ctx.command_path.split(' ', 1)[1]}" if ctx and " " in ctx.command_path else "routewatch"
            err.print(Text.assemble((Code.E903.value, "bold red"), " ", safe_text(e.format_message()),
                                    f" (see `{where} --help`)"), highlight=False, soft_wrap=True)
            sys.exit(2)
        except typer.Abort:
            err.print("aborted")
            sys.exit(1)
        sys.exit(rc if isinstance(rc, int) else 0)

    run_guarded(_run)


if __name__ == "__main__":
    main()
