"""The one decoder for JSON stored in the catalog and the index.

In: a JSON column's text, the shape expected (`default`) and where it was read.  Out: the value, or `default`
with one `E923` log line per bad (column, reason) — or StoredJSONError when the caller asks for `strict`.
Lives in core so the catalog and its read mixins (catalog_reports, catalog_web) share it without a cycle.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from routewatch.core.errors import Code, RouteWatchError

log = logging.getLogger("routewatch.core.catalog")
_BAD_ROWS_SEEN: set[tuple[str, str]] = set()


class StoredJSONError(RouteWatchError):
    """A JSON column of one row that cannot be decoded (E923): that row's value is skipped, not the command."""

    def __init__(self, where: str, reason: str):
        super().__init__(Code.E923, f"{where}: invalid stored JSON ({reason})")
        self.where = where


def stored_json(text: str | bytes | None, default: Any, *, where: str, strict: bool = False) -> Any:
    """The one decoder for JSON stored in the catalog and the index. Empty → `default`. Invalid JSON, or a
    value of another shape than `default` (an object where a list was stored...), is logged once as
    `E923 where: invalid stored JSON (...)` and read as `default`; with `strict` it raises StoredJSONError."""
    if text is None or text in ("", b""):
        return default
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        reason = f"{type(e).__name__}: {str(e)[:80]}"
    else:
        if default is None or isinstance(value, type(default)):
            return value
        reason = f"a {type(value).__name__} where a {type(default).__name__} belongs"
    err = StoredJSONError(where, reason)
    if strict:
        raise err
    if (where, reason) not in _BAD_ROWS_SEEN and len(_BAD_ROWS_SEEN) < 10000:
        _BAD_ROWS_SEEN.add((where, reason))
        log.warning("%s; read as empty", err)
    return default

