"""What the web UI and API may show of a raw catalog value (privacy by default, SPEC §1).

In: raw strings from the catalog (captions, transcripts, URLs, handles, source names).  Out: public
strings — invisible control / bidi-override characters dropped, contacts redacted
(routewatch.privacy.redact_text), known account handles replaced by keyed pseudonyms, length capped —
plus an offset map so evidence spans found in the raw text still point at the right words.
Never returns a raw handle or contact when the privacy settings are on (the defaults).
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from routewatch.privacy import pseudonym, redact_text

# Bidi embeddings/overrides/isolates and marks (RTL spoofing), zero-width spaces that could split a
# phone number past the redaction rules, and C0 controls except tab and newline. ZWJ (emoji) stays.
_INVISIBLE = re.compile("[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Candidate handle tokens: what a handle can be made of, never starting or ending with a dot.
_TOKEN = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
_MIN_HANDLE = 3  # shorter "handles" would rewrite ordinary words


def handle_key(handle: str) -> str:
    """One spelling per account, so `@name` (author) and `name` (forwarded from) share a pseudonym."""
    h = (handle or "").strip().lstrip("@")
    return f"@{h}" if h else ""


@dataclass(frozen=True, slots=True)
class PublicText:
    """A public text and the map from raw character offsets to offsets in it."""

    text: str
    _raw_starts: tuple[int, ...] = ()
    _ops: tuple[tuple[str, int, int, int, int], ...] = ()
    raw_len: int = 0

    def _op(self, i: int) -> tuple[str, int, int, int, int]:
        k = max(0, bisect.bisect_right(self._raw_starts, i) - 1)
        return self._ops[k]

    def pos(self, i: int) -> int:
        """Public offset where raw character `i` starts (a replaced stretch maps to its start)."""
        if not self._ops:
            return max(0, min(i, len(self.text)))
        if i >= self.raw_len:
            return len(self.text)
        tag, i1, _i2, j1, _j2 = self._op(max(0, i))
        return min(j1 + (i - i1), len(self.text)) if tag == "equal" else j1

    def end(self, e: int) -> int:
        """Public offset where the raw span ending (exclusively) at `e` ends; a replaced stretch is
        included whole, so a span never cuts a redaction in two."""
        if not self._ops:
            return max(0, min(e, len(self.text)))
        if e <= 0:
            return 0
        e = min(e, self.raw_len)
        tag, i1, _i2, j1, j2 = self._op(e - 1)
        return min(j1 + (e - i1), len(self.text)) if tag == "equal" else j2

    def span(self, start: int, end: int) -> tuple[int, int]:
        a = self.pos(start)
        return a, max(a, self.end(end))


class Scrubber:
    """Applies the install's privacy settings to everything the web layer shows."""

    def __init__(self, key: bytes, handles: Iterable[str] = (), *, pseudonymise: bool = True,
                 redact: bool = True, max_chars: int = 20000):
        self.key = key
        self.pseudonymise = pseudonymise
        self.redact = redact
        self.max_chars = max_chars
        self._handles: dict[str, str] = {}
        for h in handles:
            k = handle_key(h)
            if len(k) - 1 >= _MIN_HANDLE:
                self._handles[k[1:].lower()] = pseudonym(k, key)

    # ---- handles ----------------------------------------------------------------------------------
    def handle(self, raw: str) -> str:
        """The pseudonym shown for an account (or the handle itself when pseudonyms are off)."""
        k = handle_key(raw)
        if not k:
            return ""
        return pseudonym(k, self.key) if self.pseudonymise else self.clean(k)

    def _replace_handles(self, s: str) -> str:
        if not self.pseudonymise or not self._handles:
            return s
        return _TOKEN.sub(lambda m: self._handles.get(m.group(0).lower(), m.group(0)), s)

    # ---- text -------------------------------------------------------------------------------------
    def clean(self, raw: str | None) -> str:
        """A public string: invisible characters dropped, contacts redacted, handles pseudonymised."""
        s = _INVISIBLE.sub("", raw or "")
        if self.redact:
            s = redact_text(s)
        s = self._replace_handles(s)
        if len(s) > self.max_chars:
            s = s[: self.max_chars] + f" … [cut: {len(s) - self.max_chars} more characters]"
        return s

    def public(self, raw: str | None) -> PublicText:
        """`clean(raw)` with a map back to raw offsets (for evidence spans and search matches)."""
        raw = raw or ""
        out = self.clean(raw)
        if out == raw:
            return PublicText(out, raw_len=len(raw))
        ops = tuple(difflib.SequenceMatcher(None, raw, out, autojunk=False).get_opcodes())
        return PublicText(out, tuple(o[1] for o in ops), ops, len(raw))

    # ---- URLs and names ---------------------------------------------------------------------------
    def url(self, raw: str | None) -> dict[str, str | None]:
        """{"text": shown URL, "href": link target or None}. Only http(s) URLs become links, and only
        when scrubbing left them unchanged (a pseudonymised URL would lead nowhere)."""
        text = self.clean(raw)
        try:
            scheme = urlsplit(text).scheme.lower()
        except ValueError:
            scheme = ""
        href = text if scheme in ("http", "https") and text == (raw or "") and len(text) < 2048 else None
        return {"text": text, "href": href}

    def url_text(self, raw: str | None) -> str | None:
        """The URL as the API returns it: scrubbed, and only when it is http(s) (never `javascript:`)."""
        text = self.clean(raw)
        try:
            scheme = urlsplit(text).scheme.lower()
        except ValueError:
            return None
        return text if scheme in ("http", "https") else None


_STRUCTURAL = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?|\d{4}-W\d{2}|[0-9a-f]{16,64}")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
# Keys whose values are catalog ids (platform + hash), never free text.
_ID_KEYS = ("post_id", "unit_id", "transcript_id", "earliest_posted", "earliest_captured", "post_ids")


def deep_clean(scrub: Scrubber, obj: object, key: str = "") -> object:
    """Every string inside a JSON-like value made public, except structural values (ids, ISO dates
    and weeks, hex digests) that the contact rules would mistake for phone numbers."""
    if isinstance(obj, str):
        if _STRUCTURAL.fullmatch(obj) or (key in _ID_KEYS and _ID.fullmatch(obj)):
            return obj
        if key in ("forwarded_from", "author", "author_handle") and obj and not obj.startswith("user-"):
            return scrub.handle(obj)
        return scrub.clean(obj)
    if isinstance(obj, list | tuple):
        return [deep_clean(scrub, x, key) for x in obj]
    if isinstance(obj, dict):
        return {str(k): deep_clean(scrub, v, str(k)) for k, v in obj.items()}
    return obj
