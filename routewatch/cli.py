"""The `routewatch` command line (CONVENTIONS §14): one group, every command with help and an example.

In: arguments and options.  Out: human-readable text (rich) or, with `--json`, only JSON on stdout.
Bad input exits non-zero with one line `E### reason` on stderr, never a traceback.
Content (captions, snippets, names, titles, failure reasons) is printed as plain text with every
terminal control and bidi override made visible (`safe_text`), never parsed as rich markup.
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from routewatch.errors import Code, RouteWatchError
from routewatch.privacy import BIDI_CONTROLS, C1_CONTROLS

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


# What a terminal acts on instead of showing: C0 controls but tab and newline, DEL, C1 controls (CSI,
# OSC, ...), bidi embeddings / overrides / isolates / marks and the Unicode line separators. A caption
# could otherwise clear the reader's screen, plant an OSC 8 link or reorder what is shown.
_TERMINAL_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f{C1_CONTROLS}{BIDI_CONTROLS}\u2028\u2029]")
_JSON_UNSAFE = re.compile(f"[{C1_CONTROLS}{BIDI_CONTROLS}\u2028\u2029]")
_MATCH_STYLE = "bold yellow"


def _visible(m: re.Match[str]) -> str:
    o = ord(m.group(0))
    if o < 0x20:
        return chr(0x2400 + o)  # the Control Pictures glyph: ␛ ␇ ␀ ␍ ...
    return "\u2421" if o == 0x7F else "\ufffd"


def safe_text(value: object, *, one_line: bool = False) -> str:
    """`value` as text a terminal shows and does not act on; one character in, one out (offsets hold).
    With `one_line`, newlines and tabs are shown as ␊ / ␉ too (names, ids, titles)."""
    text = _TERMINAL_UNSAFE.sub(_visible, "" if value is None else str(value))
    return text.replace("\n", "\u240a").replace("\t", "\u2409") if one_line else text


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
    from routewatch.catalog import open_catalog

    return open_catalog(settings.data_dir, write=write, wait=wait)


class _Bars:
    """Progress bars per stage on stderr; silent with --json."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description:<11}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=False,
                                 disable=not enabled)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total or None)
        self.progress.update(self.tasks[stage], completed=done, total=total or None)


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
        finally:
            cat.close()
        _print_reports([rep], as_json)


