"""The runner: crawl → fetch → transcribe → extract → index, one linear recipe per item (CONVENTIONS §6).

In: settings and the catalog.  Out: each stage's results in the catalog (and the index), with a
status row per item and stage. A failing item is recorded with its error code and the run goes on;
every stage picks only the items that still need it, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from routewatch.catalog import Catalog, now_iso
from routewatch.errors import Code, RouteWatchError
from routewatch.records import Failure, Post, TextUnit

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _noop(stage: str, done: int, total: int) -> None:
    pass


_FAILPOINT_CALLS: dict[tuple[str, str], int] = {}


def failpoint(stage: str, i: int, when: str) -> None:
    """Fault injection for the resilience tests: `ROUTEWATCH_FAILPOINT=stage:N:before|after` sends this
    process SIGKILL at the N-th (from 0) result of the stage in this process, before it is written or
    right after. Unset: no-op."""
    spec = os.environ.get("ROUTEWATCH_FAILPOINT")
    if not spec:
        return
    key = (stage, when)
    seen = _FAILPOINT_CALLS.get(key, 0)
    _FAILPOINT_CALLS[key] = seen + 1
    st, _, rest = spec.partition(":")
    n, _, w = rest.partition(":")
    if st == stage and n.isdigit() and int(n) == seen and (w or "before") == when:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class StageReport:
    stage: str
    done: int = 0
    failed: int = 0
    skipped: int = 0
    reused: int = 0
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    settings: Any
    catalog: Catalog
    progress: Progress = _noop

    @property
    def data_dir(self) -> Path:
        return Path(self.settings.data_dir)


def _fail(ctx: Context, stage: str, item: str, e: BaseException, source: str = "") -> str:
    if isinstance(e, RouteWatchError):
        code, reason = e.code.value, e.reason
    else:
        code = {"fetch": Code.E203, "transcribe": Code.E302, "extract": Code.E401, "index": Code.E501}.get(
            stage, Code.E101).value
        reason = f"{type(e).__name__}: {e}"
    ctx.catalog.record_failure(Failure(stage, item, code, reason, now_iso()))
    if source:
        ctx.catalog.count(f"{stage}/failed/{code}", source=source)
    return code


# ---- 1. crawl -----------------------------------------------------------------------------------------
def start_urls(settings: Any, source: str | None = None, urls: list[str] | None = None) -> list[tuple[str, str]]:
    if urls:
        return [(u, "cli") for u in urls]
    out = []
    for s in settings.sources:
        if not s.enabled or (source and s.name != source):
            continue
        out += [(u, s.name) for u in s.urls]
    if source and not out and not api_sources(settings, source):
        names = ", ".join(s.name for s in settings.sources) or "none configured"
        raise RouteWatchError(Code.E903, f"no source named {source!r} (configured: {names})")
    return out


def api_sources(settings: Any, source: str | None = None) -> list[Any]:
    """Configured sources that are API queries (`kind = "tiktok_research"`), not URL lists."""
    return [s for s in settings.sources if s.enabled and getattr(s, "kind", "") and (not source or s.name == source)]


def stage_crawl(ctx: Context, source: str | None = None, urls: list[str] | None = None) -> StageReport:
    from crawlers.run import run_crawl
    from crawlers.tiktok_research import KIND as RESEARCH
    from crawlers.tiktok_research import collect_source
    from crawlers.ytdlp_discovery import collect_with_ytdlp, ytdlp_handles

    t0 = time.monotonic()
    starts = start_urls(ctx.settings, source, urls)
    ctx.progress("crawl", 0, 0)
    done = failed = new = 0
    per_source: dict[str, dict[str, int]] = {}
    # 0. API sources: the TikTok Research API (resumable: a stopped or killed query goes on where it was)
    for cfg in [] if urls else api_sources(ctx.settings, source):
        if cfg.kind != RESEARCH:
            raise RouteWatchError(Code.E902, f"source {cfg.name!r}: unknown kind {cfg.kind!r} (known: {RESEARCH})")
        rr = collect_source(cfg, ctx.catalog, ctx.settings)
        done, new, failed = done + rr.videos, new + rr.imported, failed + (1 if rr.stopped else 0)
        per_source[cfg.name] = {"crawl/pages": rr.pages, "crawl/discovered": rr.videos, "crawl/new": rr.imported,
                                **{f"crawl/failed/{k}": v for k, v in rr.failed_by_code.items()}}
        ctx.progress("crawl", done, 0)
    # 1. searches (ytsearchN:…) and platform pages go through yt-dlp's extractors
    via_ytdlp = [(u, s) for u, s in starts if ytdlp_handles(u)]
    for target, src in via_ytdlp:
        rep = collect_with_ytdlp(target, ctx.catalog, ctx.settings, src)
        done += rep.discovered
        new += rep.new
        failed += 1 if rep.failed_code else 0
        d = per_source.setdefault(src, {})
        for k, v in rep.counts.items():
            d[k] = d.get(k, 0) + v
        ctx.progress("crawl", done, 0)
    # 2. pages, feeds and lists go through scrapy and the page crawlers
    pages = [(u, s) for u, s in starts if not ytdlp_handles(u)]
    stats = run_crawl(ctx.catalog, ctx.settings, pages,
                      on_progress=lambda st: ctx.progress("crawl", done + st.discovered, 0))
    for src, d in stats.per_source.items():
        agg = per_source.setdefault(src, {})
        for k, v in d.items():
            agg[k] = agg.get(k, 0) + v
    total = done + stats.discovered
    ctx.progress("crawl", total, total)  # done: the bar stops spinning
    return StageReport("crawl", done=total, failed=failed + stats.failed, seconds=time.monotonic() - t0,
                       extra={"pages": stats.pages, "new": new + stats.new, "per_source": per_source})


# ---- 2. fetch -----------------------------------------------------------------------------------------
def stage_fetch(ctx: Context, retry_failed: bool = False) -> StageReport:
    from crawlers.fetch import YtDlpFetcher

    rep = StageReport("fetch")
    t0 = time.monotonic()
    todo = ctx.catalog.pending("fetch", after="crawl", retry_failed=retry_failed)
    fetcher = YtDlpFetcher(ctx.settings) if todo else None
    prefilter = _prefilter(ctx) if todo and ctx.settings.crawl.prefilter else None
    for i, pid in enumerate(todo):
        post = ctx.catalog.get_post(pid)
        assert post is not None and fetcher is not None
        try:
            # 1. nothing to fetch → skipped (the caption is still extracted and indexed)
            if not post.media_url and post.platform not in ("youtube", "tiktok", "douyin", "bilibili"):
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
            ctx.catalog.put_media(_with_post(media, pid))
            ctx.catalog.count("fetch/fetched", source=post.source)
            failpoint("fetch", i, "after")
            rep.done += 1
        except Exception as e:  # noqa: BLE001 - one bad item must not end the run
            _fail(ctx, "fetch", pid, e, source=post.source)
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
    row = ctx.catalog.db.execute(
        "SELECT m.post_id FROM media m JOIN posts p ON p.post_id = m.post_id WHERE p.media_url = ? LIMIT 1",
        (post.media_url,),
    ).fetchone()
    if not row:
        return None
    m = ctx.catalog.get_media(row[0])
    if m is None or not (ctx.data_dir / m.path).exists():
        return None
    return m


# ---- 3. transcribe --------------------------------------------------------------------------------------
# Fingerprint similarity above which two clips count as the same audio. Measured on the demo
# corpus: an Opus→AAC re-encode of a clip scores 0.79, every pair of distinct clips ≤ 0.08.
FINGERPRINT_MATCH = 0.5


@dataclass
class _Job:
    """One post's media on its way through the stage; `followers` are posts with the same audio."""

    pid: str
    audio: Any = None  # DecodedAudio once decoded
    followers: list[_Job] = field(default_factory=list)
    why: str = "pcm_sha256"  # as a follower: how it was found to be the same audio (counter suffix)


