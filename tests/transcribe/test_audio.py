"""Bad media gets its error code in bounded time; good media gets exact and acoustic hashes."""

import random
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from routewatch.core.errors import RouteWatchError
from transcribe import decode_audio, fingerprint, fingerprint_similarity, pcm_sha256
from transcribe.audio import DecodedAudio

SINE = ["-f", "lavfi", "-i", "sine=frequency=440:duration={d}"]
VIDEO = ["-f", "lavfi", "-i", "testsrc=duration={d}:size=160x120:rate=10"]


def _args(template: list[str], d: float) -> list[str]:
    return [a.format(d=d) for a in template]


def assert_code(path: Path, code: str, max_seconds: float = 600.0, within: float = 20.0) -> None:
    started = time.perf_counter()
    with pytest.raises(RouteWatchError) as err:
        decode_audio(path, max_seconds)
    assert err.value.code.value == code, err.value.reason
    assert time.perf_counter() - started < within


def test_empty_file_is_e206(tmp_path):
    empty = tmp_path / "clip.mp4"
    empty.write_bytes(b"")
    assert_code(empty, "E206")


@pytest.mark.parametrize("name", ["noise.mp4", "noise.ogg", "noise"])
def test_random_bytes_are_e204(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(random.Random(7).randbytes(300_000))
    assert_code(path, "E204")


def test_truncated_mp4_is_e204(make_media, tmp_path):
    full = make_media("full.mp4", *_args(SINE, 6), *_args(VIDEO, 6), "-shortest", "-c:v", "libx264", "-c:a", "aac")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert_code(cut, "E204")


def test_truncated_faststart_mp4_is_e204_not_a_silent_half(make_media, tmp_path):
    full = make_media("fs.mp4", *_args(SINE, 6), *_args(VIDEO, 6), "-shortest", "-c:v", "libx264", "-c:a", "aac",
                      "-movflags", "+faststart")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert_code(cut, "E204")


def test_video_without_audio_is_e205(make_media):
    assert_code(make_media("silent.mp4", *_args(VIDEO, 2), "-c:v", "libx264"), "E205")


@pytest.mark.parametrize(
    "body",
    [
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg0.ts\n#EXT-X-ENDLIST\n",
        '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"></MPD>\n',
        "ffconcat version 1.0\nfile 'seg0.ts'\n",
    ],
    ids=["hls", "dash", "ffconcat"],
)
def test_playlist_named_mp4_is_e208_and_not_followed(make_media, tmp_path, body):
    make_media("seg0.ts", *_args(SINE, 2), "-c:a", "aac")  # a segment it could have read: it must not
    fake = tmp_path / "video.mp4"
    fake.write_text(body)
    assert_code(fake, "E208")


def _wav_with_data_size(src: Path, dest: Path, data_size: int) -> None:
    data = bytearray(src.read_bytes())
    i = data.find(b"data")
    data[i + 4 : i + 8] = struct.pack("<I", data_size)
    data[4:8] = struct.pack("<I", min(0xFFFFFFFF, data_size + i))
    dest.write_bytes(bytes(data))


@pytest.mark.parametrize("claimed", [0x7FFFFFF0, 1000], ids=["claims-hours", "claims-31ms"])
def test_wav_whose_header_lies_decodes_what_is_there(make_media, tmp_path, claimed):
    good = make_media("good.wav", *_args(SINE, 3), "-ar", "16000", "-ac", "1")
    liar = tmp_path / "liar.wav"
    _wav_with_data_size(good, liar, claimed)
    audio = decode_audio(liar, max_seconds=600)
    assert audio.seconds == pytest.approx(3.0, abs=0.05)
    assert audio.pcm_sha256 == decode_audio(good, 600).pcm_sha256


def test_longer_than_max_is_e201(make_media):
    assert_code(make_media("long.ogg", *_args(SINE, 8), "-c:a", "libopus"), "E201", max_seconds=5)
    assert_code(make_media("long.wav", *_args(SINE, 8)), "E201", max_seconds=5)  # decoded, not probed


def test_hours_long_file_is_rejected_quickly(make_media):
    hour = make_media("1h.m4a", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "3600",
                      "-c:a", "aac", "-b:a", "8k")
    assert_code(hour, "E201", max_seconds=600, within=5)  # probed: no need to decode ten minutes first


def test_decoded_audio_is_16k_mono_float32(make_media):
    audio = decode_audio(make_media("stereo.m4a", "-f", "lavfi", "-i", "sine=f=300:d=2:sample_rate=44100",
                                    "-ac", "2", "-c:a", "aac"), 600)
    assert audio.sample_rate == 16000
    assert audio.pcm.dtype == np.float32 and audio.pcm.ndim == 1
    assert audio.seconds == pytest.approx(2.0, abs=0.1)
    assert 0.05 < float(np.abs(audio.pcm).max()) <= 1.0  # lavfi sine peaks at 1/8


def test_same_decoded_pcm_gives_the_same_hash_across_containers(make_media, audio_dev):
    src = audio_dev / "dev-002.ogg"
    remux = make_media("remux.mka", "-i", str(src), "-c", "copy")  # same Opus packets, other container
    a, b = decode_audio(src, 600), decode_audio(remux, 600)
    assert a.pcm_sha256 == b.pcm_sha256
    assert a.pcm_sha256 == pcm_sha256(a.pcm)
    assert fingerprint_similarity(a.fingerprint, b.fingerprint) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "name,codec",
    [("re.mp3", ["-c:a", "libmp3lame", "-b:a", "48k"]), ("re.m4a", ["-c:a", "aac", "-b:a", "32k", "-ar", "44100"]),
     ("re.opus", ["-c:a", "libopus", "-b:a", "16k"])],
)
def test_fingerprint_survives_reencoding(make_media, audio_dev, name, codec):
    src = decode_audio(audio_dev / "dev-002.ogg", 600)
    again = decode_audio(make_media(name, "-i", str(audio_dev / "dev-002.ogg"), *codec), 600)
    assert again.pcm_sha256 != src.pcm_sha256  # not byte-identical …
    assert fingerprint_similarity(src.fingerprint, again.fingerprint) > 0.5  # … but the same audio


