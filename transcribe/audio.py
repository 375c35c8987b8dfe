"""Media file → 16 kHz mono PCM, its exact hash and a re-encode-robust fingerprint.

In: a media file path (video or audio) and the longest duration accepted.
Out: `DecodedAudio`, or RouteWatchError with an E2xx code (E201 too long, E204 corrupt, E205 no audio,
E206 empty, E208 playlist). Never follows playlists or other URLs, never runs ffprobe/ffmpeg without a
timeout, never decodes past `max_seconds` (time and memory stay bounded whatever the bytes are).
"""

from __future__ import annotations

import base64
import hashlib
import json
import resource
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.ffmpeg import CHILD_MEMORY_LIMIT, capped, file_url, first_line, tool

SAMPLE_RATE = 16000
# Demuxers we let ffmpeg pick (CONVENTIONS: no playlist/concat/image2 demuxers that open other files).
FORMAT_WHITELIST = ",".join(
    [
        "mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "ogg", "mp3", "wav", "w64",
        "flac", "aac", "flv", "live_flv", "mpegts", "mpeg", "avi", "asf", "caf", "aiff", "amr",
        "amrnb", "amrwb", "au", "wv", "ape", "loas", "ac3", "eac3", "dts", "truehd", "tta", "rm",
        "nut", "mxf", "dv",
    ]
)
_PLAYLIST_MARKS = (b"#extm3u", b"#ext-x-", b"[playlist]", b"ffconcat", b"<mpd", b"<smil", b"<asx")


@dataclass(frozen=True, slots=True, eq=False)
class DecodedAudio:
    """Decoded mono PCM (float32 in [-1, 1]) with the hashes the pipeline dedupes on."""

    pcm: np.ndarray = field(repr=False)
    seconds: float
    pcm_sha256: str  # exact: sha256 of the 16-bit PCM (same decoded audio → same hash)
    fingerprint: str  # acoustic: survives re-encoding (compare with fingerprint_similarity)
    sample_rate: int = SAMPLE_RATE
    source: str = ""  # file it came from, for messages

    @classmethod
    def from_pcm(cls, pcm: np.ndarray, sample_rate: int = SAMPLE_RATE, source: str = "") -> DecodedAudio:
        data = np.ascontiguousarray(pcm, dtype=np.float32).reshape(-1)
        return cls(
            pcm=data,
            seconds=len(data) / float(sample_rate),
            pcm_sha256=pcm_sha256(data),
            fingerprint=fingerprint(data, sample_rate),
            sample_rate=sample_rate,
            source=source,
        )


def _pcm_int16(pcm: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(pcm, dtype=np.float32) * 32768.0), -32768, 32767).astype("<i2")


def pcm_sha256(pcm: np.ndarray) -> str:
    """sha256 of the PCM quantised to little-endian 16-bit (what ffmpeg decoded, byte for byte)."""
    return hashlib.sha256(_pcm_int16(pcm).tobytes()).hexdigest()


# ---------------------------------------------------------------------------------------------------
# Fingerprint: per frame, 32 sign bits of the band-energy differences across frequency and time
# (Haitsma-Kalker style). Codecs change levels and fine detail, rarely which of two neighbouring bands
# gains energy faster, so most bits survive a re-encode; unrelated audio agrees on about half.

FP_VERSION = "fp1"
_FP_FRAME = 2048  # 128 ms at 16 kHz
_FP_HOP = 512  # 32 ms
_FP_BANDS = 33  # → 32 bits per frame
_FP_FMIN, _FP_FMAX = 200.0, 4000.0
_FP_MAX_SHIFT = 16  # frames (~0.5 s) of offset tolerated between two copies
_FP_BLOCK = 512  # frames per FFT block


def _band_edges(sample_rate: int) -> np.ndarray:
    freqs = np.geomspace(_FP_FMIN, min(_FP_FMAX, sample_rate / 2 - 1), _FP_BANDS + 1)
    return np.round(freqs / sample_rate * _FP_FRAME).astype(int)


