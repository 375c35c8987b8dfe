"""The on-screen reader on ocr_dev clips and on hostile videos: what a user of `ocr-file` would see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import caption
from typer.testing import CliRunner

from ocr import OcrSettings, OnscreenReader, to_line
from ocr.evaluate import edit_distance, leaks, norm, start_hits
from routewatch.cli import app
from routewatch.core.errors import Code, RouteWatchError

# Three clips that carry each difficulty: Traditional script on a moving test pattern with a running
# timecode and frame counter (001), a title banner and an uploader id over a moving pattern (010),
# and cellular noise behind the captions with a banner and an uploader id (024).
CLIPS = ("dev-001", "dev-010", "dev-024")


@pytest.fixture(scope="module")
def results(reader: OnscreenReader, ocr_manifest: dict[str, dict]) -> dict[str, dict]:
    return {cid: to_line(cid, reader.read(ocr_manifest[cid]["path"]), show_overlay_text=True) for cid in CLIPS}


@pytest.mark.parametrize("cid", CLIPS)
def test_captions_read_with_their_seconds(results, ocr_manifest, cid):
    row, line = ocr_manifest[cid], results[cid]
    ref = norm(row["onscreen_text"])
    assert edit_distance(ref, norm(line["text"])) / len(ref) <= 0.08
    hits, total = start_hits(row["segments"], line["segments"])
    assert hits / total >= 0.9
    # The title banner is kept once, apart from the captions, never inside the content text.
    if row["banner"]:
        assert [p["text"] for p in line["persistent"]] == [row["banner"]]
        assert row["banner"] not in line["text"]


def test_traditional_is_simplified_for_search(results):
    assert "机票两千三比索" in results["dev-001"]["text"]
    assert "機票" not in results["dev-001"]["text"]


@pytest.mark.parametrize("cid", CLIPS)
def test_overlays_kept_out_of_content(results, ocr_manifest, cid):
    row, line = ocr_manifest[cid], results[cid]
    content = [line["text"], *(s["text"] for s in line["segments"]), *(p["text"] for p in line["persistent"])]
    assert not leaks(row["watermark_handle"], content)
    kinds = {o["kind"] for o in line["overlays"]}
    if row["watermark_handle"] and row["style"]["bg"] != "noise":  # on noise the small id is not legible
        assert any(row["watermark_handle"] in o["text"] for o in line["overlays"] if o["kind"] == "handle")
    if row["style"]["bg"] == "pattern":  # the test pattern runs a timecode in the corner
        assert "timer" in kinds
        assert not any(":" in s["text"] and s["text"][:2].isdigit() for s in line["segments"])


def test_ocr_file_cli_lines(tmp_path, ocr_manifest):
    clip = ocr_manifest["dev-021"]  # flat background, banner, uploader id
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(app, ["ocr-file", clip["path"], "-o", str(out)])
    assert res.exit_code == 0, res.output
    line = json.loads(out.read_text(encoding="utf-8"))
    assert set(line) >= {"file", "text", "segments", "overlays", "model", "seconds"}
    assert set(line["segments"][0]) == {"start", "end", "text", "confidence"}
    assert line["seconds"] == pytest.approx(clip["seconds"], abs=0.5)
    assert {o["kind"] for o in line["overlays"]} == {"handle"}
    assert all(set(o) == {"kind", "start", "end"} for o in line["overlays"])  # no uploader id by default
    assert clip["watermark_handle"] not in out.read_text(encoding="utf-8")
    res = CliRunner().invoke(app, ["ocr-file", clip["path"], "-o", str(out), "--show-overlays"])
    assert clip["watermark_handle"] in out.read_text(encoding="utf-8")


# ---- bounded on odd inputs ------------------------------------------------------------------------------
def test_empty_missing_and_non_video_files_fail_with_codes(reader, tmp_path, make_video):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    audio = make_video("tone.m4a", "-f", "lavfi", "-i", "sine=frequency=440:duration=2")
    codes = {}
    for path in (empty, tmp_path / "missing.mp4", text, audio):
        with pytest.raises(RouteWatchError) as exc:
            reader.read(path)
        codes[path.name] = exc.value.code
    assert codes == {"empty.mp4": Code.E708, "missing.mp4": Code.E708, "notes.mp4": Code.E704, "tone.m4a": Code.E703}


def test_truncated_video_is_a_bounded_result_or_E704(reader, ocr_manifest, tmp_path):
    data = Path(ocr_manifest["dev-003"]["path"]).read_bytes()
    head = tmp_path / "head.mp4"  # the moov atom of these files is at the end: nothing decodable
    head.write_bytes(data[: len(data) // 3])
    with pytest.raises(RouteWatchError) as exc:
        reader.read(head)
    assert exc.value.code == Code.E704


def test_still_image_reads_its_text(reader, make_video):
    img = make_video("still.png", "-f", "lavfi", "-i", "color=c=0x204060:s=540x960", "-frames:v", "1",
                     "-vf", caption("从基多坐大巴到图尔坎"))
    res = reader.read(img)
    assert res.text == "从基多坐大巴到图尔坎"
    assert res.frames_read == 1


def test_a_glimpse_of_two_characters_is_no_caption(reader, make_video):
    """Two characters seen in one sample only (as a 64-pixel test pattern read as 日) are left out and
    counted; a caption shown for seconds stays."""
    video = make_video("glimpse.mp4", "-f", "lavfi", "-i", "color=c=0x204060:s=540x960:r=12:d=6", "-vf",
                       caption("车票三十美金", enable="lt(t,2.5)") + "," + caption("走线", size=60, enable="between(t,4.1,4.3)"),
                       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    before = reader.counters["ocr/dropped/glimpses"]
    res = reader.read(video)
    assert [s.text for s in res.segments] == ["车票三十美金"]
    assert reader.counters["ocr/dropped/glimpses"] - before == 1


def test_timeout_is_E706(make_video):
    video = make_video("long.mp4", "-f", "lavfi", "-i", "testsrc2=s=540x960:r=12:d=60", "-c:v", "libx264",
                       "-preset", "ultrafast", "-vf", caption("车票三十美金"))
    slow = OnscreenReader(OcrSettings(timeout_s=1.0))
    with pytest.raises(RouteWatchError) as exc:
        slow.read(video)
    assert exc.value.code == Code.E706


def _ocr_file_peaks(paths: list[Path], tmp_path: Path) -> tuple[list[dict], float, float]:
    """ocr-file on files in one child process: its JSON lines, the child's own peak RSS and the largest
    peak of the ffmpeg/ffprobe processes it ran (MB)."""
    out = tmp_path / "o.jsonl"
    # VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across exec, so a child spawned by a big pytest
    # process would report the parent's size (1.5 GB seen late in a full run); VmHWM is this program's own peak.
    # For its own children (ffmpeg) ru_maxrss is an upper bound for the same reason (it counts this program's
    # size when forked): good enough to show a bound.
    code = ("import re,resource,sys;from routewatch.cli import app;"
            "sys.argv=['routewatch','ocr-file',*sys.argv[2:],'-o',sys.argv[1]]\ntry: app()\nexcept SystemExit: pass\n"
            "print(re.search(r'VmHWM:\\s*(\\d+)', open('/proc/self/status').read()).group(1),"
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    done = subprocess.run([sys.executable, "-c", code, str(out), *map(str, paths)], capture_output=True, text=True,
                          timeout=300, check=True)
    own, children = done.stdout.split()[-2:]
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    return lines, int(own) / 1024, int(children) / 1024


def _peak_rss_mb(path: Path, tmp_path: Path) -> tuple[dict, float]:
    """ocr-file on one file in a child process: its JSON line and the child's peak RSS."""
    lines, own, _children = _ocr_file_peaks([path], tmp_path)
    return lines[0], own


