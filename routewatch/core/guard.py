"""The last line of the CLI: whatever a command raises becomes one line `E### reason` and a non-zero exit.

In: the typer app and the raw arguments.  Out: the app's own exit, or exit 2 with a coded line on stderr.
An unexpected exception is `E906 internal error …`, its traceback written to a log file (or printed with
`--debug` / ROUTEWATCH_DEBUG=1). Arguments that are not valid UTF-8 are refused (E903) unless they name an
existing file. Never swallows SystemExit (a command's own exit code, SIGTERM's 143).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from routewatch.core.catalog import db_error
from routewatch.core.errors import Code, RouteWatchError


def _say(line: str) -> None:
    # never raises on odd characters: surrogates from undecodable bytes are shown escaped
    data = (line.rstrip("\n") + "\n").encode("utf-8", "backslashreplace")
    try:
        sys.stderr.flush()
        os.write(2, data)
    except OSError:
        pass


def check_argv(argv: list[str]) -> None:
    """Refuse an argument holding bytes that are not UTF-8 (Python keeps them as lone surrogates), unless it
    is the name of an existing file: such a name is passed on to the command as it is."""
    for i, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as e:
            if os.path.lexists(os.fsencode(arg)):
                continue
            raw = arg.encode("utf-8", "surrogateescape")
            raise RouteWatchError(Code.E903, f"argument {i} is not valid UTF-8 (byte 0x{raw[e.start]:02x} at "
                                  f"{e.start}): {raw.decode('utf-8', 'backslashreplace')}") from None


def _log_traceback() -> str:
    text = traceback.format_exc()
    for folder in (Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "routewatch",
                   Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="routewatch-error-", suffix=".log", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
                f.write(text)
            return name
        except OSError:
            continue
    return ""


def run_guarded(app: Callable[..., Any], argv: list[str] | None = None) -> None:
    """Run the CLI app; turn any escaping exception into a coded line and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("ROUTEWATCH_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    try:
        check_argv(args)
        app(args=args, prog_name="routewatch")
    except RouteWatchError as e:
        _say(f"{e.code.value} {e.reason}")
        sys.exit(2)
    except KeyboardInterrupt:
        _say("interrupted: finished items are kept; run the same command again to resume")
        sys.exit(130)
    except sqlite3.Error as e:
        err = db_error(e)
        if debug:
            traceback.print_exc()
        _say(f"{err.code.value} {err.reason}")
        sys.exit(2)
    except Exception as e:  # noqa: BLE001 - the guard of last resort: a bug still ends in one coded line
        if debug:
            traceback.print_exc()
            where = "traceback above"
        else:
            log = _log_traceback()
            where = f"traceback in {log}" if log else "run with --debug for the traceback"
        _say(f"{Code.E906.value} internal error ({type(e).__name__}: {str(e)[:200]}); {where}. "
             "Please report it.")
        sys.exit(2)
