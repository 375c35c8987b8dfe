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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from routewatch.core.packs import PACKS_DIR

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


# ---- the rules, as data ------------------------------------------------------------------------------------
# Cue words, digit spellings, contact links and the account fields of each record format live in the
# corridor packs (nlp/packs/<pack>/privacy.yaml, every one merged; read as data, nothing imported), each with
# a `cases:` table. Chinese labels may touch the id ("微信zx88"); Latin labels must stand as words.
_GAP = r"(?:[^\w\[]|_){0,3}"  # {g} in a cue: up to three characters that are not letters or digits
_SEP = r"(?:[^\w\[@]|_){0,3}?"  # between a cue and its id (an @handle after a cue is the handle rule's)
_PSEUDONYM = r"user-[0-9a-f]{10}"


@functools.cache
def rules() -> dict[str, Any]:
    """The privacy.yaml files of every pack under nlp/packs, merged (lists joined, digits and fields united)."""
    out: dict[str, Any] = {"digits": {}, "separators": "", "apps": {}, "id_words": [], "secret_params": [],
                           "links": {"contact": [], "account": []}, "fields": {}, "cases": []}
    for f in sorted(PACKS_DIR.glob("*/privacy.yaml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        for d, chars in (doc.get("digits") or {}).items():
            out["digits"][str(d)] = out["digits"].get(str(d), "") + str(chars)
        out["separators"] += str(doc.get("separators") or "")
        for app, tiers in (doc.get("apps") or {}).items():
            mine = out["apps"].setdefault(app, {"strong": [], "weak": []})
            for tier in ("strong", "weak"):
                mine[tier] += [str(c) for c in (tiers or {}).get(tier) or []]
        out["id_words"] += [str(w) for w in doc.get("id_words") or []]
        out["secret_params"] += [str(w) for w in doc.get("secret_params") or []]
        for kind in ("contact", "account"):
            out["links"][kind] += [str(p) for p in (doc.get("links") or {}).get(kind) or []]
        for name, values in (doc.get("fields") or {}).items():
            out["fields"].setdefault(name, set()).update(str(v) for v in values or [])
        out["cases"] += [{**c, "file": str(f)} for c in doc.get("cases") or []]
    return out


@functools.cache
def _shadow_table() -> dict[int, str]:
    """One character for one: every way of writing a digit (any script's decimals, circled and keycap forms,
    the packs' number words) → its ASCII digit, non-ASCII separators → "-", full-width forms → ASCII. The
    rules read this shadow of the text and edit the text itself, at the same offsets."""
    table: dict[int, str] = {}
    for c in range(0x80, sys.maxunicode + 1):
        ch = chr(c)
        if ch.isdecimal():
            table[c] = str(unicodedata.decimal(ch))
        elif (d := unicodedata.digit(ch, None)) is not None:
            table[c] = str(d)  # ① ¹ …
    for ch in rules()["separators"]:
        if ord(ch) >= 0x80:
            table[ord(ch)] = "-"
    for c in range(0xFF01, 0xFF5F):  # full-width ASCII (＠ ｖｘ ：)
        table.setdefault(c, chr(c - 0xFEE0))
    for d, chars in rules()["digits"].items():
        for ch in chars:
            table[ord(ch)] = d
    return table


@functools.cache
def _word_digits() -> frozenset[str]:
    return frozenset("".join(rules()["digits"].values()))


def _cue(pattern: str) -> str:
    """A cue regex from the pack: {g} gaps filled, Latin ends held to word boundaries."""
    body = pattern.replace("{g}", _GAP)
    first = pattern[1] if pattern.startswith("[") and len(pattern) > 1 else pattern[:1]
    latin_start = first.isascii() and first.isalpha()
    latin_end = pattern[-1:].isascii() and pattern[-1:].isalpha()
    return ("(?<![A-Za-z0-9])" if latin_start else "") + f"(?:{body})" + ("(?![A-Za-z])" if latin_end else "")


def _first_atom(pattern: str) -> str:
    """The regex piece a cue starts with (a class, an escape or one character): where a match can begin."""
    if pattern.startswith("["):
        return pattern[: pattern.index("]") + 1]
    return pattern[:2] if pattern.startswith("\\") else re.escape(pattern[0])


class _Scan:
    """A pattern matched only where it can begin (a cheap character scan finds those places) or only in
    texts a cheap gate finds something in: on a megabyte of text without a cue, the full pattern is
    tried a few hundred times instead of a million. Same matches as `pattern.finditer`."""

    def __init__(self, pattern: re.Pattern[str], starts: re.Pattern[str] | None = None,
                 gate: re.Pattern[str] | None = None):
        self.pattern, self.starts, self.gate = pattern, starts, gate

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        if self.gate is not None and not self.gate.search(text):
            return
        if self.starts is None:
            yield from self.pattern.finditer(text)
            return
        end = 0
        for c in self.starts.finditer(text):
            if c.start() < end:
                continue
            m = self.pattern.match(text, c.start())
            if m is not None and m.end() > m.start():
                yield m
                end = m.end()


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    r = rules()
    strong = [_cue(c) for tiers in r["apps"].values() for c in tiers["strong"]]
    weak = [_cue(c) for tiers in r["apps"].values() for c in tiers["weak"]]
    words = "|".join(re.escape(w) for w in sorted(set(r["id_words"]), key=len, reverse=True)) or "(?!)"
    app_id = (f"(?:(?P<strong>{'|'.join(strong) or '(?!)'})|(?P<weak>{'|'.join(weak) or '(?!)'}))"
              f"(?P<sep>{_SEP}(?:{words})?{_SEP})"
              rf"(?P<id>(?!removed\])(?!user\])\+?[A-Za-z0-9][A-Za-z0-9_.\-]{{3,30}})")
    contact = "|".join(f"(?:{p})" for p in r["links"]["contact"]) or "(?!)"
    account = "|".join(f"(?:{p})" for p in r["links"]["account"]) or "(?!)"
    secrets = "|".join(re.escape(p) for p in sorted(set(r["secret_params"]), key=len, reverse=True)) or "(?!)"
    return {
        "contact_link": re.compile(f"(?i)(?:{contact})"),
        "credentials": re.compile(r"(?i)\b[a-z][a-z0-9+.\-]{1,15}://(?P<cred>[^\s/?#@\[\]]+)@(?=[^\s/?#@])"),
        "secret_param": re.compile(rf"(?i)[?&](?:{secrets})=(?P<val>(?!\[removed\])[^&#\s]+)"),
        "account_link": re.compile(rf"(?i)(?:{account})(?!{_PSEUDONYM})(?!\[user\])"
                                   r"(?P<acct>[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_])?)"),
        "app_id": re.compile(app_id),
        # 7+ digits with separators; ASCII-only look-arounds so a number glued to Chinese text still counts
        "phone": re.compile(r"(?<![0-9A-Za-z/_.])(?<!user-)\+?\d[\d\s().\-]{5,}\d(?![0-9A-Za-z/_])"),
        # an @handle may touch Chinese text before it ("联系@zx_guide"); after a Latin letter or digit it is an
        # e-mail address (someone@example.org), which stays
        "handle": re.compile(rf"(?<![A-Za-z0-9_@.+\-])@(?!{_PSEUDONYM})(?!\[user\])(?:[A-Za-z0-9_][A-Za-z0-9_.]{{2,31}}"
                             r"|[^\W\d_A-Za-z][^\s@,，。.:：;；!！?？()（）\[\]【】\"“”'‘’/#]{0,19})"),
    }


_MASK_DIGITS = re.compile(rf"{_PSEUDONYM}|\d")
_URL_RUN = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]{1,15}://[^\s<>\"'\]）)】，。]+")
_STRUCTURAL = re.compile(r"(?<![0-9A-Za-z+])(?<!user-)(?:\d{16,}|1\d{9}|1\d{12})(?![0-9A-Za-z])")  # not a pseudonym's hex
_DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[.,\s]\d{3})+$")


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