def _fingerprint_bits(pcm: np.ndarray, sample_rate: int) -> np.ndarray:
    x = np.asarray(pcm, dtype=np.float32).reshape(-1)
    if sample_rate != SAMPLE_RATE and len(x):
        n = int(round(len(x) * SAMPLE_RATE / sample_rate))
        x = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x).astype(np.float32)
    if len(x) < _FP_FRAME + _FP_HOP:
        return np.zeros(0, dtype=np.uint32)
    n_frames = 1 + (len(x) - _FP_FRAME) // _FP_HOP
    window = np.hanning(_FP_FRAME).astype(np.float32)
    edges = _band_edges(SAMPLE_RATE)
    energy = np.empty((n_frames, _FP_BANDS), dtype=np.float64)
    for first in range(0, n_frames, _FP_BLOCK):  # in blocks: memory stays flat for a 10-minute file
        count = min(_FP_BLOCK, n_frames - first)
        idx = np.arange(_FP_FRAME)[None, :] + _FP_HOP * (first + np.arange(count))[:, None]
        spec = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2
        for band, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            energy[first:first + count, band] = spec[:, lo:max(hi, lo + 1)].sum(axis=1)
    energy = np.log(energy + 1e-6)
    dfreq = energy[:, :-1] - energy[:, 1:]  # (frames, 32)
    bits = (dfreq[1:] - dfreq[:-1]) > 0  # (frames-1, 32)
    weights = (1 << np.arange(32, dtype=np.uint64)).astype(np.uint64)
    return (bits.astype(np.uint64) * weights).sum(axis=1).astype(np.uint32)


def fingerprint(pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> str:
    """Acoustic fingerprint as text: 'fp1:' + base64 of one 32-bit word per 32 ms frame."""
    words = _fingerprint_bits(pcm, sample_rate)
    return f"{FP_VERSION}:" + base64.b64encode(words.astype("<u4").tobytes()).decode("ascii")


def _decode_fp(fp: str) -> np.ndarray:
    version, _, payload = fp.partition(":")
    if version != FP_VERSION:
        raise ValueError(f"unknown fingerprint version {version!r}")
    return np.frombuffer(base64.b64decode(payload), dtype="<u4")


def _popcount(words: np.ndarray) -> int:
    as_bytes = words.astype("<u4").view(np.uint8)
    return int(np.unpackbits(as_bytes).sum())


def fingerprint_similarity(a: str, b: str, at_least: float = 0.0) -> float:
    """0.0 (unrelated) … 1.0 (same audio): best-aligned 1 - 2·bit-error-rate, scaled by coverage.

    Coverage is the aligned overlap over the longer fingerprint, so a short excerpt of a long
    recording is not "the same audio". With `at_least`, pairs whose lengths alone rule that score out
    return 0.0 without being compared (cheap when scanning many stored fingerprints).
    """
    fa, fb = _decode_fp(a), _decode_fp(b)
    if len(fa) == 0 or len(fb) == 0:
        return 1.0 if len(fa) == len(fb) == 0 and a == b else 0.0
    longest = max(len(fa), len(fb))
    if min(len(fa), len(fb)) / longest < at_least:
        return 0.0
    best = 0.0
    for shift in range(-_FP_MAX_SHIFT, _FP_MAX_SHIFT + 1):
        xa = fa[max(0, shift):]
        xb = fb[max(0, -shift):]
        n = min(len(xa), len(xb))
        if n < 8:
            continue
        ber = _popcount(xa[:n] ^ xb[:n]) / (32.0 * n)
        best = max(best, max(0.0, 1.0 - 2.0 * ber) * (n / longest))
    return best


# ---------------------------------------------------------------------------------------------------
# Decoding through ffprobe/ffmpeg child processes: a hostile file can hang or bloat a child, which we
# kill on time-out; it cannot take the worker down with it.


def _limit_child() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_LIMIT, CHILD_MEMORY_LIMIT))


def _run_limited(cmd: list[str], **kw):
    """subprocess.run with the child's address space capped. Through util-linux `prlimit` when there
    is one: then no Python runs between fork and exec, so CPython starts the child with vfork and no
    fork handlers run — decoding may go on while model threads are inside OpenBLAS (a preexec_fn
    there can deadlock in OpenBLAS's fork handler)."""
    limited = capped(cmd)
    if limited:
        return subprocess.run(limited, **kw)  # noqa: S603
    return subprocess.run(cmd, preexec_fn=_limit_child, **kw)  # noqa: S603, PLW1509


