"""Clips transcribed together (`transcribe_many`) and the stage's reuse shortcuts, on real clips."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from routewatch import pipeline
from routewatch.core.catalog import Catalog
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.records import Media, Transcript
from routewatch.settings import load_settings
from tests.conftest import make_post
from transcribe import DecodedAudio, decode_audio, stage
from transcribe.base import Recognition, Transcriber
from transcribe.settings import TranscribeSettings

TIMING = {"wall_time_s", "rtf", "batch"}  # the only provenance fields allowed to differ


def _segments(t: Transcript) -> list[tuple]:
    return [(s.start, s.end, s.text, s.avg_logprob, s.no_speech_prob) for s in t.segments]


def _music() -> DecodedAudio:
    t = np.arange(16000 * 6) / 16000
    chords = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.1
    return DecodedAudio.from_pcm(np.concatenate([np.zeros(16000 * 2), chords]).astype(np.float32))


def test_transcribe_many_gives_each_clip_what_transcribe_gives_it(transcriber, audio_dev):
    clips = [decode_audio(audio_dev / f"dev-{n}.ogg", 600) for n in ("002", "027", "008", "015", "021")]
    too_long = DecodedAudio(pcm=np.zeros(16000, np.float32), seconds=900.0, pcm_sha256="0" * 64, fingerprint="")
    audios = [clips[0], clips[1], too_long, clips[2], _music(), clips[3], clips[4]]
    alone = [transcriber.transcribe(a) for a in audios if a is not too_long]
    together = transcriber.transcribe_many(audios)
    assert len(together) == len(audios)
    err = together.pop(2)
    assert isinstance(err, RouteWatchError) and err.code is Code.E201  # one clip's error, the others go on
    assert [t.language for t in together] == ["zh", "en", "zh", "", "es", "zh"]
    for one, many in zip(alone, together, strict=True):
        assert isinstance(many, Transcript)
        assert _segments(many) == _segments(one)
        assert (many.text, many.raw_text, many.audio_sha256, many.seconds, many.model) == (
            one.text, one.raw_text, one.audio_sha256, one.seconds, one.model)
        p1, p2 = one.provenance.params_dict(), many.provenance.params_dict()
        assert {k: v for k, v in p1.items() if k not in TIMING} == {k: v for k, v in p2.items() if k not in TIMING}
        assert float(p2["wall_time_s"]) > 0
    # 5 clips with speech (music has none) over the model's workers: they were decoded in batches
    workers = transcriber.settings.workers
    assert together[0].provenance.params_dict()["batch"] == str(-(-5 // workers))
    assert together[3].segments == ()


class _OneByOne(Transcriber):
    """A backend that only implements `_recognise`: `transcribe_many` falls back to the loop."""

    name = "test.one_by_one"

    def _recognise(self, pcm: np.ndarray) -> Recognition:
        if len(pcm) < 16000:
            raise ValueError("too short for this backend")
        return Recognition(language="en", segments=[])


def test_transcribe_many_falls_back_to_one_by_one_with_per_clip_errors(transcriber):
    t = _OneByOne(transcriber.settings)
    out = t.transcribe_many([DecodedAudio.from_pcm(np.zeros(32000, np.float32)),
                             DecodedAudio.from_pcm(np.zeros(8000, np.float32))])
    assert isinstance(out[0], Transcript) and out[0].language == "en"
    assert isinstance(out[1], RouteWatchError) and out[1].code is Code.E302  # as `transcribe` raises it
    assert "too short for this backend" in out[1].reason


# ---- the stage ----------------------------------------------------------------------------------------
def _add(cat: Catalog, data, platform_id: str, src, name: str) -> str:
    post = make_post(platform_id=platform_id)
    cat.upsert_post(post)
    (data / "media").mkdir(exist_ok=True)
    dest = data / "media" / name
    shutil.copyfile(src, dest)
    from transcribe.model import sha256_file

    cat.put_media(Media(post_id=post.post_id, path=f"media/{name}", sha256=sha256_file(dest),
                        size=dest.stat().st_size))
    cat.set_status(post.post_id, "fetch", "done")
    return post.post_id


def _counter(cat: Catalog, name: str) -> int:
    row = cat.db.execute("SELECT SUM(value) FROM counters WHERE name=?", (name,)).fetchone()
    return int(row[0] or 0)


@pytest.fixture
def decodes(monkeypatch):
    """Counts the stage's calls of the real decoder."""
    calls: list[str] = []
    real = stage.decode_audio

    def counted(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(stage, "decode_audio", counted)
    return calls


def test_byte_identical_repost_is_reused_without_decoding(tmp_path, audio_dev, decodes):
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(data_dir=data)
    cat = Catalog(data / "catalog.sqlite")
    try:
        first = _add(cat, data, "chan/1", audio_dev / "dev-003.ogg", "a.ogg")
        repost = _add(cat, data, "chan/2", audio_dev / "dev-003.ogg", "b.ogg")  # same bytes, other file
        other = _add(cat, data, "chan/3", audio_dev / "dev-027.ogg", "c.ogg")
        rep = pipeline.stage_transcribe(pipeline.Context(settings=settings, catalog=cat))
        assert (rep.done, rep.reused, rep.failed) == (2, 1, 0)
        names = sorted(p.rsplit("/", 1)[-1] for p in decodes)  # the stage goes in post-id order
        assert names in (["a.ogg", "c.ogg"], ["b.ogg", "c.ogg"])  # one of the twins, never both
        assert _counter(cat, "transcribe/reused_media_sha256") == 1
        tid = {pid: cat.db.execute("SELECT transcript_id FROM post_transcripts WHERE post_id=?",
                                   (pid,)).fetchone()[0] for pid in (first, repost, other)}
        assert tid[first] == tid[repost] != tid[other]
        # a later run: the same file again is linked to the stored transcript, still without decoding
        decodes.clear()
        again = _add(cat, data, "chan/4", audio_dev / "dev-003.ogg", "d.ogg")
        rep = pipeline.stage_transcribe(pipeline.Context(settings=settings, catalog=cat))
        assert (rep.done, rep.reused, decodes) == (0, 1, [])
        assert _counter(cat, "transcribe/reused_media_sha256") == 2
        assert cat.db.execute("SELECT transcript_id FROM post_transcripts WHERE post_id=?",
                              (again,)).fetchone()[0] == tid[first]
    finally:
        cat.close()


def test_fingerprint_scan_compares_only_clips_of_a_possible_length(fresh_catalog, audio_dev, monkeypatch, tmp_path):
    clip = decode_audio(audio_dev / "dev-003.ogg", 600)
    twice = DecodedAudio.from_pcm(np.concatenate([clip.pcm, clip.pcm, clip.pcm]))  # 3× as long
    quieter = DecodedAudio.from_pcm(clip.pcm * 0.5)  # other PCM hash, same sound
    for i, audio in enumerate((twice, clip)):
        t = Transcript(audio_sha256=audio.pcm_sha256, language="zh", text=f"t{i}", segments=(), model="m",
                       seconds=round(audio.seconds, 3))
        fresh_catalog.upsert_post(make_post(platform_id=f"c/{i}"))
        fresh_catalog.save_transcript_for_post(make_post(platform_id=f"c/{i}").post_id, t,
                                               fingerprint=audio.fingerprint)
    compared: list[int] = []
    real = stage.fingerprint_similarity

    def counted(a, b, at_least=0.0):
        compared.append(len(b))
        return real(a, b, at_least)

    monkeypatch.setattr(stage, "fingerprint_similarity", counted)
    given = stage.StageInput(TranscribeSettings(), tmp_path, fresh_catalog, lambda *a: None)
    run = stage._TranscribeRun(given, pipeline.StageReport("transcribe"), transcriber=None, model_key="m", total=1)
    tid = run._match(stage._Job("p", audio=quieter))
    assert tid is not None and fresh_catalog.get_transcript(tid).text == "t1"
    assert compared == [len(clip.fingerprint)]  # the 3× longer clip was never compared


def test_twin_of_a_clip_in_the_model_thread_is_linked_not_transcribed(tmp_path, audio_dev):
    """batch_size 1: the first clip is with the model thread (not yet saved) when its twin is decoded."""
    import subprocess

    data = tmp_path / "data"
    data.mkdir()
    wav = tmp_path / "dev-003.wav"  # other bytes, same decoded samples
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(audio_dev / "dev-003.ogg"), "-ac", "1", "-ar", "16000",
                    str(wav)], check=True)
    settings = load_settings(data_dir=data)
    settings = settings.model_copy(update={"transcribe": settings.transcribe.model_copy(update={"batch_size": 1})})
    cat = Catalog(data / "catalog.sqlite")
    try:
        first = _add(cat, data, "chan/1", audio_dev / "dev-003.ogg", "a.ogg")
        twin = _add(cat, data, "chan/2", wav, "b.wav")
        other = _add(cat, data, "chan/3", audio_dev / "dev-027.ogg", "c.ogg")
        rep = pipeline.stage_transcribe(pipeline.Context(settings=settings, catalog=cat))
        assert (rep.done, rep.reused, rep.failed) == (2, 1, 0)
        assert _counter(cat, "transcribe/reused_pcm_sha256") + _counter(cat, "transcribe/reused_fingerprint") == 1
        assert _counter(cat, "transcribe/batches") == 2
        tid = dict(cat.db.execute("SELECT post_id, transcript_id FROM post_transcripts").fetchall())
        assert tid[first] == tid[twin] != tid[other]
        assert cat.db.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0] == 2
    finally:
        cat.close()