def stage_transcribe(ctx: Context) -> StageReport:
    rep = StageReport("transcribe")
    t0 = time.monotonic()
    todo = ctx.catalog.pending("transcribe", after="fetch")
    if not todo:
        return rep
    from transcribe import build_transcriber
    from transcribe.audio import decode_audio

    ts = ctx.settings.transcribe
    try:
        transcriber = build_transcriber(ts)
    except RouteWatchError as e:
        # No model: record it once per item; extraction goes on with caption text only.
        for pid in todo:
            _fail(ctx, "transcribe", pid, e)
        rep.failed = len(todo)
        return rep
    run = _TranscribeRun(ctx, rep, transcriber, getattr(transcriber, "model_label", "") or ts.model, len(todo))
    # The model runs a batch in a background thread while this thread decodes the next files (ffmpeg
    # is started without a preexec hook, so no fork handler can deadlock against OpenBLAS; see
    # transcribe.audio._run_limited). Results are saved here, in this thread, one post at a time.
    try:
        for pid in todo:
            job = _Job(pid)
            media = ctx.catalog.get_media(pid)
            if media is None:
                run.fail(job, RouteWatchError(Code.E207, "no media record"))
                continue
            # 1. byte-identical media already transcribed (or queued) → reuse, without decoding it
            if run.reuse_by_media_sha(job, media.sha256):
                continue
            run.media_leaders[media.sha256] = job
            # 2. decode (bounded) and hash the audio
            try:
                job.audio = decode_audio(ctx.data_dir / media.path, max_seconds=ts.max_audio_seconds)
            except Exception as e:  # noqa: BLE001
                run.fail(job, e)
                continue
            # 3. same audio already transcribed (PCM hash, then fingerprint) or queued → reuse; else queue it
            run.dedupe_or_queue(job)
            # 4. run the model on a full batch
            if len(run.queue) >= ts.batch_size:
                run.flush()
        run.flush()
        run.wait()
    finally:
        run.close()
    rep.seconds = time.monotonic() - t0
    rep.extra["audio_seconds"] = run.audio_seconds
    rep.extra["rtf"] = (rep.seconds / run.audio_seconds) if run.audio_seconds else None
    return rep