def _looks_like_phone(t: str, word_digits: bool = False, split: bool = False) -> bool:
    """Whether a run of digits (already read through the shadow) is a phone number. Not: dates, amounts
    with thousands separators, more than 15 digits unbroken (E.164's limit: platform ids, hashes), a bare
    10 or 13 digits starting with 1 (Unix time in s / ms), short runs of number words, counting (1、2、3 …)."""
    t = t.strip()
    if _digits(t) < 7 or _DATE.match(t) or _THOUSANDS.match(t):
        return False
    bare = re.sub(r"\D", "", t)
    if bare == t and (len(bare) > 15 or (len(bare) in (10, 13) and bare[0] == "1")):
        return False  # one unbroken run: a platform id or hash, or a Unix time (numbers written apart still count)
    if word_digits and len(bare) < 10:
        return False
    if t.startswith("+") or len(bare) >= 10:
        return True
    if re.fullmatch(r"1[3-9]\d{9}", bare):
        return True  # Chinese mobile
    # local numbers written in groups (55 1234 5678, 1234-5678): several groups, one of them long unless
    # hidden characters split the digits (that is evasion, 1、2、3 … is counting)
    groups = re.findall(r"\d+", t)
    return len(groups) >= 2 and len(bare) >= 7 and (split or max(len(g) for g in groups) >= 3)


