"""Captions-first, "no speech" without a model run, and the fingerprint index, through the real stage."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crawlers.fetch import parse_vtt
from routewatch import pipeline
from routewatch.core.catalog import Catalog
from routewatch.core.records import Media, TextUnit
from routewatch.settings import load_settings
from tests.conftest import make_post
from transcribe import decode_audio, fingerprint_similarity
from transcribe.fpindex import FingerprintIndex
from transcribe.normalise import normalise_text

DEMO = Path(__file__).resolve().parents[2] / "routewatch" / "demo" / "corpus" / "media"


def _add(cat: Catalog, data: Path, platform_id: str, src: Path, subtitles: tuple[str, str] | None = None) -> str:
    """A fetched post with `src` as its media and, optionally, (language, WebVTT text) as its subtitles."""
    post = make_post(platform_id=platform_id)
    cat.upsert_post(post)
    (data / "media").mkdir(exist_ok=True)
    dest = data / "media" / f"{platform_id.replace('/', '_')}{src.suffix}"
    shutil.copyfile(src, dest)
    from transcribe.model import sha256_file

    cat.put_media(Media(post_id=post.post_id, path=str(dest.relative_to(data)), sha256=sha256_file(dest),
                        size=dest.stat().st_size))
    if subtitles is not None:
        segs = parse_vtt(subtitles[1])
        cat.put_unit(TextUnit(unit_id=f"{post.post_id}:subtitle", post_id=post.post_id, kind="subtitle",
                              text=TextUnit.join_segments(segs), lang=subtitles[0], segments=tuple(segs)))
    cat.set_status(post.post_id, "fetch", "done")
    return post.post_id


def _counter(cat: Catalog, name: str) -> int:
    row = cat.db.execute("SELECT SUM(value) FROM counters WHERE name=?", (name,)).fetchone()
    return int(row[0] or 0)


def _transcript(cat: Catalog, pid: str) -> tuple[str, str, str, dict[str, str]]:
    """(tool, language, text, params) of the transcript linked to the post."""
    row = cat.db.execute("SELECT t.provenance_json, t.language, t.text FROM post_transcripts pt JOIN transcripts t "
                         "ON t.transcript_id = pt.transcript_id WHERE pt.post_id = ?", (pid,)).fetchone()
    prov = json.loads(row[0])
    return prov["tool"], row[1], row[2], dict(prov["params"])


def _run(data: Path, cat: Catalog, **transcribe: object) -> pipeline.StageReport:
    settings = load_settings(data_dir=data)
    settings = settings.model_copy(update={"transcribe": settings.transcribe.model_copy(update=transcribe)})
    return pipeline.stage_transcribe(pipeline.Context(settings=settings, catalog=cat))


@pytest.fixture
def data_cat(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    cat = Catalog(data / "catalog.sqlite")
    yield data, cat
    cat.close()


P03_VTT = (DEMO / "p03_ecuador_visa_free.zh.vtt").read_text(encoding="utf-8")
P17_VTT = (DEMO / "p17_jacumba_night_one.en.vtt").read_text(encoding="utf-8")


@pytest.mark.slow
def test_subtitles_in_the_spoken_language_become_the_transcript(data_cat):
    data, cat = data_cat
    zh = _add(cat, data, "c/zh", DEMO / "p03_ecuador_visa_free.mp4", ("zh", P03_VTT))
    # English subtitles on a Mandarin clip: not what is spoken, so the model transcribes it
    wrong = _add(cat, data, "c/wrong", DEMO / "p01_shanghai_to_colombia.mp4", ("en", P17_VTT))
    repost = _add(cat, data, "c/repost", DEMO / "p28_ecuador_visa_free_reup.mp4")  # re-encode, no subtitles
    rep = _run(data, cat)
    assert (rep.done, rep.reused, rep.failed) == (3, 0, 0)
    tool, lang, text, params = _transcript(cat, zh)
    expected = " ".join(normalise_text(s.text, "zh", True) for s in parse_vtt(P03_VTT))
    assert (tool, lang, text, params["source"]) == ("transcribe/subtitles", "zh", expected, "subtitles")
    assert float(params["language_probability"]) >= 0.3
    tool, lang, text, params = _transcript(cat, wrong)
    assert (tool, lang, params["source"]) == ("transcribe/faster_whisper.v1", "zh", "asr")
    assert "上海" in text
    # a copy without subtitles of its own is transcribed: subtitles stand for the post that carries them,
    # so what a post gets does not depend on which copy arrived first (test below)
    tool, lang, text, params = _transcript(cat, repost)
    assert (tool, params["source"]) == ("transcribe/faster_whisper.v1", "asr") and "基多" in text
    assert _counter(cat, "transcribe/from_subtitles") == 1


@pytest.mark.slow
def test_what_a_post_gets_does_not_depend_on_arrival_order(tmp_path):
    """A resumed run must equal an uninterrupted one: the subtitled post and its copy without subtitles
    end with the same transcripts whichever of them is transcribed first (a failed fetch reorders them)."""
    got = []
    for order in ((True, False), (False, True)):
        data = tmp_path / ("a" if order[0] else "b")
        data.mkdir()
        cat = Catalog(data / "catalog.sqlite")
        try:
            pids = {}
            for with_subs in order:
                if with_subs:
                    pids["subs"] = _add(cat, data, "c/zh", DEMO / "p03_ecuador_visa_free.mp4", ("zh", P03_VTT))
                else:
                    pids["copy"] = _add(cat, data, "c/repost", DEMO / "p28_ecuador_visa_free_reup.mp4")
                _run(data, cat)  # one post per run: the second finds the first's transcript stored
            got.append({k: _transcript(cat, pid)[2] for k, pid in pids.items()})
        finally:
            cat.close()
    assert got[0] == got[1]
    assert got[0]["subs"] != got[0]["copy"]  # subtitles for the subtitled post, the model's words for the copy


@pytest.mark.slow
def test_captions_first_off_transcribes_and_does_not_reuse_subtitle_transcripts(data_cat):
    data, cat = data_cat
    zh = _add(cat, data, "c/zh", DEMO / "p03_ecuador_visa_free.mp4", ("zh", P03_VTT))
    _run(data, cat)
    assert _transcript(cat, zh)[0] == "transcribe/subtitles"
    # with the setting off, a later repost of the same file is transcribed by the model
    again = _add(cat, data, "c/again", DEMO / "p03_ecuador_visa_free.mp4", ("zh", P03_VTT))
    rep = _run(data, cat, captions_first=False)
    assert (rep.done, rep.reused) == (1, 0)
    tool, lang, text, params = _transcript(cat, again)
    assert (tool, lang, params["source"]) == ("transcribe/faster_whisper.v1", "zh", "asr")
    assert _counter(cat, "transcribe/from_subtitles") == 1


@pytest.mark.slow
def test_music_only_clip_ends_as_no_speech_without_a_model_run(data_cat, make_media):
    data, cat = data_cat
    music = make_media("music.ogg", "-f", "lavfi", "-i", "sine=frequency=220:duration=8", "-f", "lavfi", "-i",
                       "sine=frequency=330:duration=8", "-filter_complex", "amix=inputs=2", "-ac", "1")
    pid = _add(cat, data, "c/music", music, ("zh", P03_VTT))  # captions over music: still no speech
    rep = _run(data, cat)
    assert (rep.done, rep.failed) == (1, 0)
    tool, lang, text, params = _transcript(cat, pid)
    assert (tool, lang, text, params["speech_seconds"], params["source"]) == (
        "transcribe/faster_whisper.v1", "", "", "0", "asr")
    assert "batch" not in params  # the clip never reached the model's batch
    assert _counter(cat, "transcribe/no_speech") == 1
    assert _counter(cat, "transcribe/from_subtitles") == 0


def _demo_fingerprints() -> list[tuple[str, str, float]]:
    out = []
    for f in sorted(DEMO.iterdir()):
        if f.suffix in (".mp4", ".ogg"):
            try:
                a = decode_audio(f, 600)
            except Exception:  # noqa: BLE001, S112 - p20 is truncated on purpose
                continue
            out.append((f.name[:3], a.fingerprint, a.seconds))
    return out


def test_fingerprint_index_finds_the_same_matches_as_the_scan_on_the_demo_corpus():
    clips = _demo_fingerprints()
    assert len(clips) == 26  # the demo's 27 media files but p20 (cut short on purpose)
    index = FingerprintIndex()
    for cid, fp, secs in clips:
        index.add(cid, fp, secs)

    def first(candidates: list[tuple[str, str, float]], fp: str, me: str) -> str | None:
        for cid, other, _ in candidates:
            if cid != me and fingerprint_similarity(fp, other, at_least=0.5) >= 0.5:
                return cid
        return None

    by_id = {c[0]: c for c in clips}
    found, scanned = {}, {}
    for cid, fp, secs in clips:
        found[cid] = first([by_id[x] for x in index.lookup(fp, secs)], fp, cid)
        scanned[cid] = first([c for c in clips if secs * 0.5 - 0.01 <= c[2] <= secs / 0.5 + 0.01], fp, cid)
    assert found == scanned
    assert {k: v for k, v in found.items() if v} == {"p03": "p10", "p10": "p03", "p28": "p03"}
    # unrelated clips are rarely even candidates: at most 3 (the clip itself and one or two others)
    assert max(len(index.lookup(fp, secs)) for _, fp, secs in clips) == 3


def test_fingerprint_index_keeps_insertion_order_and_duration_window():
    clips = {c[0]: c for c in _demo_fingerprints()}
    index = FingerprintIndex()
    for cid in ("p28", "p10", "p03", "p01"):
        index.add(*clips[cid])
    _, fp, secs = clips["p03"]
    assert index.lookup(fp, secs) == ["p28", "p10", "p03"]
    assert index.lookup(fp, secs * 3) == []  # stored clips under half as long cannot match
    assert index.lookup("", secs) == []
