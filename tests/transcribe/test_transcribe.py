"""Real transcription with the offline base model (int8, 2 threads): what a user of the stage sees."""

import json

import numpy as np
import pytest

from routewatch.core.records import Transcript
from transcribe import DecodedAudio, TranscribeSettings, decode_audio, transcribe_files
from transcribe.base import choose_language
from transcribe.model import BASE_MODEL_SHA256
from transcribe.normalise import to_simplified


def _check_segments(tr: Transcript) -> None:
    assert tr.segments
    for seg in tr.segments:
        assert 0.0 <= seg.start <= seg.end <= tr.seconds
        assert seg.text and seg.avg_logprob is not None and seg.no_speech_prob is not None
    assert [s.start for s in tr.segments] == sorted(s.start for s in tr.segments)


def test_mandarin_clip(transcriber, audio_dev, manifest):
    audio = decode_audio(audio_dev / "dev-002.ogg", 600)
    tr = transcriber.transcribe(audio)
    assert isinstance(tr, Transcript)
    assert tr.language == "zh"
    assert tr.audio_sha256 == audio.pcm_sha256
    assert tr.seconds == pytest.approx(manifest["dev-002"]["seconds"], abs=0.1)
    for word in ("走线", "土耳其", "厄瓜多尔", "外卖"):
        assert word in tr.text
    _check_segments(tr)
    assert tr.text == " ".join(s.text for s in tr.segments)


def test_traditional_speech_comes_out_simplified_with_raw_kept(transcriber, audio_dev):
    # dev-021 was written in Traditional characters; the transcript is Simplified whatever Whisper emits.
    tr = transcriber.transcribe(audio_dev / "dev-021.ogg")
    assert tr.language == "zh"
    assert to_simplified(tr.text) == tr.text
    assert "香港" in tr.text and "机票" in tr.text
    assert tr.raw_text and to_simplified(tr.raw_text).replace(" ", "") == tr.text.replace(" ", "")


def test_provenance_says_how_it_was_made(transcriber, audio_dev):
    tr = transcriber.transcribe(audio_dev / "dev-008.ogg")
    p = tr.provenance.params_dict()
    assert tr.provenance.tool == "transcribe/faster_whisper.v1"
    assert tr.provenance.version == "1.2.1"  # faster-whisper, as pinned
    assert tr.model == tr.provenance.model and "whisper-base" in tr.model
    assert p["model_sha256"] == BASE_MODEL_SHA256
    assert p["compute_type"] == "int8" and p["beam_size"] == "5" and p["threads"] == "2"
    assert "厄瓜多尔" in p["prompt"]
    assert json.loads(p["vad"])["min_silence_duration_ms"] == 1000
    libs = json.loads(p["libraries"])
    assert libs["faster-whisper"] and libs["ctranslate2"]
    assert float(p["wall_time_s"]) > 0
    assert tr.provenance.at.endswith("Z")


def test_english_and_spanish_clips(transcriber, audio_dev):
    en = transcriber.transcribe(audio_dev / "dev-027.ogg")
    assert en.language == "en"
    assert "Panama" in en.text and "money" in en.text
    es = transcriber.transcribe(audio_dev / "dev-015.ogg")
    assert es.language == "es"
    assert "Guardia Nacional" in es.text and "pesos" in es.text
    _check_segments(en)
    _check_segments(es)


def test_music_and_silence_are_skipped_by_vad(transcriber):
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 6) / 16000
    chords = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) * 0.1
    pcm = np.concatenate([np.zeros(16000 * 3), chords, 0.001 * rng.standard_normal(16000 * 3)])
    tr = transcriber.transcribe(DecodedAudio.from_pcm(pcm.astype(np.float32)))
    assert tr.segments == () and tr.text == ""
    assert tr.seconds == pytest.approx(12.0)


def test_speech_after_silence_keeps_original_times(transcriber, audio_dev):
    speech = decode_audio(audio_dev / "dev-003.ogg", 600)
    padded = DecodedAudio.from_pcm(np.concatenate([np.zeros(16000 * 5, np.float32), speech.pcm]))
    tr = transcriber.transcribe(padded)
    assert tr.segments[0].start >= 4.0  # VAD skipped the silence but times are on the file's timeline
    assert "翻墙" in tr.text


def test_language_choice_is_restricted_to_the_configured_ones():
    probs = {"ja": 0.5, "zh": 0.3, "yue": 0.15, "en": 0.05}
    assert choose_language(probs, ("zh", "en", "es"), "zh", 0.3) == ("zh", pytest.approx(0.3 / 0.35))
    assert choose_language({"pt": 0.6, "es": 0.3, "gl": 0.1}, ("zh", "en", "es"), "zh", 0.3)[0] == "es"
    assert choose_language({"ja": 1.0}, ("zh", "en"), "zh", 0.3) == ("zh", 0.0)  # fallback
    assert choose_language({"en": 0.2, "es": 0.21, "zh": 0.2}, ("zh", "en", "es"), "en", 0.5)[0] == "en"


def test_transcribe_files_writes_one_line_per_file_and_goes_on_after_failures(transcriber, audio_dev, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    lines = list(transcribe_files([audio_dev / "dev-003.ogg", empty, tmp_path / "missing.ogg"],
                                  transcriber=transcriber))
    assert len(lines) == 3
    good, bad, missing = lines
    assert set(good) == {"file", "language", "text", "segments", "model", "seconds"}
    assert good["language"] == "zh" and good["segments"]
    assert set(good["segments"][0]) == {"start", "end", "text"}
    assert bad == {"file": str(empty), "error": {"code": "E206", "reason": bad["error"]["reason"]}}
    assert missing["error"]["code"] == "E204"
    json.dumps(lines, ensure_ascii=False)


def test_bad_media_path_raises_its_code_through_the_transcriber(transcriber, tmp_path):
    from routewatch.core.errors import RouteWatchError

    fake = tmp_path / "x.mp4"
    fake.write_text("#EXTM3U\nseg.ts\n")
    with pytest.raises(RouteWatchError) as err:
        transcriber.transcribe(fake)
    assert err.value.code.value == "E208"


def test_too_long_decoded_audio_is_e201():
    from routewatch.core.errors import RouteWatchError
    from transcribe import build_transcriber

    short = build_transcriber(TranscribeSettings(max_audio_seconds=1.0))
    with pytest.raises(RouteWatchError) as err:
        short.transcribe(DecodedAudio.from_pcm(np.zeros(16000 * 2, np.float32)))
    assert err.value.code.value == "E201"