Edit = tuple[int, int, int]  # start, end (in the text before the step), length of what replaced it


def _step(text: str, shadow: str, pattern: Any, fn: Any) -> tuple[str, str, list[Edit]]:
    """One rule over the shadow: `fn(match, text)` gives (start, end, replacement) or None (no change);
    text and shadow are edited alike, so they stay aligned."""
    out: list[str] = []
    sh: list[str] = []
    edits: list[Edit] = []
    i = 0
    for m in pattern.finditer(shadow):
        r = fn(m, text)
        if r is None:
            continue
        a, b, new = r
        out += (text[i:a], new)
        sh += (shadow[i:a], new)
        edits.append((a, b, len(new)))
        i = b
    if not edits:
        return text, shadow, edits
    out.append(text[i:])
    sh.append(shadow[i:])
    return "".join(out), "".join(sh), edits


def _phone_edit(m: re.Match[str], text: str, cuts: list[int] | None = None) -> tuple[int, int, str] | None:
    """A phone number is replaced. `cuts`: where hidden characters split digits (sorted offsets); each
    inside the match counts as the separator the writer meant, so "5\u20635\u20631..." is a number
    written in groups, as "5 5 1 ..." would be."""
    t = m.group(0)
    lo, hi = (bisect.bisect_right(cuts, m.start()), bisect.bisect_left(cuts, m.end())) if cuts else (0, 0)
    if lo < hi:
        at = [m.start(), *cuts[lo:hi], m.end()]
        t = " ".join(m.string[x:y] for x, y in itertools.pairwise(at))
    words = not _word_digits().isdisjoint(text[m.start():m.end()])
    if not _looks_like_phone(t, words, split=lo < hi):
        return None
    end = m.end()
    while end < len(text) and text[end] in "\ufe0f\u20e3":  # the keycap of a last digit (8️⃣)
        end += 1
    return m.start(), end, "[phone removed]"


def _app_edit(m: re.Match[str], text: str) -> tuple[int, int, str] | None:
    ident = m.group("id")
    if m.group("weak") is not None and not (re.search(r"[\d_]", ident) or re.search(r"[:=]", m.group("sep"))):
        return None  # "line up", "tg channel": a weak cue needs an id that looks like one
    return (m.start("id"), m.end("id"), "[phone removed]" if _looks_like_phone(ident) else "[id removed]")


def _rules() -> tuple[tuple[re.Pattern[str], Any], ...]:
    """In order: links first (their digits are no phone number), secrets in URLs, profile links,
    labelled ids, numbers, @handles."""
    return _compiled_rules()


@functools.cache
def _compiled_rules() -> tuple[tuple[Any, Any], ...]:
    p = _patterns()
    r = rules()
    cues = [c for tiers in r["apps"].values() for tier in ("strong", "weak") for c in tiers[tier]]
    starts = re.compile("|".join(sorted({_first_atom(c) for c in cues})) or "(?!)")
    links = re.compile(r"(?i)[a-z0-9]\.[a-z]{2,6}/|://")  # no host/path and no scheme: no link to look at
    return (
        (_Scan(p["contact_link"], gate=links), lambda m, t: (m.start(), m.end(), "[link removed]")),
        (_Scan(p["credentials"], gate=re.compile("://")), lambda m, t: (m.start("cred"), m.end(), "")),
        (_Scan(p["secret_param"], gate=re.compile("=")), lambda m, t: (m.start("val"), m.end("val"), "[removed]")),
        (_Scan(p["account_link"], gate=links), lambda m, t: (m.start("acct"), m.end("acct"), "[user]")),
        (None, None),  # from here on, digits inside URLs are addresses, not content: masked in the shadow
        (_Scan(p["app_id"], starts=starts), _app_edit),
        (p["phone"], _phone_edit),
        (p["handle"], lambda m, t: (m.start(), m.end(), "@[user]")),
    )


