"""The runner: crawl → fetch → transcribe → extract → index, one linear recipe per item (CONVENTIONS §6).

In: settings and the catalog.  Out: each stage's results in the catalog (and the index), with a
status row per item and stage. A failing item is recorded with its error code and the run goes on;
every stage picks only the items that still need it, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

from index.base import Index
from index.build import build_index
from routewatch.core.catalog import Catalog, now_iso
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.platforms import page_is_media
from routewatch.core.records import Failure, Post, TextUnit
from routewatch.core.stage import Context, StageReport, fail, failpoint

# ---- 1. crawl -----------------------------------------------------------------------------------------

def open_index(settings: Any, *, read_only: bool = False) -> Index:
    """The configured index, handed only its section and the aggregates' facts threshold (issue 13)."""
    return build_index(settings.index, settings.catalog_path, read_only=read_only,
                       min_confidence=settings.extract.aggregate_min_confidence)


def stage_crawl(ctx: Context, source: str | None = None, urls: list[str] | None = None) -> StageReport:
    """The configured sources (or the URLs given), each collected by its source kind: see crawlers/stage.py."""
    from crawlers.stage import crawl, starts_of

    starts = starts_of(ctx.settings.sources, source, urls)
    return crawl(ctx.settings.crawl, ctx.data_dir, ctx.catalog, starts, ctx.progress)


# ---- 2. fetch -----------------------------------------------------------------------------------------
def stage_fetch(ctx: Context, retry_failed: bool = False, only: list[str] | None = None) -> StageReport:
    """Pending posts' media (`only`: among these ids, a distributed job's; None: every pending post)."""
    from crawlers.fetch import YtDlpFetcher

    rep = StageReport("fetch")
    t0 = time.monotonic()
    todo = ctx.catalog.pending("fetch", after="crawl", retry_failed=retry_failed, only=only)
    fetcher = YtDlpFetcher(ctx.settings.crawl, ctx.data_dir) if todo else None
    prefilter = _prefilter(ctx) if todo and ctx.settings.crawl.prefilter else None
    for i, pid in enumerate(todo):
        post = ctx.catalog.get_post(pid)
        assert post is not None and fetcher is not None
        try:
            # 1. nothing to fetch → skipped (the caption is still extracted and indexed)
            if not post.media_url and not page_is_media(post.platform):
                _skip(ctx, pid, post.source, Code.E207.value, "no_media")
                rep.skipped += 1
                continue
            # 2. optional pre-filter: the caption is a clear hard negative → keep the post, skip its media
            if prefilter is not None and post.caption.strip() and prefilter(post) < 0:
                _skip(ctx, pid, post.source, "", "prefilter")
                rep.skipped += 1
                continue
            # 3. same media URL already fetched for another post → share the file
            existing = _media_for_same_url(ctx, post)
            if existing is not None:
                media, units = existing, []
                ctx.catalog.count("fetch/reused_url")
                rep.reused += 1
            else:
                media, units = fetcher.fetch(post)
            failpoint("fetch", i, "before")
            # 4. media record and subtitle unit in one transaction
            with ctx.catalog.tx():
                for u in units:
                    ctx.catalog.put_unit(u)
            ctx.catalog.put_media(_with_post(media, pid), source=post.source)
            failpoint("fetch", i, "after")
            rep.done += 1
        except Exception as e:  # noqa: BLE001 - one bad item must not end the run
            fail(ctx, "fetch", pid, e, source=post.source)
            rep.failed += 1
        ctx.progress("fetch", i + 1, len(todo))
    rep.seconds = time.monotonic() - t0
    return rep


def _skip(ctx: Context, pid: str, source: str, code: str, reason: str) -> None:
    with ctx.catalog.tx():
        ctx.catalog.set_status(pid, "fetch", "skipped", code)
        ctx.catalog.set_status(pid, "transcribe", "skipped", code)
        ctx.catalog.count(f"fetch/skipped/{reason}")
        ctx.catalog.count(f"fetch/skipped/{reason}", source=source)


def _prefilter(ctx: Context) -> Callable[[Post], float]:
    import nlp

    extractor = nlp.build_extractor(settings=ctx.settings.extract)
    return lambda post: extractor.extract(caption_unit(post)).relevance_score


def _with_post(media: Any, pid: str) -> Any:
    from dataclasses import replace

    return replace(media, post_id=pid)


def _media_for_same_url(ctx: Context, post: Post) -> Any:
    if not post.media_url:
        return None
    other = ctx.catalog.post_with_media_url(post.media_url)
    if not other:
        return None
    m = ctx.catalog.get_media(other)
    if m is None or not (ctx.data_dir / m.path).exists():
        return None
    return m