class _TranscribeRun:
    """The transcription stage's bookkeeping: reuse lookups, the queue of unique audio, saving results.

    Every post's result is written in its own catalog transaction (transcript, link, unit, status), so
    a run killed in the middle of a batch leaves each post either done or still pending.
    """

    def __init__(self, ctx: Context, rep: StageReport, transcriber: Any, model_key: str, total: int):
        from concurrent.futures import ThreadPoolExecutor

        self.ctx, self.rep, self.transcriber, self.model_key, self.total = ctx, rep, transcriber, model_key, total
        self.queue: list[_Job] = []
        self.inflight: list[_Job] = []  # the batch the model thread is working on
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rw-transcribe")
        self._future: Any = None
        self.media_leaders: dict[str, _Job] = {}  # media sha256 → the job that decodes it in this run
        self.handled = 0
        self.audio_seconds = 0.0

    def _progress(self, n: int = 1) -> None:
        self.handled += n
        self.ctx.progress("transcribe", self.handled, self.total)

    def fail(self, job: _Job, e: BaseException) -> None:
        _fail(self.ctx, "transcribe", job.pid, e)
        self.rep.failed += 1
        self._progress()
        for follower in job.followers:  # same audio: try it on its own (a batch fault is not its fault)
            self._alone(follower)

    def _reuse(self, job: _Job, tid: str) -> None:
        t = self.ctx.catalog.get_transcript(tid)
        assert t is not None
        self.ctx.catalog.save_transcript_for_post(job.pid, t, reuse_id=tid)
        self.ctx.catalog.count(f"transcribe/reused_{job.why}")
        self.rep.reused += 1
        self._progress()

    def reuse_by_media_sha(self, job: _Job, sha256: str) -> bool:
        row = self.ctx.catalog.db.execute(
            "SELECT pt.transcript_id FROM media m JOIN post_transcripts pt ON pt.post_id = m.post_id "
            "JOIN transcripts t ON t.transcript_id = pt.transcript_id WHERE m.sha256 = ? AND t.model = ? "
            "LIMIT 1", (sha256, self.model_key)).fetchone()
        job.why = "media_sha256"
        if row is not None:
            self._reuse(job, row[0])
            return True
        leader = self.media_leaders.get(sha256)
        if leader is not None:  # the same file is on its way in this run: linked when that one is done
            leader.followers.append(job)
            return True
        return False

    def _match(self, job: _Job) -> str | None:
        """A stored transcript of the same audio: same PCM hash, else a similar fingerprint."""
        from transcribe.audio import fingerprint_similarity

        catalog, audio = self.ctx.catalog, job.audio
        job.why = "pcm_sha256"
        tid = catalog.find_transcript(audio.pcm_sha256, self.model_key)
        if tid is not None or not audio.fingerprint:
            return tid
        job.why = "fingerprint"
        # Coverage caps the similarity at shorter/longer duration, so clips whose durations differ by
        # more than 1/FINGERPRINT_MATCH cannot match: only the others are compared.
        rows = catalog.db.execute(
            "SELECT transcript_id, fingerprint FROM transcripts WHERE model = ? AND fingerprint != '' "
            "AND seconds BETWEEN ? AND ? ORDER BY created_at, transcript_id",
            (self.model_key, audio.seconds * FINGERPRINT_MATCH - 0.01, audio.seconds / FINGERPRINT_MATCH + 0.01),
        ).fetchall()
        for tid, fp in rows:
            if fingerprint_similarity(audio.fingerprint, fp, at_least=FINGERPRINT_MATCH) >= FINGERPRINT_MATCH:
                return tid
        return None

    def _queued_match(self, job: _Job) -> _Job | None:
        """A queued (not yet transcribed) job with the same audio."""
        from transcribe.audio import fingerprint_similarity

        audio = job.audio
        waiting = self.inflight + self.queue
        job.why = "pcm_sha256"
        for other in waiting:
            if other.audio.pcm_sha256 == audio.pcm_sha256:
                return other
        job.why = "fingerprint"
        if audio.fingerprint:
            for other in waiting:
                if fingerprint_similarity(audio.fingerprint, other.audio.fingerprint,
                                          at_least=FINGERPRINT_MATCH) >= FINGERPRINT_MATCH:
                    return other
        return None

    def dedupe_or_queue(self, job: _Job) -> None:
        tid = self._match(job)
        if tid is not None:
            self._reuse(job, tid)
            for follower in job.followers:
                self._reuse(follower, tid)
            return
        leader = self._queued_match(job)
        if leader is not None:
            leader.followers += [job, *job.followers]
            job.followers = []
            return
        self.queue.append(job)

    def _save(self, job: _Job, t: Any) -> None:
        failpoint("transcribe", self.rep.done, "before")
        tid = self.ctx.catalog.save_transcript_for_post(job.pid, t, fingerprint=job.audio.fingerprint)
        failpoint("transcribe", self.rep.done, "after")
        self.audio_seconds += t.seconds
        self.rep.done += 1
        self._progress()
        for follower in job.followers:
            self._reuse(follower, tid)

    def flush(self) -> None:
        """Hand the queued audio to the model thread (after saving the batch it was working on)."""
        batch, self.queue = self.queue, []
        self.wait()
        if batch:
            self.inflight = batch
            self._future = self._model_thread.submit(self._recognise, [job.audio for job in batch])

    def _recognise(self, audios: list[Any]) -> list[Any]:
        """The model thread's work: one result or exception per audio; never touches the catalog."""
        many = getattr(self.transcriber, "transcribe_many", None)
        if many is not None:  # together when the backend can
            return many(audios)
        return [_result_of(self.transcriber.transcribe, audio) for audio in audios]

    def wait(self) -> None:
        """Save the results of the batch in the model thread, each post in its own transaction."""
        if self._future is None:
            return
        batch, future = self.inflight, self._future
        try:
            results = future.result()
        except Exception as e:  # noqa: BLE001 - the whole batch failed: each post records it
            results = [e] * len(batch)
        self.inflight, self._future = [], None
        self.ctx.catalog.count("transcribe/batches")
        for job, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                self.fail(job, result)
            else:
                self._save(job, result)

    def close(self) -> None:
        """Stop the model thread (after an error: without waiting for the batch it may be running)."""
        self._model_thread.shutdown(wait=False, cancel_futures=True)

    def _alone(self, job: _Job) -> None:
        """A post whose audio twin failed: decoded and transcribed on its own."""
        from transcribe.audio import decode_audio

        try:
            if job.audio is None:
                media = self.ctx.catalog.get_media(job.pid)
                if media is None:
                    raise RouteWatchError(Code.E207, "no media record")
                job.audio = decode_audio(self.ctx.data_dir / media.path,
                                         max_seconds=self.ctx.settings.transcribe.max_audio_seconds)
            followers, job.followers = job.followers, []
            t = self.transcriber.transcribe(job.audio)
            job.followers = followers
            self._save(job, t)
        except Exception as e:  # noqa: BLE001
            job.followers = []
            _fail(self.ctx, "transcribe", job.pid, e)
            self.rep.failed += 1
            self._progress()