def _unless_kept(m: re.Match[str], text: str, fn: Any, keep: frozenset[str]) -> tuple[int, int, str] | None:
    """An account rule's edit, except for a public account (shown as it is)."""
    name = m.groupdict().get("acct") or m.group(0)
    return None if name.lstrip("@").lower() in keep else fn(m, text)


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


def redact_text(text: str, keep: frozenset[str] = frozenset()) -> str:
    """Contacts replaced: phone numbers, messaging ids after a cue, chat and profile links, @handles,
    credentials in URLs. The rules read the text as a reader sees it (invisible characters dropped, see
    `drop_invisible`; digits in any script and number words read as digits, see `_shadow_table`):
    "+52\u200b55\u200b1234\u200b5678" and "一三八…" are numbers on screen, so they are for the rules too.
    Only what is redacted changes: invisible characters elsewhere stay for the caller to show or drop
    (the web drops them, the CLI shows controls as symbols). `keep`: public accounts (lower case, no "@")
    whose @handles and profile links stay."""
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
    shadow = shown.translate(_shadow_table()) if not shown.isascii() else shown
    # unbroken runs that are ids, hashes or Unix times are masked in the shadow, so a number rule never
    # joins them with a phone number next to them
    shadow = _STRUCTURAL.sub(lambda m: "#" * len(m.group(0)), shadow)
    changed = False
    phone = _patterns()["phone"]
    accounts = _rules()[3][0], _rules()[-1][0]  # profile links and @handles
    for pattern, fn in _rules():
        if pattern is None:
            # the digits of a URL are ids, never a number to call (its @handles are still handles)
            # (a pseudonym keeps its digits, so the rules still see it as one)
            shadow = _URL_RUN.sub(lambda m: _MASK_DIGITS.sub(lambda d: d.group(0) if len(d.group(0)) > 1 else "#",
                                                             m.group(0)), shadow) if "://" in shadow else shadow
            continue
        if keep and fn is not None and pattern in accounts:
            fn = functools.partial(_unless_kept, fn=fn, keep=keep)
        if pattern is phone and runs:
            cuts = [p for p, k, _ in runs if not k and 0 < p < len(shadow)
                    and shadow[p - 1].isdecimal() and shadow[p].isdecimal()]
            fn = functools.partial(fn, cuts=cuts)
        shown, shadow, edits = _step(shown, shadow, pattern, fn)
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


def public_url(url: str, key: bytes | None, keep: frozenset[str] = frozenset()) -> str:
    """A post or page URL as it may be shown: the account in it (t.me/<channel>, tiktok.com/@<handle>,
    youtube.com/@<handle>, x.com/<handle> … — the pack's profile links) a keyed pseudonym ("[user]"
    without a key) unless it is one of `keep` (public accounts, lower case, no "@"), credentials and
    secret parameters removed; ids and the rest of the path kept."""
    if not url:
        return url

    def acct(m: re.Match[str]) -> str:
        a = m.group("acct")
        shown = a if a.lower() in keep else _as_pseudonym(a, key)
        return m.group(0)[: m.start("acct") - m.start()] + shown

    url = _patterns()["account_link"].sub(acct, url)
    return strip_url_secrets(url)


def strip_url_secrets(url: str) -> str:
    """A URL field as it may be shown: user:password@ and secret query values (token=, password= …)
    removed; nothing else touched (an id or a handle in a URL is no phone number)."""
    if not url or ("@" not in url and "=" not in url):
        return url
    p = _patterns()
    url = p["credentials"].sub(lambda m: m.group(0)[: m.start("cred") - m.start()], url)
    return p["secret_param"].sub(lambda m: m.group(0)[: m.start("val") - m.start()] + "[removed]", url)


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


def _field(name: str) -> str:
    """What a record field holds, by its name (the pack's `fields:`): account, account_object, drop, id,
    name (a configured name such as a source: known accounts pseudonymised, no contact rules), url or text."""
    f = rules()["fields"]
    if name in f.get("drop", ()):
        return "drop"
    if name in f.get("accounts", ()):
        return "account"
    if name in f.get("names", ()):
        return "name"
    if name in f.get("ids", ()) or name.endswith(tuple(f.get("id_suffixes", ()))):
        return "id"
    if name in f.get("urls", ()) or name.endswith(tuple(f.get("url_suffixes", ()))):
        return "url"
    return "text"


