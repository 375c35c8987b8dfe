"""Fast dictionary matching of pack terms on normalised text, exact and phonetic.

In: pack terms with payloads, and a `Norm` of a text. Out: leftmost-longest, non-overlapping
`Hit`s with character offsets into the original text. Latin terms only match whole words; Chinese
terms of three or more characters also match through homophones (ASR errors: 俄瓜多尔 -> 厄瓜多尔);
`SoundIndex` asks the same of short closed lists at one position (必索 -> 比索 right after a number).
Must never return a span that is not a slice of the original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .text import HAN_RUN, Norm, fold_term, fold_term_cased, is_han, is_latin_alnum

_WORD = "a-z0-9"


@dataclass(frozen=True, slots=True)
class Hit:
    start: int
    end: int
    key: str  # folded term that matched (for phonetic hits: the term it sounds like)
    payloads: tuple[Any, ...]
    phonetic: bool = False


def _trie_pattern(keys: Iterable[str]) -> str:
    """One regex for many literal words: a trie, so matching is linear and longest-first."""
    trie: dict[str, Any] = {}
    for key in keys:
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, Any], prev: str) -> str:
        alts = []
        for ch in sorted(c for c in node if c):
            # Word starts are checked after matching (see TermMatcher.find): a look-behind here would
            # stop the regex engine from skipping positions by first character, which is most of its speed.
            alts.append(re.escape(ch) + build(node[ch], ch))
        if "" in node:
            # Children first so the longest word wins; a Latin word must end at a word boundary.
            alts.append(f"(?![{_WORD}])" if is_latin_alnum(prev) else "")
        if len(alts) == 1:
            return alts[0]
        return "(?:" + "|".join(alts) + ")"

    return build(trie, "")


# --- phonetic (Mandarin) ------------------------------------------------------------------------

try:  # pypinyin is a declared dependency; the extractor refuses to build without it when asked for.
    import pypinyin
except ImportError:  # pragma: no cover - exercised only on a broken install
    pypinyin = None


def phonetic_available() -> bool:
    return pypinyin is not None


_FUZZY = (("zh", "z"), ("ch", "c"), ("sh", "s"))


@lru_cache(maxsize=20000)
def syllables(ch: str) -> frozenset[str]:
    """Toneless readings of one Chinese character, with the confusions ASR and accents make
    (zh/z, ch/c, sh/s, n/l, -ng/-n) folded together."""
    if pypinyin is None or not is_han(ch):
        return frozenset((ch,))
    readings = pypinyin.pinyin(ch, style=pypinyin.Style.NORMAL, heteronym=True, errors="ignore")
    out = set()
    for r in readings[0] if readings else ():
        for a, b in _FUZZY:
            if r.startswith(a):
                r = b + r[len(a):]
                break
        if r.startswith("l"):
            r = "n" + r[1:]
        if r.endswith("ng") and r not in ("ng",):
            r = r[:-1]
        out.add(r)
    return frozenset(out) or frozenset((ch,))


class PhoneticIndex:
    """Chinese terms (>= min_len characters) indexed by the sound of their first two characters."""

    def __init__(self, keys: Iterable[str], min_len: int = 3):
        self._by_head: dict[tuple[str, str], list[tuple[int, tuple[frozenset[str], ...], str]]] = {}
        for key in keys:
            if len(key) < min_len or not all(is_han(c) for c in key):
                continue
            sig = tuple(syllables(c) for c in key)
            for s0 in sig[0]:
                for s1 in sig[1]:
                    self._by_head.setdefault((s0, s1), []).append((len(key), sig, key))
        for lst in self._by_head.values():
            lst.sort(key=lambda t: -t[0])

    def __bool__(self) -> bool:
        return bool(self._by_head)

    def find(self, fold: str) -> list[tuple[int, int, str]]:
        """(start, end, key) of Chinese windows that sound like a term (longest first, no overlap)."""
        out: list[tuple[int, int, str]] = []
        by_head = self._by_head
        for run in HAN_RUN.finditer(fold):
            rs, re_ = run.span()
            if re_ - rs < 3:
                continue
            syl = [syllables(c) for c in run.group()]
            n = len(syl)
            i = 0
            while i < n - 1:
                best: tuple[int, str] | None = None
                for s0 in syl[i]:
                    for s1 in syl[i + 1]:
                        for length, sig, key in by_head.get((s0, s1), ()):
                            if i + length > n or (best and best[0] >= length):
                                continue
                            if not all(syl[i + j] & sig[j] for j in range(2, length)):
                                continue
                            window = run.group()[i : i + length]
                            # A mis-heard name keeps most of its characters (俄瓜多尔, 达连与林); a run of
                            # different words that merely sounds alike (大连上 ~ 达连山) does not.
                            # Longer names keep their sound through more changed characters (哀尔帕所 ~ 埃尔帕索).
                            if sum(a != b for a, b in zip(window, key, strict=True)) <= (1 if length <= 3 else length // 2):
                                best = (length, key)
                                break
                if best:
                    out.append((rs + i, rs + i + best[0], best[1]))
                    i += best[0]
                else:
                    i += 1
        return out


class TermMatcher:
    """Literal terms -> payloads. `find` gives leftmost-longest, non-overlapping hits."""

    def __init__(
        self,
        entries: Iterable[tuple[str, Any, bool]],
        phonetic: bool = False,
        phonetic_min: int = 3,
        word_start: bool = True,
    ):
        # key -> list of (payload, cased form or None)
        self._table: dict[str, list[tuple[Any, str | None]]] = {}
        for term, payload, cased in entries:
            term = str(term)
            key = fold_term(term)
            if not key.strip():
                continue
            self._table.setdefault(key, []).append((payload, fold_term_cased(term) if cased else None))
        # Two regexes, one for words that start with a Chinese character and one for the rest: each
        # alone lets the regex engine skip positions by first character; mixed, it cannot.
        groups = ([k for k in self._table if is_han(k[0])], [k for k in self._table if not is_han(k[0])])
        self._regexes = [re.compile(_trie_pattern(g)) for g in groups if g]
        self._regex = re.compile(_trie_pattern(self._table)) if self._table else None  # for match_at
        self._word_start = word_start
        self._phonetic = PhoneticIndex(self._table, phonetic_min) if phonetic and pypinyin else None

    def __len__(self) -> int:
        return len(self._table)

    def keys(self) -> list[str]:
        return list(self._table)

    def _payloads(self, key: str, norm: Norm, start: int, end: int) -> tuple[Any, ...]:
        return tuple(p for p, cased in self._table[key] if cased is None or norm.cased[start:end] == cased)

    def match_at(self, norm: Norm, pos: int) -> Hit | None:
        """The longest term starting exactly at `pos`, if any."""
        if self._regex is None:
            return None
        m = self._regex.match(norm.fold, pos)
        if not m or m.end() == pos:
            return None
        payloads = self._payloads(m.group(), norm, pos, m.end())
        return Hit(pos, m.end(), m.group(), payloads) if payloads else None

    def find(self, norm: Norm) -> list[Hit]:
        hits: list[Hit] = []
        fold = norm.fold
        found: list[tuple[int, int, str]] = []
        for regex in self._regexes:
            for m in regex.finditer(fold):
                s, e = m.span()
                if self._word_start and s and is_latin_alnum(fold[s]) and is_latin_alnum(fold[s - 1]):
                    continue  # "cali" inside "california"
                found.append((s, e, m.group()))
        if len(self._regexes) > 1:
            found.sort(key=lambda t: (t[0], t[0] - t[1]))
        last_end = 0
        for s, e, key in found:
            if s < last_end:
                continue  # leftmost-longest across the two regexes
            payloads = self._payloads(key, norm, s, e)
            if payloads:
                hits.append(Hit(s, e, key, payloads))
                last_end = e
        if self._phonetic:
            hits = self._add_phonetic(hits, norm)
        return hits

    def _add_phonetic(self, hits: list[Hit], norm: Norm) -> list[Hit]:
        extra = []
        for s, e, key in self._phonetic.find(norm.fold):
            if norm.fold[s:e] == key:
                continue  # an exact occurrence: the regex already has it
            covered = [h for h in hits if h.start < e and h.end > s]
            # An exact name plus one odd character at its edge is that name and the next word (瓜地马拉以后
            # is not 瓜地马拉市), not a mis-heard longer name.
            window = norm.fold[s:e]
            if covered and ((window[-1] != key[-1] and any(h.start == s and h.end == e - 1 for h in covered))
                            or (window[0] != key[0] and any(h.start == s + 1 and h.end == e for h in covered))):
                continue
            # A sound-alike wins only over shorter exact hits it fully contains (达连与林 over 达连).
            if all(s <= h.start and h.end <= e and (h.end - h.start) < (e - s) for h in covered):
                extra.append((Hit(s, e, key, tuple(p for p, _ in self._table[key]), phonetic=True), covered))
        if not extra:
            return hits
        drop = {id(h) for _, cov in extra for h in cov}
        merged = [h for h in hits if id(h) not in drop] + [h for h, _ in extra]
        merged.sort(key=lambda h: h.start)
        return merged


class SoundIndex:
    """A short closed list of Chinese terms (two or more characters) by the sound of their first
    character, to ask "does the text at `pos` sound like one of them?" (必索 ~ 比索, 防带 ~ 房贷; a term
    longer than two characters must keep one of its own characters). Looked up at single places (right
    after a number, just before an amount), never as a scan of a whole text."""

    def __init__(self, terms: Iterable[str]):
        self._by_first: dict[str, list[tuple[str, tuple[frozenset[str], ...]]]] = {}
        if pypinyin is None:
            return
        for term in sorted(set(terms), key=len, reverse=True):
            if len(term) < 2 or not all(is_han(c) for c in term):
                continue
            sig = tuple(syllables(c) for c in term)
            for s0 in sig[0]:
                self._by_first.setdefault(s0, []).append((term, sig))

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def at(self, fold: str, pos: int) -> str | None:
        if not self._by_first or pos >= len(fold) or not is_han(fold[pos]):
            return None
        for s0 in syllables(fold[pos]):
            for term, sig in self._by_first.get(s0, ()):
                window = fold[pos : pos + len(term)]
                if len(window) < len(term) or window == term:
                    continue
                if not all(syllables(c) & want for c, want in zip(window, sig, strict=True)):
                    continue
                if len(term) == 2 or any(a == b for a, b in zip(window, term, strict=True)):
                    return term
        return None


def near(hits: Sequence[Hit], start: int, end: int, window: int) -> list[Hit]:
    """Hits that end within `window` characters before `start` or begin within it after `end`."""
    return [h for h in hits if h.end > start - window and h.start < end + window]
