"""Privacy by default (SPEC §1): keyed pseudonyms for handles, redaction of contact details.

In: text or a handle about to be shown or exported.  Out: the same with invisible characters dropped
and phone numbers, WeChat / WhatsApp / Telegram / LINE ids and QR-code links replaced, or a stable
keyed pseudonym. Never logs or stores the raw values it removes.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import hmac
import itertools
import os
import re
import secrets
import string
import sys
import unicodedata
from pathlib import Path
from typing import Any

# ZWNJ / ZWJ are kept where they join something: emoji sequences (man, ZWJ, woman, ZWJ, girl) and Persian or Indic
# spelling need them. Next to a digit, a space, ASCII punctuation or an end of the text they join
# nothing, and there they could split a phone number, so they go like the other invisible characters.
# Regex class pieces for what shown text must never carry as such (the CLI, digest.md and JSON output
# build their own rules from them): bidi marks, embeddings, overrides and isolates, which reorder what
# is read; DEL and the C1 controls (CSI, OSC ...), which a terminal acts on.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
C1_CONTROLS = "\x7f-\x9f"
_JOINERS = frozenset("\u200c\u200d")
_NOT_JOINED = frozenset(string.punctuation)


@functools.cache
def _invisible_run() -> re.Pattern[str]:
    """Runs of characters a reader cannot see: every format character (Unicode category Cf: zero-width
    spaces, bidi marks, embeddings, overrides and isolates, soft hyphen, invisible operators and
    separator, tags, BOM ...), the combining grapheme joiner and the C0/C1 controls except tab, line
    feed and carriage return. Built once, on first use (a scan of every code point, ~0.1 s)."""
    cf = [c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    ranges: list[tuple[int, int]] = []
    for c in cf:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    cls = "".join(f"\\U{a:08x}" + (f"-\\U{b:08x}" if b > a else "") for a, b in ranges)
    return re.compile(f"[{cls}\\u034f\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]+")


def _joins(text: str, start: int, end: int) -> bool:
    """Whether an invisible run at text[start:end] stands between two characters a joiner can join."""
    if start == 0 or end == len(text):
        return False
    return not any(c.isdigit() or c.isspace() or c in _NOT_JOINED for c in (text[start - 1], text[end]))


def invisible_edits(text: str) -> list[tuple[int, int, str]]:
    """Where `drop_invisible` changes `text`: (start, end, what stays) for each run, in order."""
    edits: list[tuple[int, int, str]] = []
    for m in _invisible_run().finditer(text):
        run = m.group(0)
        kept = "".join(c for c in run if c in _JOINERS) if _joins(text, m.start(), m.end()) else ""
        if kept != run:
            edits.append((m.start(), m.end(), kept))
    return edits


def drop_invisible(text: str) -> str:
    """`text` without the characters a reader cannot see (see `_invisible_run`), joiners kept where
    they join: what a reader sees. Pages show text through it, so nothing hidden can reorder it."""
    if not text or not _invisible_run().search(text):
        return text
    out: list[str] = []
    i = 0
    for a, b, kept in invisible_edits(text):
        out += (text[i:a], kept)
        i = b
    out.append(text[i:])
    return "".join(out)


# Contact ids written after a messaging-app label. Chinese labels may touch the id ("微信zx88");
# Latin labels must stand as words ("routewatch" and "forwarded" are not WhatsApp labels) and the id
# must look like one (a digit or an underscore in it), so "line up" or "tg channel" stay.
_CJK_LABEL = r"(?:微信号|微信|威信|薇信|电报号|电报|飞机号|加V|加v)"
_ASCII_LABEL = r"(?<![A-Za-z0-9])(?:VX|vx|Vx|WX|wx|wechat|WeChat|Wechat|whatsapp|WhatsApp|Whatsapp|WA|telegram|Telegram|TG|tg|LINE|Line|line|QQ|qq)(?![A-Za-z])"
_ID = r"\+?[A-Za-z0-9][A-Za-z0-9_.\-]{3,30}"
_APP_ID = re.compile(
    rf"({_CJK_LABEL}|{_ASCII_LABEL})(\s*(?:id|ID|号)?\s*[:：=]?\s*)({_ID})"
)
# Phone numbers: 7+ digits with optional separators; ASCII-only look-arounds so a number glued to
# Chinese text ("打138-0013-8000找") is still found.
_PHONE = re.compile(r"(?<![0-9A-Za-z/_.])\+?\d[\d\s().\-]{5,}\d(?![0-9A-Za-z/_])")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_][A-Za-z0-9_.]{2,31}")
_QR = re.compile(r"(?i)(?:https?://)?(?:u\.wechat\.com|weixin\.qq\.com|wa\.me|t\.me/\+|line\.me/ti)/[A-Za-z0-9_\-./?=&%+~#]+")
_DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[.,\s]\d{3})+$")


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


def _looks_like_phone(t: str) -> bool:
    t = t.strip()
    if _digits(t) < 7 or _DATE.match(t) or _THOUSANDS.match(t):
        return False  # dates, versions and amounts written with thousands separators
    bare = re.sub(r"\D", "", t)
    if t.startswith("+") or len(bare) >= 10:
        return True
    if re.fullmatch(r"1[3-9]\d{9}", bare):
        return True  # Chinese mobile
    # local numbers written in groups (55 1234 5678, 1234-5678): several separated groups
    return len(re.findall(r"\d+", t)) >= 2 and len(bare) >= 7


def _id_like(m: re.Match[str]) -> bool:
    label, ident = m.group(1), m.group(3)
    if re.match(_CJK_LABEL, label):
        return True
    return bool(re.search(r"[\d_]", ident)) or bool(re.search(r"[:：=]", m.group(2)))


Edit = tuple[int, int, int]  # start, end (in the text before the step), length of what replaced it


def _step(text: str, pattern: re.Pattern[str], fn: Any) -> tuple[str, list[Edit]]:
    """One contact rule over `text`: `fn(match)` gives (start, end, replacement) or None (no change)."""
    out: list[str] = []
    edits: list[Edit] = []
    i = 0
    for m in pattern.finditer(text):
        r = fn(m)
        if r is None:
            continue
        a, b, new = r
        out += (text[i:a], new)
        edits.append((a, b, len(new)))
        i = b
    if not edits:
        return text, edits
    out.append(text[i:])
    return "".join(out), edits


def _phone_edit(m: re.Match[str], cuts: list[int] | None = None) -> tuple[int, int, str] | None:
    """A phone number is replaced. `cuts`: where hidden characters split digits (sorted offsets); each
    inside the match counts as the separator the writer meant, so "5\u20635\u20631..." is a number
    written in groups, as "5 5 1 ..." would be."""
    t = m.group(0)
    lo, hi = (bisect.bisect_right(cuts, m.start()), bisect.bisect_left(cuts, m.end())) if cuts else (0, 0)
    if lo < hi:
        at = [m.start(), *cuts[lo:hi], m.end()]
        t = " ".join(m.string[x:y] for x, y in itertools.pairwise(at))
    return (m.start(), m.end(), "[phone removed]") if _looks_like_phone(t) else None


# In order: links first (their digits are no phone number), then labelled ids, numbers, @handles.
_RULES: tuple[tuple[re.Pattern[str], Any], ...] = (
    (_QR, lambda m: (m.start(), m.end(), "[link removed]")),
    (_APP_ID, lambda m: (m.start(3), m.end(3), "[id removed]") if _id_like(m) else None),
    (_PHONE, _phone_edit),
    (_HANDLE, lambda m: (m.start(), m.end(), "@[user]")),
)

Run = tuple[int, int, str]  # a hidden run: offset in the visible text, length it kept there, the raw run


def _follow(runs: list[Run], edits: list[Edit]) -> list[Run]:
    """The runs' offsets after one rule's edits; a run inside a redaction goes with it."""
    starts = [e[0] for e in edits]
    moved = list(itertools.accumulate((n - (e - s) for s, e, n in edits), initial=0))
    alive: list[Run] = []
    for pos, k, raw in runs:
        c = bisect.bisect_left(starts, pos + k)  # the edits that start before the run ends
        if c and edits[c - 1][1] > pos:
            continue
        alive.append((pos + moved[c], k, raw))
    return alive


def redact_text(text: str) -> str:
    """Contacts replaced. The rules read the text as a reader sees it (invisible characters dropped,
    see `drop_invisible`): "+52\u200b55\u200b1234\u200b5678" is one number on screen, so it is one
    for the rules too. Only what is redacted changes: invisible characters elsewhere stay for the
    caller to show or drop (the web drops them, the CLI shows controls as symbols)."""
    if not text:
        return text
    shown, runs = text, []
    if hidden := invisible_edits(text):
        parts: list[str] = []
        i = shift = 0
        for a, b, kept in hidden:
            parts += (text[i:a], kept)
            runs.append((a - shift, len(kept), text[a:b]))
            shift += (b - a) - len(kept)
            i = b
        parts.append(text[i:])
        shown = "".join(parts)
    changed = False
    for pattern, fn in _RULES:
        if pattern is _PHONE and runs:
            cuts = [p for p, k, _ in runs if not k and 0 < p < len(shown)
                    and shown[p - 1].isdecimal() and shown[p].isdecimal()]
            fn = functools.partial(fn, cuts=cuts)
        shown, edits = _step(shown, pattern, fn)
        if edits:
            changed = True
            runs = _follow(runs, edits) if runs else runs
    if not runs:
        return shown
    if not changed:
        return text  # nothing to redact: the text exactly as it came
    out: list[str] = []
    i = 0
    for pos, k, raw in runs:  # the hidden runs outside redactions go back where they were
        out += (shown[i:pos], raw)
        i = pos + k
    out.append(shown[i:])
    return "".join(out)


def install_secret(data_dir: Path) -> bytes:
    """The per-install key for pseudonyms, created on first use (0600)."""
    p = Path(data_dir) / ".pseudonym.key"
    if p.exists():
        return p.read_bytes()
    p.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def pseudonym(handle: str, key: bytes) -> str:
    if not handle:
        return ""
    # "@name" and "name" are the same account
    digest = hmac.new(key, handle.strip().lstrip("@").lower().encode(), hashlib.sha256).hexdigest()[:10]
    return f"user-{digest}"


def redact_obj(obj: object, handles: tuple[str, ...] = (), key: bytes | None = None) -> object:
    """Redact every string inside a JSON-like value; known handles become their pseudonyms."""
    if isinstance(obj, str):
        for h in handles:
            if h and key is not None:
                obj = obj.replace(h, pseudonym(h, key))
        return redact_text(obj)
    if isinstance(obj, list):
        return [redact_obj(x, handles, key) for x in obj]
    if isinstance(obj, dict):
        return {k: redact_obj(v, handles, key) for k, v in obj.items()}
    return obj


def post_accounts(author: str, forwarded_from: str, platform: str, platform_id: str) -> set[str]:
    """The accounts a post names: its author, the channel it was forwarded from and, for Telegram,
    the channel that published it (the first part of its `channel/message` id)."""
    channel = platform_id.split("/", 1)[0] if platform == "telegram" and "/" in platform_id else ""
    return {h for h in (author, forwarded_from, channel) if h}
