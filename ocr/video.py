"""Video file → a bounded stream of sampled frames (BGR, scaled down), read through ffmpeg.

In: a local media path, a sampling rate, a frame budget, a size cap and a wall-clock deadline.
Out: `VideoInfo` (`probe_video`) and `(seconds, frame)` pairs (`sample_frames`), or RouteWatchError
E703 no video stream, E704 unreadable/truncated, E705 too long, E706 timed out, E708 empty or missing.
Never follows playlists or other URLs; the ffmpeg child runs under an address-space cap and is killed
at the deadline; at most one frame is held at a time.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.ffmpeg import capped, file_url, first_line, tool

# Demuxers ffmpeg may pick: containers of video, and single images (a still "video" is one frame).
FORMAT_WHITELIST = ",".join([
    "mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "ogg", "flv", "live_flv", "mpegts",
    "mpeg", "avi", "asf", "nut", "mxf", "dv", "gif", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe",
])
_MAX_HEIGHT = 1280  # with max_width: a 4K frame arrives as at most 720×1280


@dataclass(frozen=True, slots=True)
class VideoInfo:
    width: int  # as displayed (rotation applied)
    height: int
    seconds: float  # 0.0 for a single image
    out_width: int  # frame size handed to the reader
    out_height: int
    still: bool = False  # a single picture (png/jpeg/webp/bmp, or a video without duration)


def _limited(cmd: list[str]) -> list[str]:
    """The command under util-linux prlimit when present (no Python runs between fork and exec)."""
    return capped(cmd) or cmd


def _rotation(stream: dict) -> int:
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            try:
                return int(float(side["rotation"])) % 360
            except (TypeError, ValueError):
                return 0
    try:
        return int(stream.get("tags", {}).get("rotate", 0)) % 360
    except (TypeError, ValueError):
        return 0


def probe_video(path: Path, max_width: int, timeout: float = 20.0) -> VideoInfo:
    """Size and duration of the first video stream; the size frames will arrive in."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise RouteWatchError(Code.E708, f"cannot read {path.name}: {exc.strerror}") from None
    if not path.is_file() or size == 0:
        raise RouteWatchError(Code.E708, f"{path.name} is empty or not a regular file")
    cmd = [tool("ffprobe"), "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST,
           "-print_format", "json", "-show_format", "-show_streams", file_url(path)]
    try:
        done = subprocess.run(_limited(cmd), capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise RouteWatchError(Code.E706, f"probing timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        raise RouteWatchError(Code.E704, f"not a readable video: {first_line(done.stderr) or 'ffprobe failed'}")
    try:
        info = json.loads(done.stdout or b"{}")
    except ValueError:
        raise RouteWatchError(Code.E704, "ffprobe gave unreadable output") from None
    video = [s for s in info.get("streams", []) if s.get("codec_type") == "video"]
    if not video:
        raise RouteWatchError(Code.E703, f"{path.name} has no video stream")
    stream = video[0]
    try:
        w, h = int(stream["width"]), int(stream["height"])
    except (KeyError, TypeError, ValueError):
        raise RouteWatchError(Code.E704, f"{path.name}: video stream without a frame size") from None
    if w <= 0 or h <= 0:
        raise RouteWatchError(Code.E704, f"{path.name}: video stream without a frame size")
    if _rotation(stream) in (90, 270):
        w, h = h, w
    seconds = 0.0
    for value in (info.get("format", {}).get("duration"), stream.get("duration")):
        try:
            seconds = max(seconds, float(value))
        except (TypeError, ValueError):
            continue
    if not math.isfinite(seconds):
        seconds = 0.0
    scale = min(1.0, max_width / w, _MAX_HEIGHT / h)
    ow, oh = max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)
    fmt = str(info.get("format", {}).get("format_name", ""))
    # A picture: an image demuxer, or one frame without a duration. A video whose container gives no
    # duration (some live WebM/FLV) is still sampled as a video; the reader's frame budget bounds it.
    still = fmt.endswith("_pipe") or (seconds <= 0.0 and str(stream.get("nb_frames", "")) in ("1", ""))
    still = still and not (seconds <= 0.0 and fmt.split(",")[0] in ("matroska", "flv", "live_flv", "mpegts", "mov"))
    return VideoInfo(width=w, height=h, seconds=0.0 if still else seconds, out_width=ow, out_height=oh, still=still)


def sample_frames(path: Path, info: VideoInfo, fps: float, max_seconds: float,
                  deadline: float) -> Iterator[tuple[float, np.ndarray]]:
    """Frames at `fps` (time in seconds, BGR array) until the end, `max_seconds`, or the deadline (E706).

    A file that yields no frame at all is E704 (truncated or corrupt).
    """
    frame_bytes = info.out_width * info.out_height * 3
    cmd = [tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-protocol_whitelist", "file",
           "-format_whitelist", FORMAT_WHITELIST, "-i", file_url(path), "-map", "0:v:0", "-an", "-sn", "-dn",
           "-t", f"{max_seconds:.3f}"]
    scale = f"scale={info.out_width}:{info.out_height}:flags=area"
    if info.still:  # one picture: the fps filter would wait for a second frame that never comes
        cmd += ["-frames:v", "1", "-vf", scale]
    else:
        # At most two frames per sampling interval are scaled and converted (the first of each half interval,
        # the grid set a quarter interval late, so that `fps` still shows each tick the frame it picked from
        # all frames: byte-identical on the 12 fps dev clips), then `fps` picks and repeats them. Converted
        # before `fps`, its repeats are references to one picture; converted after it, a still shown for
        # minutes (a one-frame 10-minute video) became hundreds of separate frames queued in ffmpeg at once
        # (1.05 GB peak; now 75 MB).
        half = 2.0 * fps
        pick = (f"select='isnan(prev_selected_t)+gte(floor(t*{half:.6f}-0.5),"
                f"floor(prev_selected_t*{half:.6f}-0.5)+1)'")
        cmd += ["-vf", f"{pick},{scale},format=bgr24,fps={fps:.6f}:round=near"]
    cmd += ["-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1"]
    err_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(_limited(cmd), stdout=subprocess.PIPE, stderr=err_file)  # noqa: S603
    timed_out = threading.Event()

    def _kill() -> None:
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _kill)
    watchdog.daemon = True
    watchdog.start()
    n = 0
    try:
        assert proc.stdout is not None
        while True:
            buf = proc.stdout.read(frame_bytes)
            if not buf or len(buf) < frame_bytes:
                break
            frame = np.frombuffer(buf, dtype=np.uint8).reshape(info.out_height, info.out_width, 3)
            yield n / fps, frame
            n += 1
            if time.monotonic() > deadline:
                _kill()
                break
        proc.wait(timeout=10)
        if timed_out.is_set():
            raise RouteWatchError(Code.E706, f"reading {path.name} timed out after {n} frames")
        if n == 0:
            err_file.seek(0)
            reason = first_line(err_file.read(8192)) or "no frame could be decoded"
            raise RouteWatchError(Code.E704, f"{path.name}: {reason}")
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        err_file.close()