def _result_of(fn: Callable[[Any], Any], arg: Any) -> Any:
    try:
        return fn(arg)
    except Exception as e:  # noqa: BLE001 - one item's failure is that item's result
        return e


# ---- 4. extract -------------------------------------------------------------------------------------------
def caption_unit(post: Post) -> TextUnit:
    return TextUnit(unit_id=f"{post.post_id}:caption", post_id=post.post_id, kind="caption", text=post.caption,
                    lang=post.lang)


def stage_extract(ctx: Context) -> StageReport:
    rep = StageReport("extract")
    t0 = time.monotonic()
    todo = ctx.catalog.pending("extract", after="crawl")
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
            ctx.catalog.save_extraction(merged, json.dumps(asdict(merged), ensure_ascii=False, default=str))
            failpoint("extract", i, "after")
            facts += fact_count(merged)
            rep.done += 1
        except Exception as e:  # noqa: BLE001
            _fail(ctx, "extract", pid, e)
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
    from index.base import IndexDoc

    post = catalog.get_post(pid)
    assert post is not None
    gold = catalog.get_extraction_gold(pid) or {}
    units = tuple(catalog.units(pid))
    lang = post.lang or next((u.lang for u in units if u.lang), "")
    return IndexDoc(
        post_id=pid, platform=post.platform, url=post.url, posted_at=post.posted_at, captured_at=post.captured_at,
        lang=lang, source=post.source, units=units, relevant=bool(gold.get("relevant")),
        countries=tuple(gold.get("countries", [])), route=tuple(gold.get("route", [])),
        has_bribe=bool(gold.get("bribes")),
        costs=tuple((float(c["amount"]), c["currency"], c["kind"]) for c in gold.get("costs", [])),
        places=tuple(p["canonical"] for p in gold.get("places", [])),
    )


