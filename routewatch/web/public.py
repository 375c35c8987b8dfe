"""What the web UI and API may show of a raw catalog value (privacy by default, SPEC §1).

In: raw strings from the catalog (captions, transcripts, URLs, handles, source names).  Out: public
strings — invisible control / bidi-override characters dropped, contacts redacted
(routewatch.core.privacy.redact_text), known account handles replaced by keyed pseudonyms, length capped —
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

from routewatch.core.privacy import drop_invisible, invisible_edits, pseudonym, public_url, redact_text

# Invisible characters (every Unicode format character: bidi controls, zero-width spaces, soft hyphen,
# invisible operators, tags; controls but tab and line breaks) are dropped by privacy.drop_invisible
# (after redact_text, which reads through them); ZWJ / ZWNJ stay where they join (emoji, Persian, Indic).
# Candidate handle tokens: what a handle can be made of, never starting or ending with a dot.
_TOKEN = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.]*[A-Za-z0-9_])?")
_MIN_HANDLE = 3  # shorter "handles" would rewrite ordinary words
_PSEUDONYM = re.compile(r"user-[0-9a-f]{10}")


def handle_key(handle: str) -> str:
    """One spelling per account, so `@name` (author) and `name` (forwarded from) share a pseudonym."""
    h = (handle or "").strip().lstrip("@")
    return f"@{h}" if h else ""


Op = tuple[str, int, int, int, int]  # difflib opcode: tag, src start, src end, dst start, dst end


@dataclass(frozen=True, slots=True)
class OffsetMap:
    """One rewriting step as difflib opcodes, queried for where a source offset lands."""

    ops: tuple[Op, ...]
    src_len: int
    dst_len: int
    starts: tuple[int, ...] = ()

    @staticmethod
    def of(ops: list[Op], src_len: int, dst_len: int) -> OffsetMap:
        return OffsetMap(tuple(ops), src_len, dst_len, tuple(o[1] for o in ops))

    def _op(self, i: int) -> Op:
        # the last op starting at or before i (an empty insert shares its start with the next op)
        return self.ops[max(0, bisect.bisect_right(self.starts, i) - 1)]

    def pos(self, i: int) -> int:
        if not self.ops or i >= self.src_len:
            return min(max(i, 0), self.dst_len) if not self.ops else self.dst_len
        tag, i1, _i2, j1, _j2 = self._op(max(0, i))
        return j1 + (i - i1) if tag == "equal" else j1

    def end(self, e: int) -> int:
        if not self.ops:
            return min(max(e, 0), self.dst_len)
        if e <= 0:
            return 0
        e = min(e, self.src_len)
        tag, i1, _i2, j1, j2 = self._op(e - 1)
        return j1 + (e - i1) if tag == "equal" else j2


def _ops_from_edits(edits: list[tuple[int, int, int]], src_len: int) -> list[Op]:
    """Opcodes for known, non-overlapping edits (start, end, new length), in order."""
    ops: list[Op] = []
    i = j = 0
    for a, b, n in edits:
        if a > i:
            ops.append(("equal", i, a, j, j + a - i))
            j += a - i
        ops.append(("replace" if n and b > a else "delete" if b > a else "insert", a, b, j, j + n))
        i, j = b, j + n
    if i < src_len or not ops:
        ops.append(("equal", i, src_len, j, j + src_len - i))
    return ops


@dataclass(frozen=True, slots=True)
class PublicText:
    """A public text and the map from raw character offsets to offsets in it (one OffsetMap per
    rewriting step: contacts redacted, invisible characters dropped, handles pseudonymised)."""

    text: str
    maps: tuple[OffsetMap, ...] = ()
    visible: int = -1  # public offsets beyond this fall in the "[cut: …]" note; -1: all of text

    def _clamp(self, j: int) -> int:
        return max(0, min(j, len(self.text) if self.visible < 0 else self.visible))

    def pos(self, i: int) -> int:
        """Public offset where raw character `i` starts (a replaced stretch maps to its start)."""
        for m in self.maps:
            i = m.pos(i)
        return self._clamp(i)

    def end(self, e: int) -> int:
        """Public offset where the raw span ending (exclusively) at `e` ends; a replaced stretch is
        included whole, so a span never cuts a redaction in two."""
        for m in self.maps:
            e = m.end(e)
        return self._clamp(e)

    def span(self, start: int, end: int) -> tuple[int, int]:
        a = self.pos(start)
        return a, max(a, self.end(end))


def align(raw: str, out: str, k: int = 12, look_raw: int = 800, look_out: int = 96) -> list[Op]:
    """difflib-style opcodes from raw to its redacted form, in about linear time: equal runs are
    walked, and after each mismatch the first k characters of `out` that occur again in `raw` close
    the changed stretch, which difflib then refines (it is short). Redactions are local replacements,
    so this finds them; anything it cannot place becomes one changed block (coarser marks, no leak:
    the shown text is always `out`)."""
    ops: list[Op] = []
    i = j = 0
    n, m = len(raw), len(out)
    while i < n and j < m:
        i0, j0 = i, j
        while i < n and j < m and raw[i] == out[j]:
            i += 1
            j += 1
        if i > i0:
            ops.append(("equal", i0, i, j0, j))
        if i >= n or j >= m:
            break
        found: tuple[int, int] | None = None
        # A redaction replaces something with something: both sides of the changed stretch are non-empty.
        for jj in range(j + 1, min(m, j + look_out) + 1):
            anchor = out[jj:jj + k]
            if not anchor:
                break
            ii = raw.find(anchor, i + 1, min(n, i + 1 + look_raw + len(anchor)))
            if ii >= 0 and (len(anchor) == k or (ii + len(anchor) == n and jj + len(anchor) == m)):
                # the nearest resynchronisation wins: a repeated phrase further on must not
                if found is None or (ii - i) + (jj - j) < (found[0] - i) + (found[1] - j):
                    found = (ii, jj)
        if found is None:
            break
        ii, jj = found
        for tag, a1, a2, b1, b2 in _refine(raw[i:ii], out[j:jj]):
            ops.append((tag, a1 + i, a2 + i, b1 + j, b2 + j))
        i, j = ii, jj
    if i < n or j < m:
        ops.append(("replace" if i < n and j < m else "delete" if i < n else "insert", i, n, j, m))
    return ops


_PLACEHOLDER = re.compile(r"(\[[^\[\]\n]{1,40}\])")


def _refine(a: str, b: str) -> list[Op]:
    """Opcodes inside one changed stretch. Redaction placeholders are bracketed ("[phone removed]"),
    so the text between them is matched in order and each placeholder replaces what lies between;
    when that reading does not fit, difflib decides."""
    parts = _PLACEHOLDER.split(b)
    ops: list[Op] = []
    ri = bj = 0
    pending: str | None = None
    for k, part in enumerate(parts):
        if k % 2 == 1:
            if pending is not None:  # two placeholders in a row: keep them as one
                pending += part
            else:
                pending = part
            continue
        if not part:
            continue
        at = a.find(part, ri + (1 if pending else 0)) if pending else (ri if a.startswith(part, ri) else -1)
        if at < 0:
            return list(difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes())
        if pending is not None:
            ops.append(("replace", ri, at, bj, bj + len(pending)))
            bj += len(pending)
            pending = None
        ops.append(("equal", at, at + len(part), bj, bj + len(part)))
        ri, bj = at + len(part), bj + len(part)
    if pending is not None and ri < len(a):
        ops.append(("replace", ri, len(a), bj, bj + len(pending)))
    elif pending is not None or ri < len(a):
        return list(difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes())
    return ops


class Scrubber:
    """The output policy (README "Privacy"): applies the install's privacy settings to everything any
    surface shows. `reveal` (the authorised raw mode) turns pseudonyms and redaction off; `public`
    accounts are shown as they are. routewatch.view builds it from the settings for every surface."""

    def __init__(self, key: bytes, handles: Iterable[str] = (), *, pseudonymise: bool = True,
                 redact: bool = True, max_chars: int = 20000, reveal: bool = False,
                 public: Iterable[str] = (), min_count: int = 5):
        self.key = key
        self.reveal = reveal
        self.pseudonymise = pseudonymise and not reveal
        self.redact = redact and not reveal
        self.max_chars = max_chars
        self.min_count = min_count
        self.public_accounts = frozenset(h.strip().lstrip("@").lower() for h in public if h and h.strip().lstrip("@"))
        self._handles: dict[str, str] = {}
        for h in handles:
            k = handle_key(h)
            if self.pseudonymise and len(k) - 1 >= _MIN_HANDLE and k[1:].lower() not in self.public_accounts:
                self._handles[k[1:].lower()] = pseudonym(k, key)

    def provenance(self) -> dict[str, object]:
        """What the policy did, for every output's provenance: "reveal" (raw values, authorised use) or
        "pseudonymised" (the default), and the settings behind it."""
        return {"mode": "reveal" if self.reveal else "pseudonymised" if self.pseudonymise else "handles shown",
                "pseudonymise_handles": self.pseudonymise, "redact_contacts": self.redact,
                "public_accounts": len(self.public_accounts), "min_count": self.min_count}

    # ---- handles ----------------------------------------------------------------------------------
    def handle(self, raw: str) -> str:
        """The pseudonym shown for an account (or the handle itself when pseudonyms are off)."""
        k = handle_key(raw)
        if not k:
            return ""
        if _PSEUDONYM.fullmatch(k[1:]):
            return k[1:]  # already one (a value the policy made before)
        if not self.pseudonymise or k[1:].lower() in self.public_accounts:
            return drop_invisible(k)[:200]
        return pseudonym(k, self.key)

    def _replace_handles(self, s: str) -> str:
        return self._handles_with_edits(s)[0]

    def _handles_with_edits(self, s: str) -> tuple[str, list[tuple[int, int, int]]]:
        edits: list[tuple[int, int, int]] = []
        if not self._handles:
            return s, edits

        def sub(m: re.Match[str]) -> str:
            p = self._handles.get(m.group(0).lower())
            if p is None:
                return m.group(0)
            edits.append((m.start(), m.end(), len(p)))
            return p

        return _TOKEN.sub(sub, s), edits

    # ---- text -------------------------------------------------------------------------------------
    def _full(self, raw: str) -> str:
        # Contacts first: redact_text reads through invisible characters (a number split by zero-width
        # spaces is one number) and needs them to tell digits split on purpose; then they are dropped.
        return self._replace_handles(drop_invisible(redact_text(raw, self.public_accounts) if self.redact else raw))

    def _cut(self, s: str) -> str:
        # Cut after redaction: cutting first could leave half a phone number too short to be recognised.
        if len(s) > self.max_chars:
            return s[: self.max_chars] + f" … [cut: {len(s) - self.max_chars} more characters]"
        return s

    def clean(self, raw: str | None) -> str:
        """A public string: invisible characters dropped, contacts redacted, handles pseudonymised, cut."""
        return self._cut(self._full(raw or ""))

    def source(self, raw: str | None) -> str:
        """A source name ("telegram:<channel>", "feed:demo"): the channel a pseudonym unless public or
        revealed; the same on every surface (CLI status, web Status, export, evidence)."""
        s = drop_invisible(raw or "")
        kind, sep, rest = s.partition(":")
        if not sep:
            return self.meta(s)
        if kind == "telegram" and rest and self.pseudonymise and rest.lstrip("@").lower() not in self.public_accounts:
            return f"{kind}:{self.handle(rest)}"
        return kind + sep + self.clean(rest)

    def meta(self, raw: str | None) -> str:
        """Machine metadata (tool names, versions, model names, parameters): handles pseudonymised and
        invisible characters dropped, but no contact rules, which mistake versions and dates for phone
        numbers. Values that carry a URL get the full `clean`."""
        s = raw or ""
        if "://" in s or "@" in s:
            return self.clean(s)
        s = self._replace_handles(drop_invisible(s))
        return s if len(s) <= self.max_chars else s[: self.max_chars] + " …"

    def public(self, raw: str | None) -> PublicText:
        """`clean(raw)` with a map back to raw offsets (for evidence spans and search matches)."""
        raw = raw or ""
        maps: list[OffsetMap] = []
        red = redact_text(raw, self.public_accounts) if self.redact else raw
        if red != raw:
            maps.append(OffsetMap.of(align(raw, red), len(raw), len(red)))
        drops = [(a, b, len(kept)) for a, b, kept in invisible_edits(red)]
        shown = drop_invisible(red) if drops else red
        if drops:
            maps.append(OffsetMap.of(_ops_from_edits(drops, len(red)), len(red), len(shown)))
        full, edits = self._handles_with_edits(shown)
        if edits:
            maps.append(OffsetMap.of(_ops_from_edits(edits, len(shown)), len(shown), len(full)))
        return PublicText(self._cut(full), tuple(maps), min(len(full), self.max_chars))

    # ---- URLs and names ---------------------------------------------------------------------------
    def url_shown(self, raw: str | None) -> str:
        """A post's canonical URL as shown: the account segment (t.me/<channel>, tiktok.com/@<handle> …)
        a keyed pseudonym unless revealed or public, secrets in it removed; ids and the rest kept. Only
        the handle changes, never an id (a 19-digit video id is no phone number)."""
        raw = drop_invisible(raw or "")
        if not self.pseudonymise:
            return raw[:2048]
        return self._replace_handles(public_url(raw, self.key, self.public_accounts))[:2048]

    def url(self, raw: str | None) -> dict[str, str | None]:
        """{"text": shown URL, "href": link target or None}. Only http(s) URLs become links, and only
        when the policy left them unchanged (a pseudonymised URL would lead nowhere: shown as text)."""
        text = self.url_shown(raw)
        try:
            scheme = urlsplit(text).scheme.lower()
        except ValueError:
            scheme = ""
        href = text if scheme in ("http", "https") and text == (raw or "") and len(text) < 2048 else None
        return {"text": text, "href": href}

    def url_text(self, raw: str | None) -> str | None:
        """The URL as the API returns it: scrubbed, and only when it is http(s) (never `javascript:`)."""
        text = self.url_shown(raw)
        try:
            scheme = urlsplit(text).scheme.lower()
        except ValueError:
            return None
        return text if scheme in ("http", "https") else None


_STRUCTURAL = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?|\d{4}-W\d{2}|[0-9a-f]{16,64}")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
# Keys whose values are configured names or tool metadata: handles pseudonymised, no contact rules
# (which read "telegram:<name>" as a Telegram id and versions as phone numbers).
_NAME_KEYS = ("source", "tool", "version", "model", "backend", "index_backend", "platform", "platforms")
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
        if key == "source":
            return scrub.source(obj)
        if key in _NAME_KEYS:
            return scrub.meta(obj)
        return scrub.clean(obj)
    if isinstance(obj, list | tuple):
        return [deep_clean(scrub, x, key) for x in obj]
    if isinstance(obj, dict):
        # keys can be names too (sources keyed by "telegram:<channel>"): handles pseudonymised there as well
        return {scrub.source(str(k)) if ":" in str(k) else scrub.meta(str(k)): deep_clean(scrub, v, str(k))
                for k, v in obj.items()}
    return obj