def test_odd_videos_give_a_code_or_a_bounded_result_in_bounded_memory(make_video, tmp_path):
    """One `ocr-file` run over odd files: a video track with zero frames, a download cut at 40 % (index
    first, so its start plays), a photo saved as .mp4, one frame shown for 10 minutes, an 8K still.
    Each is a failure line with a code or the text it shows, and neither the reader nor ffmpeg grows with
    the video's length or picture size (measured: about 300 MB each, mostly the models; a one-frame
    10-minute video took ffmpeg to 1.05 GB before frames were converted ahead of `fps`)."""
    zero = make_video("zero.mkv", "-f", "lavfi", "-i", "color=c=0x204060:s=540x960:r=12:d=3", "-f", "lavfi", "-i",
                      "sine=d=3", "-map", "0:v", "-map", "1:a", "-vf", "trim=start=100", "-c:v", "libx264", "-c:a", "aac")
    cut = make_video("cut.mp4", "-f", "lavfi", "-i", "color=c=0x204060:s=540x960:r=12:d=8", "-vf",
                     caption("从基多坐大巴到图尔坎", enable="lt(t,4)") + "," + caption("车票三十美金", enable="gte(t,4)"),
                     "-c:v", "libx264", "-preset", "ultrafast", "-g", "6", "-pix_fmt", "yuv420p", "-movflags", "+faststart")
    cut.write_bytes(cut.read_bytes()[: int(cut.stat().st_size * 0.4)])
    jpeg = make_video("still.jpg", "-f", "lavfi", "-i", "color=c=0x204060:s=540x960", "-frames:v", "1",
                      "-vf", caption("车票三十美金"))
    photo = tmp_path / "photo.mp4"
    photo.write_bytes(jpeg.read_bytes())
    one = make_video("one_frame_10min.mp4", "-loop", "1", "-framerate", "1", "-i", str(jpeg), "-t", "600",
                     "-r", "1/600", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    big = make_video("8k.png", "-f", "lavfi", "-i", "color=c=0x204060:s=7680x4320", "-frames:v", "1",
                     "-vf", caption("两千三比索", size=300))
    lines, own_mb, ffmpeg_mb = _ocr_file_peaks([zero, cut, photo, one, big], tmp_path)
    got = {Path(x["file"]).name: x["error"]["code"] if "error" in x else
           ([s["text"] for s in x["segments"]], x["frames_read"], round(x["segments"][-1]["end"])) for x in lines}
    assert got == {
        "zero.mkv": "E704",  # a video stream that never yields a frame
        "cut.mp4": (["从基多坐大巴到图尔坎"], 1, 2),  # what was downloaded; the second line is past the cut
        "photo.mp4": (["车票三十美金"], 1, 0),  # a picture is read once
        "one_frame_10min.mp4": (["车票三十美金"], 1, 600),  # shown for the whole 10 minutes, read once
        "8k.png": (["两千三比索"], 1, 0),
    }
    assert own_mb < 600 and ffmpeg_mb < 600, (own_mb, ffmpeg_mb)


@pytest.mark.slow
def test_4k_and_ten_minute_videos_stay_bounded(make_video, tmp_path):
    four_k = make_video("4k.mp4", "-f", "lavfi", "-i", "color=c=0x303030:s=2160x3840:r=12:d=3", "-c:v", "libx264",
                        "-preset", "ultrafast", "-vf", caption("两千三比索", size=160))
    line, rss = _peak_rss_mb(four_k, tmp_path)
    assert line["text"] == "两千三比索"
    assert rss < 900
    ten = make_video("ten.mp4", "-f", "lavfi", "-i", "color=c=0x103050:s=540x960:r=2:d=600", "-c:v", "libx264",
                     "-preset", "ultrafast", "-vf", caption("到了塔帕丘拉", enable="lt(t,300)") + ","
                     + caption("再坐车进危地马拉", enable="gte(t,300)"))
    line, rss = _peak_rss_mb(ten, tmp_path)
    assert [s["text"] for s in line["segments"]] == ["到了塔帕丘拉", "再坐车进危地马拉"]
    assert line["segments"][1]["start"] == pytest.approx(300, abs=1.0)
    assert line["frames_read"] <= 4  # a still picture is read when it changes, not 600 times
    assert rss < 900


def test_extraction_through_ocr_text(results):
    from routewatch.bench import ocr_extraction_scores

    f1 = ocr_extraction_scores({cid: line["text"] for cid, line in results.items()})
    assert f1["countries"] >= 0.9 and f1["legs"] >= 0.8 and f1["costs"] >= 0.85, f1


def test_video_without_duration_is_sampled_as_a_video(reader, tmp_path):
    live = tmp_path / "live.webm"  # written to a pipe: the container carries no duration
    with live.open("wb") as fh:
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=0x204060:s=540x960:r=12:d=6",
                        "-vf", caption("车票三十美金", enable="gte(t,3)"), "-c:v", "libvpx", "-f", "webm", "-"],
                       stdout=fh, check=True, timeout=120)
    res = reader.read(live)
    assert [s.text for s in res.segments] == ["车票三十美金"]
    assert res.segments[0].start == pytest.approx(3.0, abs=0.5)


