"""`transcribe-file` lines (SPEC §4): one JSON-ready dict per input file, failures included.

In: media file paths and `TranscribeSettings` (or an already built Transcriber).
Out: dicts `{"file","language","text","segments":[{"start","end","text"}],"model","seconds"}`, or
`{"file","error":{"code","reason"}}` for a file that fails. Never stops at a failing file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from routewatch.core.errors import Code, RouteWatchError, error_line
from routewatch.core.outputs import open_output
from transcribe.base import Transcriber
from transcribe.build import build_transcriber
from transcribe.settings import TranscribeSettings


def transcribe_files(
    paths: Iterable[str | Path],
    settings: TranscribeSettings | None = None,
    transcriber: Transcriber | None = None,
) -> Iterator[dict]:
    """Transcribe each file in order; the model is loaded once, and only if there is a file.

    A model that cannot be loaded (E301/E303/E902) is raised, since no file could succeed.
    """
    settings = settings or (transcriber.settings if transcriber else TranscribeSettings())
    for path in paths:
        name = str(path)
        if transcriber is None:
            transcriber = build_transcriber(settings)
        try:
            tr = transcriber.transcribe(Path(path))
        except Exception as exc:  # noqa: BLE001 - one broken file must not end the batch
            yield error_line(name, exc, Code.E302)
            continue
        yield {
            "file": name,
            "language": tr.language,
            "text": tr.text,
            "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in tr.segments],
            "model": tr.model,
            "seconds": tr.seconds,
        }


def main(argv: list[str] | None = None) -> int:
    """`python -m transcribe.file_cli FILE... [-o OUT.jsonl]` (the CLI's transcribe-file does the same)."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description="Transcribe media files to JSON lines (SPEC §4).")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=None, help="JSONL file (default: stdout)")
    args = parser.parse_args(argv)
    failed = 0

    def write_lines(out: IO[str]) -> None:
        nonlocal failed
        for line in transcribe_files(args.files):
            failed += "error" in line
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            out.flush()

    try:
        if args.output:  # through the one safe output writer: never over an input file, a symlink, /dev
            with open_output(args.output, inputs=args.files) as out:
                write_lines(out)
        else:
            write_lines(sys.stdout)
    except RouteWatchError as exc:
        print(f"{exc.code.value} {exc.reason}", file=sys.stderr)
        return 2
    return 1 if failed else 0

if __name__ == "__main__":
    raise SystemExit(main())
