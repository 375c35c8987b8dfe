"""`python -m ocr.evaluate`: on-screen text accuracy and speed on shared/data/ocr_dev.

In: ocr_dev/manifest.jsonl (file, segments with times, onscreen_text, banner, watermark_handle) and
OcrSettings. Out: per clip and in all: CER of `text` against `onscreen_text` (Simplified, punctuation and
spaces removed), share of caption lines whose start is within 1 s, watermark leaks, OCR seconds and CPU
seconds per video second, beside the naive anchor (1 fps, whole-frame RapidOCR, repeats dropped).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unicodedata
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from pathlib import Path

from routewatch.core.records import OnscreenText
from routewatch.core.text import to_simplified

from .engine import DET_MODEL, REC_MODEL, model_paths
from .file_cli import ocr_files
from .settings import OcrSettings


def shared_data_dir() -> Path:
    env = os.environ.get("ROUTEWATCH_SHARED_DATA", "").strip()
    return Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def manifest(data_dir: Path | None = None) -> list[dict]:
    root = (data_dir or shared_data_dir()) / "ocr_dev"
    rows = [json.loads(line) for line in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        row["path"] = str(root / row["file"])
    return rows


def norm(text: str) -> str:
    """Scored form: Simplified, without punctuation, symbols' spacing or white space."""
    simple = to_simplified(text or "")
    return "".join(c for c in simple if unicodedata.category(c)[0] not in "PZC" and not c.isspace())


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def start_hits(ref_segments: list[dict], out_segments: list[dict], tolerance: float = 1.0) -> tuple[int, int]:
    """(caption lines whose start is within `tolerance` s, caption lines): each manifest line is matched
    to the output segment that holds its text best (lines with no readable character are not counted)."""
    hits = total = 0
    outs = [(norm(s["text"]), float(s["start"])) for s in out_segments]
    for seg in ref_segments:
        ref = norm(seg["text"])
        if not ref:
            continue
        total += 1
        best, best_score = None, 0.0
        for text, start in outs:
            if not text:
                continue
            m = SequenceMatcher(None, ref, text, autojunk=False)
            covered = sum(b.size for b in m.get_matching_blocks()) / len(ref)
            if covered > best_score:
                best, best_score = start, covered
        if best is not None and best_score >= 0.6 and abs(best - float(seg["start"])) <= tolerance:
            hits += 1
    return hits, total


def leaks(handle: str | None, texts: Iterable[str]) -> bool:
    """True when the uploader id (or its digits) shows up in any content text."""
    if not handle:
        return False
    digits = "".join(c for c in handle if c.isdigit())
    for text in texts:
        low = (text or "").lower().replace(" ", "")
        if handle.lower() in low or (len(digits) >= 6 and digits in low):
            return True
    return False


