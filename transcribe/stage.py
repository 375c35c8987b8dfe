"""The transcription stage over the catalog: each fetched post's media → a transcript, reused when it can be.

In: the transcribe section (`TranscribeSettings`), the data dir, the catalog, a progress callback, and the
posts pending "transcribe".
Out: per post, in its own catalog transaction, a transcript (new, reused from the same media file /
audio / a fingerprinted copy, or the post's platform subtitles when captions-first confirms the spoken
language), its unit and status; or a failure with its code. Counters under `transcribe/`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routewatch.core.catalog import Catalog
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.stage import Progress, StageReport, failpoint, record_failure
from transcribe.audio import decode_audio, fingerprint_similarity
from transcribe.base import Captions
from transcribe.build import build_transcriber
from transcribe.fpindex import FingerprintIndex
from transcribe.settings import TranscribeSettings

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
    captions: Any = None  # transcribe.base.Captions: the post's platform subtitles (captions-first)


@dataclass
class StageInput:
    """What the stage is handed: its own settings section, the data dir, the catalog, progress."""

    settings: TranscribeSettings
    data_dir: Path
    catalog: Catalog
    progress: Progress


def _no_progress(stage: str, done: int, total: int) -> None:
    pass


def run_stage(settings: TranscribeSettings, data_dir: Path, catalog: Catalog,
              progress: Progress = _no_progress, only: list[str] | None = None,
              gate: Callable[[str], None] | None = None, transcriber: Any = None) -> StageReport:
    """`routewatch.pipeline.stage_transcribe`: every post pending transcription (`only`: among these ids, a
    distributed batch), in catalog order.

    `gate(post_id)` (distributed mode, "ordered save"): called before a new model transcript of a post is saved;
    it returns once every earlier post other workers still transcribe has its status. The post is then matched
    against the catalog again and linked to an earlier copy's transcript if one appeared meanwhile (counter
    `transcribe/superseded`: a model run wasted), so each copy reuses the earliest post's transcript as one
    process does. None: no waiting (one process). `transcriber`: one already built from these settings (a
    worker keeps its model loaded across jobs); None builds it here."""
    ctx = StageInput(settings, Path(data_dir), catalog, progress)

    rep = StageReport("transcribe")
    t0 = time.monotonic()
    todo = ctx.catalog.pending("transcribe", after="fetch", only=only)
    if not todo:
        return rep
    ts = ctx.settings
    try:
        transcriber = transcriber if transcriber is not None else build_transcriber(ts)
    except RouteWatchError as e:
        # No model: record it once per item; extraction goes on with caption text only.
        for pid in todo:
            record_failure(ctx.catalog, "transcribe", pid, e)
        rep.failed = len(todo)
        return rep
    run = _TranscribeRun(ctx, rep, transcriber, getattr(transcriber, "model_label", "") or ts.model, len(todo))
    run.gate = gate
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
            # The post's own platform subtitles, when captions-first may keep them instead of decoding. A
            # post's transcript never depends on which post came first: subtitles stand only for the post
            # that carries them; a post without its own is transcribed (shared by all copies of its audio).
            job.captions = run.captions_of(pid)
            # 1. byte-identical media already transcribed (or queued) → reuse, without decoding it
            if run.reuse_by_media_sha(job, media.sha256):
                continue
            if job.captions is None:
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

    def __init__(self, ctx: StageInput, rep: StageReport, transcriber: Any, model_key: str, total: int):
        self.ctx, self.rep, self.transcriber, self.model_key, self.total = ctx, rep, transcriber, model_key, total
        self.queue: list[_Job] = []
        self.inflight: list[_Job] = []  # the batch the model thread is working on
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rw-transcribe")
        self._future: Any = None
        self.media_leaders: dict[str, _Job] = {}  # media sha256 → the job that decodes it in this run
        self.handled = 0
        self.audio_seconds = 0.0
        self._index: Any = None  # transcribe.fpindex.FingerprintIndex, built on first use
        self._fingerprints: dict[str, str] = {}
        self.captions_first = ctx.settings.captions_first
        self.gate: Callable[[str], None] | None = None  # distributed mode: wait for earlier posts before a save
        self.gate_error: BaseException | None = None  # what the gate raised: never a post's failure
        # Only the model's own transcripts (model key `model_key`) are shared between copies of one audio; a
        # transcript made of a post's subtitles (SUBTITLES_MODEL_PREFIX + key) stands for that post alone, so
        # what a post gets never depends on the order posts arrive in (a resumed run equals an uninterrupted one).

    def _progress(self, n: int = 1) -> None:
        self.handled += n
        self.ctx.progress("transcribe", self.handled, self.total)

    def fail(self, job: _Job, e: BaseException) -> None:
        record_failure(self.ctx.catalog, "transcribe", job.pid, e)
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
        if job.captions is not None:  # its own subtitles decide (captions-first), never a copy's transcript
            return False
        found = self.ctx.catalog.transcript_for_media(sha256, self.model_key)
        job.why = "media_sha256"
        if found is not None:
            self._reuse(job, found)
            return True
        leader = self.media_leaders.get(sha256)
        if leader is not None and leader.captions is None:  # the same file is on its way in this run
            leader.followers.append(job)
            return True
        return False

    def _match(self, job: _Job) -> str | None:
        """A stored transcript of the same audio: same PCM hash, else a similar fingerprint."""
        catalog, audio = self.ctx.catalog, job.audio
        if job.captions is not None:  # its own subtitles decide (captions-first), never a copy's transcript
            return None
        job.why = "pcm_sha256"
        found = catalog.find_transcript(audio.pcm_sha256, self.model_key)
        if found is not None or not audio.fingerprint:
            return found
        job.why = "fingerprint"
        # Candidates from the banded index (transcribe/fpindex.py), each confirmed by the similarity;
        # coverage caps the similarity at shorter/longer duration, so the index drops clips whose
        # durations differ by more than 1/FINGERPRINT_MATCH.
        index = self.fingerprint_index()
        for tid in index.lookup(audio.fingerprint, audio.seconds, min_ratio=FINGERPRINT_MATCH):
            fp = self._fingerprints[tid]
            if fingerprint_similarity(audio.fingerprint, fp, at_least=FINGERPRINT_MATCH) >= FINGERPRINT_MATCH:
                return tid
        return None

    def fingerprint_index(self) -> Any:
        """The index over the stored fingerprints of this model, read from the catalog once per run."""
        if self._index is None:
            self._index = FingerprintIndex()
            self._add_stored_fingerprints()
        return self._index

    def _add_stored_fingerprints(self) -> None:
        """Add to the index the catalog's fingerprints it does not hold yet, oldest first (so a lookup still
        meets older transcripts first); other workers' transcripts saved since the index was built join it."""
        for tid, fp, seconds in self.ctx.catalog.fingerprints(self.model_key):
            if tid not in self._fingerprints:
                self._index.add(tid, fp, seconds)
                self._fingerprints[tid] = fp

    def _earlier_copy(self, job: _Job) -> str | None:
        """After the gate: a transcript of the same media file or audio saved since this post was matched."""
        if job.captions is not None:
            return None
        media = self.ctx.catalog.get_media(job.pid)
        found = self.ctx.catalog.transcript_for_media(media.sha256, self.model_key) if media is not None else None
        if found is not None:
            job.why = "media_sha256"
            return found
        if self._index is not None:
            self._add_stored_fingerprints()
        return self._match(job)

    def captions_of(self, pid: str) -> Any:
        """The post's platform subtitles (declared language, cues) when captions-first is on, else None."""
        if not self.captions_first:
            return None
        for unit in self.ctx.catalog.units(pid):
            if unit.kind == "subtitle" and unit.segments and unit.lang:
                return Captions.of(unit.lang, unit.segments)
        return None

    def _queued_match(self, job: _Job) -> _Job | None:
        """A queued (not yet transcribed) job with the same audio."""
        audio = job.audio
        if job.captions is not None:
            return None
        waiting = [j for j in self.inflight + self.queue if j.captions is None]  # subtitles stand for their post only
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
        params = t.provenance.params_dict() if t.provenance else {}
        if self.gate is not None and params.get("source") != "subtitles":  # subtitles stand for their post only
            try:
                self.gate(job.pid)
            except BaseException as e:  # e.g. it waited too long: the whole run stops, nothing is recorded
                self.gate_error = e
                raise
            earlier = self._earlier_copy(job)
            if earlier is not None:  # an earlier copy was saved by another worker meanwhile: its transcript wins
                self.ctx.catalog.count("transcribe/superseded")
                self._reuse(job, earlier)
                for follower in job.followers:
                    self._reuse(follower, earlier)
                return
        failpoint("transcribe", self.rep.done, "before")
        tid = self.ctx.catalog.save_transcript_for_post(job.pid, t, fingerprint=job.audio.fingerprint)
        failpoint("transcribe", self.rep.done, "after")
        if (self._index is not None and job.audio.fingerprint and tid not in self._fingerprints
                and params.get("source") != "subtitles"):  # only the model's own transcripts are shared
            self._index.add(tid, job.audio.fingerprint, t.seconds)
            self._fingerprints[tid] = job.audio.fingerprint
        if params.get("source") == "subtitles":
            self.ctx.catalog.count("transcribe/from_subtitles")
        elif params.get("speech_seconds") == "0":
            self.ctx.catalog.count("transcribe/no_speech")
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
            self._future = self._model_thread.submit(self._recognise, [job.audio for job in batch],
                                                     [job.captions for job in batch])

    def _recognise(self, audios: list[Any], captions: list[Any]) -> list[Any]:
        """The model thread's work: one result or exception per audio; never touches the catalog."""
        many = getattr(self.transcriber, "transcribe_many", None)
        if many is not None:  # together when the backend can
            return many(audios, captions) if any(captions) else many(audios)
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
        try:
            if job.audio is None:
                media = self.ctx.catalog.get_media(job.pid)
                if media is None:
                    raise RouteWatchError(Code.E207, "no media record")
                job.audio = decode_audio(self.ctx.data_dir / media.path,
                                         max_seconds=self.ctx.settings.max_audio_seconds)
            followers, job.followers = job.followers, []
            t = self.transcriber.transcribe(job.audio)
            job.followers = followers
            self._save(job, t)
        except Exception as e:  # noqa: BLE001
            if e is self.gate_error:
                raise
            job.followers = []
            record_failure(self.ctx.catalog, "transcribe", job.pid, e)
            self.rep.failed += 1
            self._progress()


def _result_of(fn: Callable[[Any], Any], arg: Any) -> Any:
    try:
        return fn(arg)
    except Exception as e:  # noqa: BLE001 - one item's failure is that item's result
        return e