def test_ordered_save_links_a_later_copy_to_the_earlier_posts_transcript_saved_while_it_waited(tmp_path, audio_dev):
    """Distributed mode's `gate`: the later copy's model result is ready while the earlier copy (another worker's
    chunk) is still pending; once that is saved, the later post links to its transcript, as one process does."""
    import subprocess

    data = tmp_path / "data"
    data.mkdir()
    wav = tmp_path / "dev-003.wav"  # other bytes, same decoded samples
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(audio_dev / "dev-003.ogg"), "-ac", "1", "-ar", "16000",
                    str(wav)], check=True)
    settings = load_settings(data_dir=data)
    cat = Catalog(data / "catalog.sqlite")
    try:
        ids = {_add(cat, data, "chan/1", audio_dev / "dev-003.ogg", "a.ogg"): "ogg",
               _add(cat, data, "chan/2", wav, "b.wav"): "wav"}
        other = _add(cat, data, "chan/3", audio_dev / "dev-027.ogg", "c.ogg")
        earlier, later = [pid for pid in cat.pending("transcribe") if pid in ids]  # catalog order
        ctx = pipeline.Context(settings=settings, catalog=cat)
        gated: list[str] = []

        def gate(pid: str) -> None:  # the other worker's chunk (the earlier copy) is saved while this one waits
            gated.append(pid)
            if len(gated) == 1:
                assert cat.pending("transcribe", after="fetch") == [p for p in cat.pending("transcribe")
                                                                    if p in (earlier, later, other)]
                rep = pipeline.stage_transcribe(ctx, only=[earlier])
                assert (rep.done, rep.reused, rep.failed) == (1, 0, 0)

        rep = pipeline.stage_transcribe(ctx, only=[later, other], gate=gate)
        assert sorted(gated) == sorted([later, other])  # each new model transcript waited for its turn
        assert (rep.done, rep.reused, rep.failed) == (1, 1, 0)  # `other` saved, `later` linked
        assert _counter(cat, "transcribe/superseded") == 1
        tid = dict(cat.db.execute("SELECT post_id, transcript_id FROM post_transcripts").fetchall())
        assert tid[later] == tid[earlier] != tid[other]
        assert cat.db.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0] == 2
        assert cat.pending("transcribe") == []
    finally:
        cat.close()