def naive_read(path: str, engine=None) -> tuple[str, float]:
    """The anchor: 1 frame per second, RapidOCR on the whole frame, lines equal to the previous frame's
    dropped. Returns (text, wall seconds)."""
    import subprocess

    import cv2
    import numpy as np
    from rapidocr import RapidOCR

    if engine is None:
        paths = model_paths()
        engine = RapidOCR(params={"Global.log_level": "warning", "EngineConfig.onnxruntime.intra_op_num_threads": 2,
                                  "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                                  "Det.model_path": str(paths[DET_MODEL]), "Rec.model_path": str(paths[REC_MODEL])})
    t0 = time.monotonic()
    with __import__("tempfile").TemporaryDirectory() as tmp:
        subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf", "fps=1", f"{tmp}/f%04d.png"], check=True)  # noqa: S603, S607
        previous: list[str] = []
        out: list[str] = []
        for frame in sorted(Path(tmp).glob("f*.png")):
            img = cv2.imread(str(frame))
            res = engine(np.ascontiguousarray(img))
            lines = list(res.txts or ())
            out.extend(t for t in lines if t not in previous)
            previous = lines
    return " ".join(out), time.monotonic() - t0


def evaluate(settings: OcrSettings, rows: list[dict], naive: bool = False) -> dict:
    """Per-clip rows and totals; runs the reader (and the anchor, when asked) on every clip."""
    per: list[dict] = []
    load_before = os.getloadavg()[0]
    cpu0 = time.process_time()
    lines = {line["file"]: line for line in ocr_files([r["path"] for r in rows], settings)}
    engine = None
    for row in rows:
        line = lines[row["path"]]
        ref = norm(row["onscreen_text"])
        rec: dict = {"id": row["id"], "seconds": row["seconds"], "ref_chars": len(ref)}
        if "error" in line:
            rec.update(error=line["error"]["code"], edits=len(ref), start_hits=0,
                       start_total=len([s for s in row["segments"] if norm(s["text"])]), leak=False)
        else:
            rec["edits"] = edit_distance(ref, norm(line["text"]))
            rec["start_hits"], rec["start_total"] = start_hits(row["segments"], line["segments"])
            content = [line["text"], *(s["text"] for s in line["segments"]), *(s["text"] for s in line["persistent"])]
            rec["leak"] = leaks(row.get("watermark_handle"), content)
            rec.update(ocr_s=line["ocr_s"], cpu_s=line["cpu_s"], frames_read=line["frames_read"], text=line["text"])
        if naive:
            if engine is None:
                from rapidocr import RapidOCR

                p = model_paths()
                engine = RapidOCR(params={"Global.log_level": "warning",
                                          "EngineConfig.onnxruntime.intra_op_num_threads": settings.threads,
                                          "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                                          "Det.model_path": str(p[DET_MODEL]), "Rec.model_path": str(p[REC_MODEL])})
            c0 = time.process_time()
            text, wall = naive_read(row["path"], engine)
            rec["naive"] = {"edits": edit_distance(ref, norm(text)), "ocr_s": round(wall, 3),
                            "cpu_s": round(time.process_time() - c0, 3),
                            "leak": leaks(row.get("watermark_handle"), [text])}
        per.append(rec)
    ok = [r for r in per if "error" not in r]
    secs = sum(r["seconds"] for r in ok) or 1.0
    chars = sum(r["ref_chars"] for r in per) or 1
    with_handle = [r for r in per if any(x["id"] == r["id"] and x.get("watermark_handle") for x in rows)]
    totals = {
        "clips": len(per), "failed": len(per) - len(ok),
        "cer": round(sum(r["edits"] for r in per) / chars, 4),
        "cer_mean": round(sum(r["edits"] / max(1, r["ref_chars"]) for r in per) / max(1, len(per)), 4),
        "start_within_1s": round(sum(r["start_hits"] for r in per) / max(1, sum(r["start_total"] for r in per)), 4),
        "leaks": sum(r["leak"] for r in per), "clips_with_handle": len(with_handle),
        "ocr_s_per_video_s": round(sum(r["ocr_s"] for r in ok) / secs, 4),
        "cpu_s_per_video_s": round(sum(r["cpu_s"] for r in ok) / secs, 4),
        "frames_read_per_video_s": round(sum(r["frames_read"] for r in ok) / secs, 3),
        "threads": settings.threads, "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2),
        "cpu_s_total": round(time.process_time() - cpu0, 2),
    }
    if naive:
        totals["naive"] = {
            "cer": round(sum(r["naive"]["edits"] for r in per) / chars, 4),
            "ocr_s_per_video_s": round(sum(r["naive"]["ocr_s"] for r in per) / secs, 4),
            "cpu_s_per_video_s": round(sum(r["naive"]["cpu_s"] for r in per) / secs, 4),
            "leaks": sum(r["naive"]["leak"] for r in per),
        }
    return {"totals": totals, "clips": per}


def ocr_lines(result: dict) -> list[dict]:
    """{"id","text"} lines of the readings, the input `routewatch annotate` takes."""
    return [{"id": r["id"], "text": r.get("text", "")} for r in result["clips"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="On-screen text accuracy and speed on ocr_dev.")
    parser.add_argument("--only", default="", help="comma-separated clip ids (default: all)")
    parser.add_argument("--naive", action="store_true", help="also run the naive anchor")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="OcrSettings override")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--texts", type=Path, default=None, help="write {id,text} JSONL for `routewatch annotate`")
    args = parser.parse_args(argv)
    upd = dict(kv.split("=", 1) for kv in args.set)
    settings = OcrSettings(**upd)
    rows = manifest()
    if args.only:
        keep = set(args.only.split(","))
        rows = [r for r in rows if r["id"] in keep]
    result = evaluate(settings, rows, naive=args.naive)
    if args.texts:
        args.texts.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in ocr_lines(result)),
                              encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for r in result["clips"]:
        extra = f" naive_cer={r['naive']['edits'] / max(1, r['ref_chars']):.3f}" if "naive" in r else ""
        print(f"{r['id']}  cer={r['edits'] / max(1, r['ref_chars']):.3f}  start={r['start_hits']}/{r['start_total']}"
              f"  leak={r['leak']}  cpu/s={r.get('cpu_s', 0) / r['seconds']:.3f}{extra}  {r.get('error', '')}")
    print(json.dumps(result["totals"], ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["OnscreenText", "edit_distance", "evaluate", "leaks", "main", "manifest", "norm", "start_hits"]
