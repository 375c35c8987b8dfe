"""How every stage starts ffmpeg / ffprobe on a file it did not make (transcription decodes audio, OCR frames).

In: a command and a local path.  Out: the tool's path (or NotConfigured), the file as an explicit `file:` URL,
the command capped in address space by util-linux `prlimit`, and the first line of the tool's error output.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from routewatch.core.errors import NotConfigured

CHILD_MEMORY_LIMIT = 2 << 30  # address-space cap for ffmpeg/ffprobe children (bytes)


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise NotConfigured(f"{name} not found: install ffmpeg (Debian: apt-get install ffmpeg)")
    return found


def file_url(path: Path) -> str:
    """An explicit file: URL, so names starting with '-' or holding ':' are never options or protocols."""
    return "file:" + str(Path(path).resolve())


def first_line(err: bytes) -> str:
    """First message of ffmpeg's stderr, without the "[demuxer @ 0x…]" prefix."""
    for line in err.decode("utf-8", "replace").splitlines():
        line = re.sub(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*", "", line.strip())
        if line:
            return line[:200]
    return ""


def capped(cmd: list[str], limit: int = CHILD_MEMORY_LIMIT) -> list[str] | None:
    """The command under `prlimit --as` (no Python runs between fork and exec, so it may start while model
    threads are inside OpenBLAS), or None when prlimit is missing and the caller must cap the child itself."""
    prlimit = shutil.which("prlimit")
    return [prlimit, f"--as={limit}", "--", *cmd] if prlimit else None