def test_without_a_gate_nothing_waits_and_a_later_post_keeps_its_own_transcript(tmp_path, audio_dev):
    """The single-process default (gate None): a post transcribed alone is saved at once, with no superseding."""
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(data_dir=data)
    cat = Catalog(data / "catalog.sqlite")
    try:
        a = _add(cat, data, "chan/1", audio_dev / "dev-003.ogg", "a.ogg")
        b = _add(cat, data, "chan/2", audio_dev / "dev-027.ogg", "b.ogg")
        later = cat.pending("transcribe")[1]
        rep = pipeline.stage_transcribe(pipeline.Context(settings=settings, catalog=cat), only=[later])
        assert (rep.done, rep.reused, rep.failed) == (1, 0, 0)
        assert _counter(cat, "transcribe/superseded") == 0
        assert cat.pending("transcribe") == [pid for pid in (a, b) if pid != later]
    finally:
        cat.close()


def test_a_gate_that_gives_up_stops_the_run_and_leaves_the_post_pending(tmp_path, audio_dev):
    """E973 from the gate (a chunk waited too long) is not the post's failure: the job is retried later."""
    data = tmp_path / "data"
    data.mkdir()
    cat = Catalog(data / "catalog.sqlite")
    try:
        pid = _add(cat, data, "chan/1", audio_dev / "dev-003.ogg", "a.ogg")

        def gate(p: str) -> None:
            raise RouteWatchError(Code.E973, f"{p}: earlier posts still untranscribed")

        with pytest.raises(RouteWatchError) as err:
            pipeline.stage_transcribe(pipeline.Context(settings=load_settings(data_dir=data), catalog=cat), gate=gate)
        assert err.value.code is Code.E973
        assert cat.pending("transcribe", after="fetch") == [pid]
        assert cat.db.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0] == 0
    finally:
        cat.close()