def test_boxed_captions_over_moving_footage_with_a_tiktok_mark(reader, make_video):
    """Not the dev set's look: captions on a translucent box over a moving fractal, a drifting
    "TikTok @…" mark and a running clock."""
    lines = [("从基多坐大巴到图尔坎，", 0.4, 2.3), ("车票三十美金，", 2.5, 4.4), ("过桥就是伊皮亚莱斯。", 4.6, 6.9),
             ("#走线 #厄瓜多尔", 7.1, 9.0)]
    boxed = [caption(t, size=40, y="h*0.62", enable=f"between(t,{a},{b})").replace(
        ":x=", ":box=1:boxcolor=black@0.45:boxborderw=8:x=") for t, a, b in lines]
    mark = caption("TikTok @route_runner88", size=22, y="h-60").replace("x=(w-tw)/2", "x=20+10*sin(t)")
    clock = caption("%{pts\\:hms}", size=20, y="20").replace("x=(w-tw)/2", "x=w-150")
    video = make_video("footage.mp4", "-f", "lavfi", "-i", "mandelbrot=s=540x960:r=12", "-t", "9.5",
                       "-vf", ",".join([*boxed, mark, clock]), "-c:v", "libx264", "-preset", "ultrafast",
                       "-pix_fmt", "yuv420p")
    res = reader.read(video)
    assert [s.text.replace(" ", "") for s in res.segments] == [t.replace(" ", "") for t, _, _ in lines]
    assert [round(s.start) for s in res.segments] == [0, 2, 4, 7]
    assert {o.kind for o in res.overlays} == {"handle", "timer"}
    assert "route_runner88" not in res.text