# ---- 3. transcribe --------------------------------------------------------------------------------------
def stage_transcribe(ctx: Context, only: list[str] | None = None,
                     gate: Callable[[str], None] | None = None, transcriber: Any = None) -> StageReport:
    """Media → transcripts (dedupe, captions-first, batches, model thread; `gate`: distributed ordered save):
    see transcribe/stage.py."""
    from transcribe.stage import run_stage

    return run_stage(ctx.settings.transcribe, ctx.data_dir, ctx.catalog, ctx.progress, only=only, gate=gate,
                     transcriber=transcriber)


# ---- 3b. ocr: the words on screen -------------------------------------------------------------------------
def stage_ocr(ctx: Context, only: list[str] | None = None) -> StageReport:
    """Videos → on-screen text units (repost reuse, bounded reads, overlays as kinds): see ocr/stage.py."""
    from ocr.stage import run_stage

    return run_stage(ctx.settings.ocr, ctx.data_dir, ctx.catalog, ctx.progress, only=only)


# ---- 4. extract -------------------------------------------------------------------------------------------
def caption_unit(post: Post) -> TextUnit:
    return TextUnit(unit_id=f"{post.post_id}:caption", post_id=post.post_id, kind="caption", text=post.caption,
                    lang=post.lang)


def stage_extract(ctx: Context, only: list[str] | None = None) -> StageReport:
    rep = StageReport("extract")
    t0 = time.monotonic()
    todo = ctx.catalog.pending("extract", after="crawl", only=only)
    if not todo:
        return rep
    import nlp

    extractor = nlp.build_extractor(settings=ctx.settings.extract)
    facts = 0
    for i, pid in enumerate(todo):
        post = ctx.catalog.get_post(pid)
        assert post is not None
        try:
            cap = caption_unit(post)
            with ctx.catalog.tx():
                ctx.catalog.put_unit(cap)
            units = [u for u in ctx.catalog.units(pid) if u.text.strip()]
            # relevance is decided on all of the post's texts together (a caption's #走线 makes the
            # transcript's route count), facts keep the unit and span they came from
            merged = extractor.extract_post(units) if units else nlp.merge(pid, [])
            failpoint("extract", i, "before")
            # the facts JSON keeps every fact with its confidence; the gold schema (what trends, routes and
            # the digest read) leaves out the ones below extract.aggregate_min_confidence
            aggregated = nlp.confidence.for_aggregates(merged, ctx.settings.extract.aggregate_min_confidence)
            ctx.catalog.save_extraction(aggregated, json.dumps(asdict(merged), ensure_ascii=False, default=str))
            failpoint("extract", i, "after")
            facts += fact_count(merged) if merged.relevant else 0  # irrelevant posts keep facts, not counted
            rep.done += 1
        except Exception as e:  # noqa: BLE001
            fail(ctx, "extract", pid, e)
            rep.failed += 1
        ctx.progress("extract", i + 1, len(todo))
    rep.seconds = time.monotonic() - t0
    rep.extra["facts"] = facts
    return rep


def fact_count(ex: Any) -> int:
    return len(ex.countries) + len(ex.places) + len(ex.costs) + len(ex.bribes) + max(0, len(ex.route) - 1)


def fact_count_gold(g: dict[str, Any]) -> int:
    """Facts in a gold-schema extraction: countries, places, costs, bribes and route legs."""
    return (len(g.get("countries", [])) + len(g.get("places", [])) + len(g.get("costs", []))
            + len(g.get("bribes", [])) + max(0, len(g.get("route", [])) - 1))


# ---- 5. index ---------------------------------------------------------------------------------------------
def build_doc(catalog: Catalog, pid: str) -> Any:
    """The index document of a post. A post whose extraction failed (E401) or whose stored facts cannot be
    read is still indexed on its texts, with no facts (its failure stays in `status`)."""
    from index.base import IndexDoc, PostFacts

    post = catalog.get_post(pid)
    if post is None:
        raise RouteWatchError(Code.E904, f"post {pid} is not in the catalog")
    gold = catalog.get_extraction_gold(pid) or {}
    stored = catalog.get_facts(pid)  # every fact with its confidence, also of an irrelevant post
    state = catalog.done_code(pid, "recheck") or ""
    units = tuple(catalog.units(pid))
    if post.caption.strip() and not any(u.kind == "caption" for u in units):
        units = (caption_unit(post), *units)  # extraction failed before it stored the caption unit
    lang = post.lang or next((u.lang for u in units if u.lang), "")
    return IndexDoc(
        post_id=pid, platform=post.platform, url=post.url, posted_at=post.posted_at, captured_at=post.captured_at,
        lang=lang, source=post.source, units=units, relevant=bool(gold.get("relevant")),
        countries=tuple(gold.get("countries", [])), route=tuple(gold.get("route", [])),
        has_bribe=bool(gold.get("bribes")),
        costs=tuple((float(c["amount"]), c["currency"], c["kind"]) for c in gold.get("costs", [])),
        places=tuple(p["canonical"] for p in gold.get("places", [])),
        facts=PostFacts.from_json(stored) if stored else None, state=state,
    )