def test_fingerprint_tells_different_speech_apart(audio_dev):
    a = decode_audio(audio_dev / "dev-002.ogg", 600)
    for other in ("dev-004.ogg", "dev-012.ogg", "dev-009.ogg"):
        assert fingerprint_similarity(a.fingerprint, decode_audio(audio_dev / other, 600).fingerprint) < 0.2


def test_an_excerpt_is_not_the_same_audio(audio_dev):
    a = decode_audio(audio_dev / "dev-002.ogg", 600)
    half = DecodedAudio.from_pcm(a.pcm[: len(a.pcm) // 2])
    assert fingerprint_similarity(a.fingerprint, half.fingerprint) < 0.6
    assert fingerprint_similarity(a.fingerprint, half.fingerprint, at_least=0.6) == 0.0  # ruled out by length


def test_fingerprint_is_deterministic_text():
    pcm = np.sin(np.linspace(0, 2000, 48000)).astype(np.float32)
    assert fingerprint(pcm) == fingerprint(pcm.copy())
    assert fingerprint(pcm).startswith("fp1:")


def test_file_names_are_never_options_or_protocols(make_media, tmp_path, monkeypatch):
    odd_dir = tmp_path / "-a:b dir"
    odd_dir.mkdir()
    src = make_media("tone.wav", *_args(SINE, 1))
    odd = odd_dir / "-i:x.wav"
    odd.write_bytes(src.read_bytes())
    monkeypatch.chdir(odd_dir)
    assert decode_audio(Path("-i:x.wav"), 600).seconds == pytest.approx(1.0, abs=0.05)