def iter_docs(catalog: Catalog, ids: list[str]) -> Iterator[Any]:
    for pid in ids:
        yield build_doc(catalog, pid)


def stage_index(ctx: Context, rebuild: bool = False) -> StageReport:
    from index.base import build_index

    rep = StageReport("index")
    t0 = time.monotonic()
    idx = build_index(ctx.settings, ctx.settings.data_dir / "catalog.sqlite")
    try:
        if getattr(idx, "schema_reset", False):
            rebuild = True  # an index of an older layout was dropped: project the whole catalog again
            rep.extra["schema_reset"] = True
        if rebuild:
            idx.clear()
            ids = [r[0] for r in ctx.catalog.db.execute(
                "SELECT item_id FROM stage_status WHERE stage='extract' AND status='done' ORDER BY item_id")]
            with ctx.catalog.tx():
                ctx.catalog.db.execute("DELETE FROM stage_status WHERE stage='index'")
        else:
            # failed items (e.g. an Elasticsearch outage, E503) are retried on the next run
            ids = ctx.catalog.pending("index", after="extract", retry_failed=True)
        batch = 200
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            res = idx.upsert(iter_docs(ctx.catalog, chunk))
            failpoint("index", start, "before")  # documents written, catalog status not yet
            failed = {pid for pid, _, _ in res.failed}
            for pid, code, reason in res.failed:
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
    reports.append(stage_extract(ctx))
    reports.append(stage_index(ctx))
    return reports