def record_accounts(obj: object, field: str = "", inside: bool = False) -> set[str]:
    """Every account a record names: values of account fields and the identifiers inside account objects
    (an author's id, secUid, nickname; a mention's userUniqueId), at any depth."""
    out: set[str] = set()
    if isinstance(obj, dict):
        objects = rules()["fields"].get("account_objects", ())
        for k, v in obj.items():
            k = str(k)
            out |= record_accounts(v, k, inside or (k in objects and isinstance(v, dict | list)))
    elif isinstance(obj, list):
        for v in obj:
            out |= record_accounts(v, field, inside)
    elif isinstance(obj, str | int) and not isinstance(obj, bool):
        kind = _field(field)
        if kind == "account" or (inside and kind == "id"):
            v = str(obj).strip()
            if len(v.lstrip("@")) >= 3 and not re.fullmatch(_PSEUDONYM, v):
                out.add(v)
    return out


def _handle_pattern(handles: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for known accounts, longest first; Latin ones only as whole tokens, so "ana" never
    rewrites "banana" and a numeric user id never a part of a longer number."""
    parts = []
    for h in sorted({h for h in handles if h}, key=len, reverse=True):
        esc = re.escape(h)
        parts.append(rf"(?<![A-Za-z0-9_]){esc}(?![A-Za-z0-9_])" if h[0].isascii() and h[-1].isascii() else esc)
    return re.compile("|".join(parts)) if parts else None


def redact_obj(obj: object, handles: tuple[str, ...] = (), key: bytes | None = None, *, field: str = "",
               keep: frozenset[str] = frozenset()) -> object:
    """A JSON-like record as it may be shown or exported. Field by field (the pack's `fields:`): accounts
    (authors, mentions, secUid, user ids, and every identifier inside an author or user object) become
    keyed pseudonyms ("[user]" without a key), pictures of people go, ids / hashes / times stay as they
    are, URLs lose credentials and secrets, and text gets `redact_text`. Known handles — those given and
    those the record itself names — become their pseudonyms wherever else they appear. Ids are never
    touched (a Telegram id "channel/231" stays the platform's id). `keep`: public accounts (lower case, no
    "@"), shown as they are."""
    names = set(handles) | {h.lstrip("@") for h in handles if h} | record_accounts(obj, field)
    names = {h for h in names if len(h.lstrip("@")) >= 3 and not re.fullmatch(_PSEUDONYM, h)
             and h.lstrip("@").lower() not in keep}
    return _redact(obj, field, False, _handle_pattern(tuple(names)), key, keep)


def _as_pseudonym(value: str, key: bytes | None, keep: frozenset[str] = frozenset()) -> str:
    if not value or re.fullmatch(_PSEUDONYM, value) or value.lstrip("@").lower() in keep:
        return value
    return pseudonym(value, key) if key is not None else "[user]"


def _redact(obj: object, field: str, inside: bool, known: re.Pattern[str] | None, key: bytes | None,
            keep: frozenset[str] = frozenset()) -> object:
    def swap(s: str) -> str:
        return known.sub(lambda m: _as_pseudonym(m.group(0), key), s) if known is not None else s

    if isinstance(obj, dict):
        objects = rules()["fields"].get("account_objects", ())
        return {k: _redact(v, str(k), inside or (str(k) in objects and isinstance(v, dict | list)), known, key, keep)
                for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_redact(x, field, inside, known, key, keep) for x in obj]
    kind = _field(field)
    if kind == "drop" and isinstance(obj, str | int | float):
        return ""
    if isinstance(obj, bool) or obj is None:
        return obj
    if isinstance(obj, int | float):
        return _as_pseudonym(str(obj), key, keep) if kind == "account" or (inside and kind == "id") else obj
    if not isinstance(obj, str):
        return obj
    if kind == "account" or (inside and kind == "id"):
        return _as_pseudonym(obj.strip(), key, keep)
    if kind == "id":
        return obj
    if kind == "name":  # "telegram:<channel>": the kind before the colon is no messaging cue
        head, sep, rest = swap(obj).partition(":")
        return head + sep + redact_text(rest, keep) if sep else redact_text(head, keep)
    if kind == "url" or (inside and "://" in obj):
        return "" if inside else public_url(swap(obj), key, keep)
    return redact_text(swap(obj), keep)


def post_accounts(author: str, forwarded_from: str, platform: str, platform_id: str) -> set[str]:
    """The accounts a post names: its author, the channel it was forwarded from and, for Telegram,
    the channel that published it (the first part of its `channel/message` id)."""
    channel = platform_id.split("/", 1)[0] if platform == "telegram" and "/" in platform_id else ""
    return {h for h in (author, forwarded_from, channel) if h}