def iter_docs(catalog: Catalog, ids: list[str], failures: list[tuple[str, str, str]] | None = None,
              progress: Callable[[int], None] | None = None) -> Iterator[Any]:
    """Index documents of `ids`; a post whose document cannot be built is left out and, when `failures`
    is given, listed there as (post_id, code, reason) instead of stopping the run."""
    for i, pid in enumerate(ids, 1):
        try:
            doc = build_doc(catalog, pid)
        except Exception as e:  # noqa: BLE001 - one post's bad row is that post's failure
            if failures is None:
                raise
            code = e.code.value if isinstance(e, RouteWatchError) else Code.E504.value
            failures.append((pid, code, f"{type(e).__name__}: {e}"[:500]))
        else:
            yield doc
        if progress and i % 200 == 0:
            progress(i)


def stage_index(ctx: Context, rebuild: bool = False, only: list[str] | None = None) -> StageReport:
    rep = StageReport("index")
    t0 = time.monotonic()
    idx = open_index(ctx.settings)
    try:
        if getattr(idx, "schema_reset", False):
            rebuild = True  # an index of an older layout was dropped: project the whole catalog again
            rep.extra["schema_reset"] = True
        # posts whose extraction failed or was skipped are indexed too, on their texts (no facts)
        if rebuild:
            ids = ctx.catalog.items_with_status("extract")
            bad: list[tuple[str, str, str]] = []
            # built aside and swapped in whole: readers never see a partial index, a failure keeps the old one
            res = idx.rebuild(iter_docs(ctx.catalog, ids, bad, lambda i: ctx.progress("index", i, len(ids))))
            failed = {pid for pid, _, _ in (*res.failed, *bad)}
            with ctx.catalog.tx():
                ctx.catalog.forget_stage("index")
                for pid in ids:
                    if pid not in failed:
                        ctx.catalog.set_status(pid, "index", "done")
                ctx.catalog.count("index/indexed", len(ids) - len(failed))
            for pid, code, reason in (*res.failed, *bad):
                ctx.catalog.record_failure(Failure("index", pid, code, reason, now_iso()))
            rep.done += len(ids) - len(failed)
            rep.failed += len(failed)
            ctx.progress("index", len(ids), len(ids))
            ids = []
        else:
            # failed items (e.g. an Elasticsearch outage, E503) are retried on the next run
            ids = ctx.catalog.pending("index", after="extract", retry_failed=True,
                                      after_status=("done", "failed", "skipped"), only=only)
        batch = 200
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            bad = []
            res = idx.upsert(iter_docs(ctx.catalog, chunk, bad))
            failpoint("index", start, "before")  # documents written, catalog status not yet
            failed = {pid for pid, _, _ in (*res.failed, *bad)}
            for pid, code, reason in (*res.failed, *bad):
                ctx.catalog.record_failure(Failure("index", pid, code, reason, now_iso()))
            with ctx.catalog.tx():
                for pid in chunk:
                    if pid not in failed:
                        ctx.catalog.set_status(pid, "index", "done")
                ctx.catalog.count("index/indexed", len(chunk) - len(failed))
            failpoint("index", start, "after")
            rep.done += len(chunk) - len(failed)
            rep.failed += len(failed)
            ctx.progress("index", min(start + batch, len(ids)), len(ids))
        try:
            rep.extra["documents"] = idx.count()
        except RouteWatchError as e:  # the backend went away after the last batch: the catalog says what is left
            rep.extra["documents"] = None
            rep.extra["count_error"] = e.code.value
        rep.extra["backend"] = idx.name
    finally:
        idx.close()
    rep.seconds = time.monotonic() - t0
    return rep


def run_all(ctx: Context, source: str | None = None, urls: list[str] | None = None,
            crawl: bool = True) -> list[StageReport]:
    reports = []
    if crawl:
        reports.append(stage_crawl(ctx, source, urls))
    reports.append(stage_fetch(ctx))
    reports.append(stage_transcribe(ctx))
    reports.append(stage_ocr(ctx))
    reports.append(stage_extract(ctx))
    reports.append(stage_index(ctx))
    return reports
