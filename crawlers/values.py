"""Reading values out of what platforms send: times, counts, ids and the JSON a page embeds.

In: loose values from pages, APIs and exports (strings, numbers, nested dicts).  Out: ISO-8601 UTC times,
bounded ints, ASCII ids, JSON-safe objects — or '' / None when a value is unusable, never an exception.
Date strings and ints are read by yt-dlp's own helpers (`unified_timestamp`, `int_or_none`; CONVENTIONS §20).
"""

from __future__ import annotations

import json
import math
import unicodedata
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from parsel import Selector
from yt_dlp.utils import int_or_none, unified_timestamp


def ascii_digits(text: str) -> str:
    """An id as ASCII: full-width, Arabic-Indic, Devanagari … digits become 0-9 (NFKC first), and
    white space and invisible characters (zero-width, bidi marks) are dropped. "７５００" → "7500"."""
    text = unicodedata.normalize("NFKC", str(text))
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text
                   if not (c.isspace() or unicodedata.category(c) in ("Cf", "Cc")))


def epoch_seconds(value: Any) -> float | None:
    """Unix time in seconds from seconds, milliseconds, microseconds or nanoseconds (int, float or a
    string of digits in any script), the unit told by its size: below 10^11 is seconds (up to year
    5138), below 10^14 milliseconds, below 10^17 microseconds, else nanoseconds. None if unusable."""
    if isinstance(value, str):
        value = ascii_digits(value)
    try:
        n = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(n) or n <= 0:
        return None
    for limit, scale in ((1e11, 1.0), (1e14, 1e3), (1e17, 1e6), (1e20, 1e9)):
        if n < limit:
            return n / scale
    return None


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return ""


def iso_from_epoch(value: Any, *, millis: bool = False) -> str:
    """Unix time → ISO-8601 UTC; '' if unusable. The unit is detected (`epoch_seconds`): `millis`, what
    the source documents, is only a hint, since exports mix seconds and milliseconds."""
    n = epoch_seconds(value)
    return "" if n is None else _iso(n)


def norm_date(text: str) -> str:
    """A date or time string (ISO-8601 with or without zone — none is UTC —, "YYYY-MM-DD HH:MM:SS", an
    RFC 2822 date) → ISO-8601 UTC 'Z' form; '' when it is no date or falls outside the years 1-9999."""
    if not text:
        return ""
    try:  # plain ISO-8601, what nearly every source sends: the standard library reads it in ~1 µs
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return _iso((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
    except (ValueError, OverflowError):
        pass
    try:  # anything else through yt-dlp's reader (~0.3 ms: it tries its list of formats in turn)
        seconds = unified_timestamp(text)
    except (OverflowError, ValueError):  # e.g. 9999-12-31T23:59:59-14:00 is in year 10000 in UTC
        return ""
    return "" if seconds is None else _iso(seconds)


def iso_time(value: Any) -> str:
    """A time as ISO-8601 UTC: Unix time in any unit (`iso_from_epoch`), or a date string (`norm_date`);
    '' if unusable."""
    if isinstance(value, str) and not ascii_digits(value).replace(".", "", 1).isdigit():
        return norm_date(value.strip())
    return iso_from_epoch(value)


def as_int(value: Any) -> int | None:
    """A count as an int, or None when it is none or beyond a SQLite integer (not a real count)."""
    n = int_or_none(value)
    return n if n is not None and -(2**63) <= n < 2**63 else None


def caption_of(title: str | None, description: str | None) -> str:
    """Title and description as one caption, without repeating a title the description already starts with."""
    t = (title or "").strip()
    d = (description or "").strip()
    if not d:
        return t
    if not t or d.startswith(t.rstrip(".…").strip()):
        return d
    return f"{t}\n{d}"


_SAFE_INT = 2**53 - 1  # the largest integer a JSON reader holding numbers as doubles keeps exactly


def json_safe(obj: Any) -> Any:
    """`obj` with every integer beyond ±(2^53 − 1) written as a string (platform ids above 2^53 stay exact
    for any JSON reader), at any depth."""
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        return str(obj) if abs(obj) > _SAFE_INT else obj
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def dumps(d: dict[str, Any]) -> str:
    """JSON text of a post's extra fields (big ids as strings)."""
    return json.dumps(json_safe(d), ensure_ascii=False, default=str)


def embedded_json(html: str, marker: str) -> Any:
    """The JSON value that follows `marker` in a page (e.g. `window.__INITIAL_STATE__=`), or None."""
    i = html.find(marker)
    if i < 0:
        return None
    j = html.find("{", i + len(marker))
    if j < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(html, j)
    except ValueError:
        return None
    return value


def script_json(sel: Selector, script_id: str, *, url_encoded: bool = False) -> Any:
    """The JSON in `<script id=script_id>`, or None."""
    text = sel.css(f"script#{script_id}::text").get()
    if not text:
        return None
    try:
        return json.loads(unquote(text) if url_encoded else text)
    except ValueError:
        return None


def meta_tags(sel: Selector) -> dict[str, str]:
    """A page's <meta> tags by property / name / itemprop (the first of each)."""
    out: dict[str, str] = {}
    for m in sel.css("meta"):
        key = m.attrib.get("property") or m.attrib.get("name") or m.attrib.get("itemprop")
        if key and key not in out:
            out[key] = m.attrib.get("content", "")
    return out