def _sniff_playlist(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return any(text.startswith(mark) for mark in _PLAYLIST_MARKS) or (
        text.startswith(b"<?xml") and any(mark in text for mark in (b"<mpd", b"<smil"))
    )


def probe(path: Path, timeout: float = 20.0) -> dict:
    """ffprobe's JSON (format + streams) for a local file, or E204 when it cannot be read."""
    cmd = [
        tool("ffprobe"), "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST,
        "-print_format", "json", "-show_format", "-show_streams", file_url(path),
    ]
    try:
        done = _run_limited(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RouteWatchError(Code.E204, f"probing timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        reason = first_line(done.stderr) or "ffprobe failed"
        raise RouteWatchError(Code.E204, f"not a readable media file: {reason}")
    try:
        info = json.loads(done.stdout or b"{}")
    except ValueError:
        raise RouteWatchError(Code.E204, "ffprobe gave unreadable output") from None
    return info


def _duration(info: dict) -> float | None:
    values = [info.get("format", {}).get("duration")]
    values += [s.get("duration") for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    found = []
    for v in values:
        try:
            found.append(float(v))
        except (TypeError, ValueError):
            continue
    return max(found) if found else None


def decode_audio(
    path: str | Path,
    max_seconds: float,
    sample_rate: int = SAMPLE_RATE,
    *,
    probe_timeout: float = 20.0,
    decode_timeout: float = 120.0,
) -> DecodedAudio:
    """Decode the first audio stream of `path` to mono float32 PCM at `sample_rate`.

    Raises RouteWatchError: E206 empty file, E208 playlist/manifest, E204 unreadable, truncated or
    timed out, E205 no audio stream, E201 longer than `max_seconds`.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RouteWatchError(Code.E204, f"cannot read {path.name}: {exc.strerror}") from None
    if not path.is_file():
        raise RouteWatchError(Code.E204, f"{path.name} is not a regular file")
    if size == 0:
        raise RouteWatchError(Code.E206, f"{path.name} is empty (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(4096)
    if _sniff_playlist(head):
        raise RouteWatchError(Code.E208, f"{path.name} is a playlist/manifest, not a media file")

    info = probe(path, timeout=probe_timeout)
    streams = info.get("streams", [])
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        kinds = sorted({s.get("codec_type", "?") for s in streams})
        if not streams:
            raise RouteWatchError(Code.E204, f"{path.name} has no streams")
        raise RouteWatchError(Code.E205, f"{path.name} has no audio stream (only {', '.join(kinds)})")
    fmt = str(info.get("format", {}).get("format_name", ""))
    probed = _duration(info)
    # WAV headers can lie about the length (streamed writers): read what is there instead.
    wav = fmt.split(",")[0] in ("wav", "w64")
    if probed is not None and probed > max_seconds + 0.5 and not wav:
        raise RouteWatchError(
            Code.E201, f"media longer than max_audio_seconds ({probed:.0f} s > {max_seconds:.0f} s)"
        )

    cap_seconds = max_seconds + 0.5  # decode a little past the limit to tell "too long" from "exactly"
    max_bytes = int(cap_seconds * sample_rate) * 2 + 4096
    cmd = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-protocol_whitelist", "file",
           "-format_whitelist", FORMAT_WHITELIST]
    if wav:
        cmd += ["-ignore_length", "1"]
    cmd += ["-i", file_url(path), "-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(sample_rate),
            "-t", f"{cap_seconds:.3f}", "-fs", str(max_bytes), "-f", "s16le", "pipe:1"]
    with tempfile.TemporaryFile() as err_file:
        try:
            done = _run_limited(cmd, stdout=subprocess.PIPE, stderr=err_file, timeout=decode_timeout, check=False)
        except subprocess.TimeoutExpired:
            raise RouteWatchError(Code.E204, f"decoding timed out after {decode_timeout:.0f} s") from None
        err_file.seek(0)
        err = err_file.read(8192)
    raw = done.stdout[: max_bytes - (max_bytes % 2)]
    if done.returncode != 0 and not raw:
        raise RouteWatchError(Code.E204, f"cannot decode {path.name}: {first_line(err) or 'ffmpeg failed'}")
    pcm = (np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2").astype(np.float32)) / 32768.0
    seconds = len(pcm) / float(sample_rate)
    if seconds == 0.0:
        raise RouteWatchError(Code.E204, f"no audio could be decoded from {path.name}")
    if seconds > max_seconds:
        raise RouteWatchError(Code.E201, f"media longer than max_audio_seconds (> {max_seconds:.0f} s)")
    errors = err.decode("utf-8", "replace").lower()
    truncated = "partial file" in errors or (
        errors.strip() and probed is not None and not wav and seconds < 0.9 * min(probed, max_seconds)
    )
    if truncated or done.returncode != 0:
        raise RouteWatchError(
            Code.E204,
            f"{path.name} is truncated or corrupt (decoded {seconds:.1f} s of {probed or 0:.1f} s: "
            f"{first_line(err) or 'ffmpeg error'})",
        )
    return DecodedAudio(
        pcm=pcm,
        seconds=seconds,
        pcm_sha256=pcm_sha256(pcm),
        fingerprint=fingerprint(pcm, sample_rate),
        sample_rate=sample_rate,
        source=str(path),
    )
