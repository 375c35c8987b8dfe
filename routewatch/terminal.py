"""What the CLI and the demo show on a terminal: text made safe to print, and progress bars per stage.

In: any value (a caption, a file name, a failure reason) or a stage's progress (done, total).  Out: text in
which nothing a terminal would act on is left (`safe_text`), or rich bars on the given console (`Bars`).
Never parses rich markup in content.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from routewatch.core.privacy import BIDI_CONTROLS, C1_CONTROLS

# What a terminal acts on instead of showing: C0 controls but tab and newline, DEL, C1 controls (CSI,
# OSC, ...), bidi embeddings / overrides / isolates / marks and the Unicode line separators. A caption
# could otherwise clear the reader's screen, plant an OSC 8 link or reorder what is shown.
_TERMINAL_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f{C1_CONTROLS}{BIDI_CONTROLS}\u2028\u2029]")


def _visible(m: re.Match[str]) -> str:
    o = ord(m.group(0))
    if o < 0x20:
        return chr(0x2400 + o)  # the Control Pictures glyph: ␛ ␇ ␀ ␍ ...
    return "\u2421" if o == 0x7F else "\ufffd"


def safe_text(value: object, *, one_line: bool = False) -> str:
    """`value` as text a terminal shows and does not act on; one character in, one out (offsets hold).
    With `one_line`, newlines and tabs are shown as ␊ / ␉ too (names, ids, titles)."""
    text = _TERMINAL_UNSAFE.sub(_visible, "" if value is None else str(value))
    return text.replace("\n", "\u240a").replace("\t", "\u2409") if one_line else text


class Bars:
    """Progress bars per stage on `console` (the CLI's stderr); nothing at all when not `enabled`."""

    def __init__(self, enabled: bool, console: Console):
        self.enabled = enabled
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description:<11}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=False,
                                 disable=not enabled)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total or None)
        self.progress.update(self.tasks[stage], completed=done, total=total or None)