# ---- pipeline commands ----------------------------------------------------------------------------------
@app.command()
def run(config: ConfigOpt = None, data_dir: DataDir = None, source: Annotated[str | None, typer.Option(
        help="Only this configured source.")] = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """Run crawl → fetch → transcribe → extract → index for the configured sources; resumable.

    Example: routewatch run --config routewatch.toml
    """
    from routewatch import pipeline

    with _errors():
        s = _settings(data_dir, config)
        if not s.sources:
            raise RouteWatchError(Code.E902, "no sources configured: add [[sources]] to routewatch.toml "
                                  "(see README) or use `routewatch crawl --url URL`")
        cat = _catalog(s, wait)
        try:
            cat.start_run("run")
            with _Bars(not as_json) as bars:
                reports = pipeline.run_all(_ctx(s, cat, bars), source=source)
            cat.finish_run()
        finally:
            cat.close()
        _print_reports(reports, as_json)


@app.command()
def crawl(source: Annotated[str | None, typer.Option(help="Only this configured source.")] = None,
          url: Annotated[list[str] | None, typer.Option("--url", help="Crawl these URLs instead (repeatable).")] = None,
          config: ConfigOpt = None, data_dir: DataDir = None, as_json: JsonOpt = False, wait: WaitOpt = 0.0) -> None:
    """Discover posts from the configured sources, or from the given page, feed, post URLs or ytsearchN:QUERY.

    Example: routewatch crawl --url https://t.me/s/some_channel --url "ytsearch10:走线 厄瓜多尔"
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
            rep = import_file(kind, file, cat, s, source_name=source, encoding=encoding)
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
            rep = run_recheck(cat, s, age, limit=limit)
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
def status(data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Counts per stage and source, failures by error code.

    Example: routewatch status --json
    """
    with _errors():
        s = _settings(data_dir, config)
        if not (s.data_dir / "catalog.sqlite").exists():
            raise RouteWatchError(Code.E903, f"no catalog in {s.data_dir}: run `routewatch demo` or `routewatch run`")
        cat = _catalog(s, write=False)
        try:
            info = collect_status(cat)
        finally:
            cat.close()
        if as_json:
            _json_line(info)
            return
        t = Table("stage", "done", "skipped", "failed", "pending", title=_cell(f"RouteWatch status — {s.data_dir}"))
        for st, d in info["stages"].items():
            _row(t, st, d["done"], d["skipped"], d["failed"], d["pending"])
        out.print(t)
        if info["health"]:
            t2 = Table("source", "last run", "discovered", "median before", "fetched", "skipped", "failed", "health",
                       title="collector health")
            for name, d in info["health"].items():
                _row(t2, name, d["last_run"], d["discovered"],
                     "" if d["median_previous"] is None else f"{d['median_previous']:g}", d["fetched"],
                     ", ".join(f"{k}: {v}" for k, v in d["skipped"].items()),
                     ", ".join(f"{k}: {v}" for k, v in d["failed"].items()),
                     _cell(d["flag"], "bold red") if d["flag"] else "ok")
            out.print(t2)
        if info["failures"]:
            t3 = Table("stage", "code", "count", "example", title="failures by code")
            for f in info["failures"]:
                _row(t3, f["stage"], f["code"], f["count"], (f["example"] or "")[:80])
            out.print(t3)


def collect_status(cat: Any) -> dict[str, Any]:
    db = cat.db
    sources: dict[str, dict[str, int]] = {}
    for r in db.execute("SELECT source, COUNT(DISTINCT post_id) FROM post_sightings GROUP BY source"):
        sources.setdefault(r[0], {})["posts"] = r[1]
    last = {}
    for r in db.execute("SELECT source, name, SUM(value) FROM counters WHERE source != '' GROUP BY source, name"):
        if r[1] == "crawl/pages":
            sources.setdefault(r[0], {"posts": 0})["pages"] = r[2]
        elif r[1].startswith("crawl/failed/"):
            d = sources.setdefault(r[0], {"posts": 0})
            d["failed"] = d.get("failed", 0) + r[2]
        last[(r[0], r[1])] = r[2]
    failures = [
        {"stage": r[0], "code": r[1], "count": r[2], "example": r[3]}
        for r in db.execute("SELECT stage, code, COUNT(*), MIN(reason) FROM failures GROUP BY stage, code ORDER BY stage, code")
    ]
    t = db.execute("SELECT COUNT(*), COALESCE(SUM(seconds), 0) FROM transcripts").fetchone()
    return {
        "health": collector_health(cat),
        "posts": db.execute("SELECT COUNT(*) FROM posts").fetchone()[0],
        "media": db.execute("SELECT COUNT(*) FROM media").fetchone()[0],
        "transcripts": t[0],
        "transcribed_minutes": round(t[1] / 60.0, 2),
        "stages": cat.stage_counts(),
        "sources": sources,
        "failures": failures,
        "schema_version": cat.schema_version() if hasattr(cat, "schema_version") else None,
    }


def collector_health(cat: Any, history: int = 5) -> dict[str, Any]:
    """Per source: what its latest run discovered, fetched, skipped (by reason) and failed (by code),
    against the median of its previous runs; flags a source that returned zero or far fewer."""
    import statistics

    db = cat.db
    out: dict[str, Any] = {}
    sources = [r[0] for r in db.execute(
        "SELECT DISTINCT source FROM counters WHERE source != '' AND name = 'crawl/discovered' ORDER BY source")]
    for src in sources:
        runs = [(r[0], r[1]) for r in db.execute(
            "SELECT run_id, value FROM counters WHERE source = ? AND name = 'crawl/discovered' ORDER BY run_id", (src,))]
        last_run, last = runs[-1]
        prev = [v for _, v in runs[:-1]][-history:]
        median = statistics.median(prev) if prev else None
        counts = {r[0]: r[1] for r in db.execute(
            "SELECT name, SUM(value) FROM counters WHERE source = ? AND run_id = ? GROUP BY name", (src, last_run))}
        fetched = {r[0]: r[1] for r in db.execute(
            "SELECT name, SUM(value) FROM counters WHERE source = ? AND name LIKE 'fetch/%' GROUP BY name", (src,))}
        flag = ""
        if last == 0:
            flag = "returned zero posts"
        elif median and last < 0.5 * median:
            flag = f"far fewer than its recent median ({last} < {median:g})"
        out[src] = {
            "last_run": last_run, "discovered": last, "median_previous": median, "flag": flag,
            "new": counts.get("crawl/new", 0), "pages": counts.get("crawl/pages", 0),
            "reported_total": counts.get("crawl/reported_total"),
            "fetched": fetched.get("fetch/fetched", 0),
            "skipped": {k.split("/", 2)[2]: v for k, v in {**counts, **fetched}.items() if k.startswith(("crawl/skipped/", "fetch/skipped/"))},
            "failed": {k.split("/", 2)[2]: v for k, v in {**counts, **fetched}.items() if k.startswith(("crawl/failed/", "fetch/failed/"))},
        }
    return out


# ---- search ---------------------------------------------------------------------------------------------
@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Free text in any language; \"quotes\" for a phrase.")] = "",
    country: Annotated[str | None, typer.Option(help="ISO country code, e.g. PA.")] = None,
    route: Annotated[str | None, typer.Option(help="Ordered route subsequence, e.g. EC>CO>PA.")] = None,
    platform: Annotated[str | None, typer.Option(help="telegram, youtube, tiktok, demo, web …")] = None,
    lang: Annotated[str | None, typer.Option(help="zh, en or es.")] = None,
    since: Annotated[str | None, typer.Option(help="Posted on or after DATE (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Posted on or before DATE (YYYY-MM-DD).")] = None,
    has_bribe: Annotated[bool, typer.Option("--has-bribe", help="Only posts that mention a bribe.")] = False,
    min_cost: Annotated[float | None, typer.Option(help="Quoted cost at least AMOUNT.")] = None,
    max_cost: Annotated[float | None, typer.Option(help="Quoted cost at most AMOUNT.")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency of the cost filter (ISO, e.g. USD).")] = None,
    limit: Annotated[int, typer.Option(help="Maximum hits.")] = 20,
    data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:
    """Search captions, subtitles and transcripts, with filters.

    Example: routewatch search 厄瓜多尔 --route EC>CO>PA --json
    """
    from index.base import Query, build_index, parse_date, parse_route

    with _errors():
        s = _settings(data_dir, config)
        if s.index.backend == "sqlite" and not (s.data_dir / "catalog.sqlite").exists():
            raise RouteWatchError(Code.E903, f"no index in {s.data_dir}: run `routewatch demo` or `routewatch run`")
        if (min_cost is not None or max_cost is not None) and not currency:
            raise RouteWatchError(Code.E903, "--min-cost/--max-cost need --currency (e.g. --currency USD)")
        q = Query(text=query, country=country.upper() if country else None,
                  route=parse_route(route) if route else (), platform=platform, lang=lang,
                  since=parse_date(since, "--since"), until=parse_date(until, "--until"), has_bribe=has_bribe,
                  min_cost=min_cost, max_cost=max_cost, currency=currency.upper() if currency else None,
                  limit=limit)
        idx = build_index(s, s.data_dir / "catalog.sqlite", read_only=True)
        try:
            hits = idx.search(q)
        finally:
            idx.close()
        hits = [_public_hit(h, s) for h in hits]
        if as_json:
            _json_line({"query": query, "count": len(hits), "hits": hits})
            return
        if not hits:
            out.print("no hits")
            return
        t = Table("post", "platform", "posted", "source", "seconds", "snippet", show_lines=False)
        t.columns[-1].overflow = "fold"  # a long word (a URL) folds onto the next line, never cut off
        for h in hits:
            secs = f"{h['start_sec']:.1f}–{h['end_sec']:.1f}" if h.get("start_sec") is not None else ""
            _row(t, h["post_id"], h["platform"], (h["posted_at"] or "")[:10], h["source"], secs,
                 _snippet(h["snippet"], h["span"]))
        out.print(t)


def _public_hit(h: Any, settings: Any) -> dict[str, Any]:
    from routewatch.privacy import install_secret, public_url, redact_text

    url = public_url(h.url, install_secret(settings.data_dir)) if settings.privacy.pseudonymise_handles else h.url
    d = {
        "post_id": h.post_id, "url": url, "platform": h.platform, "posted_at": h.posted_at,
        "snippet": redact_text(h.snippet) if settings.privacy.redact_contacts else h.snippet,
        "source": h.source, "unit_id": h.unit_id, "score": round(h.score, 4),
        "span": list(h.span) if h.span else None, "start_sec": h.start_sec, "end_sec": h.end_sec,
    }
    return d


@app.command()
def trends(by: Annotated[str, typer.Option(help="week, day or month.")] = "week",
           field: Annotated[str, typer.Option(help="country, leg, term or platform.")] = "country",
           data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Counts per period by country, leg, term or platform, with each period's total posts.

    Example: routewatch trends --by week --field leg --json
    """
    from index.base import build_index

    with _errors():
        s = _settings(data_dir, config)
        idx = build_index(s, s.data_dir / "catalog.sqlite", read_only=True)
        try:
            rows = idx.trends(field, by)
        finally:
            idx.close()
        if as_json:
            _json_line({"by": by, "field": field, "rows": rows})
            return
        t = Table("period", _cell(field), "count", "total")
        for r in rows:
            _row(t, r["period"], r["value"], r["count"], r["total"])
        out.print(t)


# ---- researchers and fact-checkers -------------------------------------------------------------------------
@app.command()
def digest(week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W45.")],
           out: Annotated[Path, typer.Option("--out", help="Output directory.")],
           data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Weekly digest: DIR/digest.html, DIR/digest.md and chart images (counts under 5 shown as <5).

    Example: routewatch digest --week 2026-W45 --out digests/2026-W45
    """
    from routewatch.digest import build_digest, write_digest

    with _errors():
        s = _settings(data_dir, config)
        cat = _read_catalog(s)
        try:
            d = build_digest(cat, s, week)
        finally:
            cat.close()
        paths = write_digest(d, out)
        if as_json:
            _json_line({"week": week, "files": paths, "digest": d})
        else:
            out.mkdir(parents=True, exist_ok=True)
            _say(err, f"digest for {week}: {paths['digest.html']} and {paths['digest.md']}")


@app.command()
def trace(claim: Annotated[str, typer.Argument(help="The claim, in Chinese, English or Spanish.")],
          limit: Annotated[int, typer.Option(help="Maximum groups.")] = 20,
          data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Earliest and related posts for a claim, grouped by near-duplicates, with evidence per post.

    Example: routewatch trace "厄瓜多尔免签" --json
    """
    from routewatch.trace import trace_claim

    with _errors():
        if not claim.strip():
            raise RouteWatchError(Code.E903, "give a claim to trace, e.g. routewatch trace \"厄瓜多尔免签\"")
        s = _settings(data_dir, config)
        cat = _read_catalog(s)
        try:
            res = trace_claim(cat, s, claim, limit=limit)
        finally:
            cat.close()
        if as_json:
            _json_line(res)
            return
        if not res["groups"]:
            _say(out, f"no post matches {claim!r}")
            return
        for i, g in enumerate(res["groups"], 1):
            t = Table("post", "platform", "posted", "captured", "source", "seconds", "snippet",
                      title=_cell(f"group {i}: {g['size']} post(s), first {(g['first_posted_at'] or '')[:10]} "
                                  f"on {', '.join(g['platforms'])}"))
            t.columns[-1].overflow = "fold"
            for e in g["posts"]:
                secs = f"{e['start_sec']:.1f}–{e['end_sec']:.1f}" if e.get("start_sec") is not None else ""
                _row(t, e["post_id"], e["platform"], (e["posted_at"] or "")[:10], (e["captured_at"] or "")[:10],
                     e["source"], secs, _snippet(e["snippet"], e.get("span")))
            out.print(t)


@app.command()
def evidence(post_id: Annotated[str, typer.Argument(help="Post id (from search or trace).")],
             output: Annotated[Path, typer.Option("-o", "--output", help="Bundle zip to write.")],
             data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Evidence bundle: snapshot, media, hashes, transcript, extraction, provenance and a sha256 manifest.

    Example: routewatch evidence telegram-0123456789abcdef -o evidence.zip
    """
    from routewatch.evidence import build_bundle, verify_bundle

    with _errors():
        s = _settings(data_dir, config)
        cat = _read_catalog(s)
        try:
            path = build_bundle(cat, s, post_id, output)
        finally:
            cat.close()
        problems = verify_bundle(path)
        if as_json:
            _json_line({"bundle": str(path), "verified": not problems, "problems": problems})
        else:
            _say(err, f"evidence bundle {path} ({'verified' if not problems else 'PROBLEMS: ' + '; '.join(problems)})")


@app.command()
def export(fmt: Annotated[str, typer.Option("--format", help="csv, jsonl or parquet.")],
           output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
           data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Lossless export of every post with media, text units, transcripts, facts and provenance.

    Example: routewatch export --format parquet -o posts.parquet
    """
    from routewatch.export import export as do_export

    with _errors():
        s = _settings(data_dir, config)
        cat = _read_catalog(s)
        try:
            n = do_export(cat, s, fmt, output)
        finally:
            cat.close()
        if as_json:
            _json_line({"format": fmt, "path": str(output), "records": n})
        else:
            _say(err, f"exported {n} posts → {output}")


def _read_catalog(s: Any):
    if not (s.data_dir / "catalog.sqlite").exists():
        raise RouteWatchError(Code.E903, f"no catalog in {s.data_dir}: run `routewatch demo` or `routewatch run`")
    return _catalog(s, write=False)


@app.command()
def serve(port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
          host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 inside a container).")] = "127.0.0.1",
          workers: Annotated[int | None, typer.Option(min=1, max=64, help="Server processes (default: web.workers, 1); "
                                                      "the number of cores on a shared server.")] = None,
          data_dir: DataDir = None, config: ConfigOpt = None) -> None:
    """Web UI and JSON API (OpenAPI at /openapi.json) over the data dir.

    Example: routewatch serve --port 8000
    """
    with _errors():
        from routewatch.web import serve as web_serve

        s = _settings(data_dir, config)
        if not (s.data_dir / "catalog.sqlite").exists():
            raise RouteWatchError(Code.E903, f"no catalog in {s.data_dir}: run `routewatch demo` or `routewatch run`")
        _say(err, f"RouteWatch web UI on http://{host}:{port}/  (data: {s.data_dir})")
        web_serve(s, host=host, port=port, workers=workers)


@app.command()
def bench(quick: Annotated[bool, typer.Option("--quick", help="Small corpora and 3 clips (a smoke run, ~minutes).")] = False,
          sizes: Annotated[str | None, typer.Option(help="Synthetic corpus sizes, e.g. 10000,100000,1000000.")] = None,
          es_url: Annotated[str | None, typer.Option(help="Elasticsearch URL for the ES figures (or ROUTEWATCH_ES_URL).")] = None,
          part: Annotated[list[str] | None, typer.Option("--part", help="transcription, extraction, index, memory (repeatable).")] = None,
          data_dir: DataDir = None, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """The performance suite (SPEC §7): transcription RTF and speed-up over the naive loop, extraction
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
             data_dir: DataDir = None) -> None:
    """Text-only extraction: one line per input line in the gold schema (SPEC §5).

    Example: routewatch annotate posts.jsonl -o annotated.jsonl
    """
    with _errors():
        import nlp

        if not infile.exists():
            raise RouteWatchError(Code.E903, f"input file not found: {infile}")
        ex = nlp.build_extractor()
        n = bad = 0
        with open(infile, encoding="utf-8", errors="replace") as fin, open(output, "w", encoding="utf-8") as fout:
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
def eval_cmd(gold: Annotated[Path, typer.Argument(help="Gold JSONL (SPEC §5 schema, with text).")],
             data_dir: DataDir = None, as_json: JsonOpt = False) -> None:
    """Annotate the gold file's texts and score per field (precision / recall / F1) with the misses.

    Example: routewatch eval ../shared/data/gold_dev.jsonl
    """
    with _errors():
        import nlp
        from nlp import evaluate

        if not gold.exists():
            raise RouteWatchError(Code.E903, f"gold file not found: {gold}")
        rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
        ex = nlp.build_extractor()
        preds = [nlp.annotate_line(r, ex) for r in rows]
        scores = evaluate.score(rows, preds)
        if as_json:
            _json_line(scores, default=str)
            return
        _say(out, evaluate.report(scores, getattr(evaluate, "misses", lambda g, p: [])(rows, preds)))


@app.command("transcribe-file")
def transcribe_file(files: Annotated[list[Path], typer.Argument(help="Audio or video files ffmpeg can read.")],
                    output: Annotated[Path, typer.Option("-o", "--output", help="Output JSONL.")],
                    model: Annotated[str | None, typer.Option(help="Model: base (offline), a CT2 dir or a name.")] = None,
                    language: Annotated[str | None, typer.Option(help="Force a language (zh, en, es).")] = None,
                    data_dir: DataDir = None, config: ConfigOpt = None) -> None:
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
        n = bad = 0
        with open(output, "w", encoding="utf-8") as fout, _Bars(True) as bars:
            for i, line in enumerate(transcribe_files([str(f) for f in files], ts)):
                fout.write(json.dumps(line, ensure_ascii=False) + "\n")
                fout.flush()
                if "error" in line:
                    bad += 1
                    _say(err, f"{line['error']['code']} {line['file']}: {line['error']['reason']}")
                else:
                    n += 1
                bars("transcribe", i + 1, len(files))
        _say(err, f"transcribed {n} file(s) → {output}" + (f"; {bad} failed" if bad else ""))
        if bad and not n:
            raise typer.Exit(1)


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
    try:
        app()
    except RouteWatchError as e:  # pragma: no cover - commands catch their own
        err.print(Text(f"{e.code.value} {safe_text(e.reason)}"), soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
