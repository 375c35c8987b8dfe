"""Text normalisation, language identification and sentence splitting for the extractor.

In: raw unit text (caption, subtitle, ASR transcript; Simplified or Traditional Chinese, English,
Spanish or a mix). Out: a `Norm` whose folded strings have exactly the length of the input, so every
offset found on them is an offset in the original text. Must never change the length of the text or
reorder characters: evidence spans depend on it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from routewatch.core.text import HAN_CLASS, HAN_RUN, is_han, to_simplified

__all__ = ["HAN_CLASS", "HAN_RUN", "Norm", "is_han", "normalize", "to_simplified"]

SENTENCE_END = "。！？!?；;\n"
CLAUSE_END = SENTENCE_END + "，,、：:（）()「」“”\"'…—"


def is_latin_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """One character in, one character out: full-width to ASCII, accents removed."""
    o = ord(ch)
    if 0xFF01 <= o <= 0xFF5E:  # full-width ASCII block (ＡＢＣ１２３，) -> ASCII
        return chr(o - 0xFEE0)
    if o == 0x3000:
        return " "
    if o < 0x80 or is_han(ch):
        return ch
    decomposed = unicodedata.normalize("NFD", ch)
    base = decomposed[0]
    # Keep the base letter only when the rest are combining accents (é -> e, ñ -> n, ü -> u).
    if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
        return base
    return ch


@lru_cache(maxsize=8192)
def _lower_char(ch: str) -> str:
    low = ch.lower()
    # "İ".lower() is two characters: keep the length by leaving such a character as it is.
    return low if len(low) == 1 else ch


class _CharTable(dict):
    """A str.translate table that fills itself: one character in, one character out."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __missing__(self, code: int) -> str:
        out = self.fn(chr(code))
        self[code] = out
        return out


_FOLD = _CharTable(_fold_char)
_LOWER = _CharTable(_lower_char)


@dataclass(frozen=True, slots=True)
class Norm:
    """The text and two folded views of the same length (see module doc)."""

    text: str
    cased: str  # Simplified, ASCII-folded, accents removed, case kept
    fold: str  # ... and lower-cased: what patterns are matched against


def fold_term(term: str) -> str:
    """The folded form of a pattern word, matching how `normalize` folds text."""
    return normalize(term).fold


def fold_term_cased(term: str) -> str:
    return normalize(term).cased


def normalize(text: str) -> Norm:
    simp = to_simplified(text)
    if simp.isascii():
        cased = simp
        fold = simp.lower()
    else:
        cased = simp.translate(_FOLD)
        fold = cased.translate(_LOWER)
    return Norm(text=text, cased=cased, fold=fold)


# --- language identification -------------------------------------------------------------------

# Frequent function words: enough to tell English from Spanish in a caption or transcript.
_EN_WORDS = frozenset(
    "the a an and of to in on for with is are was were it that this my his her our we they you i "
    "from at by be have has had not but then there their after before all".split()
)
_ES_WORDS = frozenset(
    "el la los las un una y de del en con por para que es son fue muy pero luego nos les me mi "
    "su sus al lo como más ya hasta desde cuando nosotros ellos aquí allá hay".split()
)


def detect_language(text: str, default: str = "zh") -> str:
    """'zh', 'en' or 'es', offline, from the script and function words.

    Code-switched text (Chinese with Spanish or English words) is 'zh' as soon as Chinese characters
    make up a fair share of it: the Chinese pipeline segments the Latin words too, and every pack
    rule runs whatever the language.
    """
    han = 0
    latin = 0
    for ch in text:
        if is_han(ch):
            han += 1
        elif ch.isalpha():
            latin += 1
    if han == 0 and latin == 0:
        return default
    # A Chinese character carries about as much as a 3-4 letter word.
    if han * 3 >= latin * 0.5 and han >= 2:
        return "zh"
    words = [w.strip(".,;:!?¡¿'\"()") for w in text.lower().split()]
    en = sum(1 for w in words if w in _EN_WORDS)
    es = sum(1 for w in words if w in _ES_WORDS)
    es += sum(2 for c in text if c in "ñ¿¡áéíóú")
    return "es" if es > en else "en"


# --- sentences and clauses ---------------------------------------------------------------------


def split_spans(text: str, enders: str, max_len: int = 0) -> list[tuple[int, int]]:
    """[start, end) spans cut after any character of `enders` (and at ". " for Latin text).

    ASR text often has no punctuation at all: then, with `max_len`, a span longer than that is also
    cut at whitespace, so one run-on transcript does not become one giant sentence.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    n = len(text)
    if max_len and any(c in SENTENCE_END or c in "，,." for c in text):
        max_len = 0  # punctuated text: trust the punctuation
    i = 0
    while i < n:
        ch = text[i]
        cut = ch in enders
        if cut and ch in ",." and 0 < i < n - 1 and text[i - 1].isdigit() and text[i + 1].isdigit():
            cut = False  # 1,500 / 1.500: a number, not a clause break
        if not cut and ch == "." and (i + 1 == n or text[i + 1] in " \n"):
            cut = True
        if not cut and max_len and i - start >= max_len and ch == " ":
            cut = True
        if cut:
            spans.append((start, i + 1))
            start = i + 1
        i += 1
    if start < n:
        spans.append((start, n))
    return spans


def sentences(text: str) -> list[tuple[int, int]]:
    return split_spans(text, SENTENCE_END, max_len=60)


def clauses(text: str) -> list[tuple[int, int]]:
    return split_spans(text, CLAUSE_END, max_len=30)


def span_index(spans: list[tuple[int, int]], pos: int) -> int:
    """Index of the span containing `pos` (the last one when past the end)."""
    lo, hi = 0, len(spans) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if spans[mid][1] <= pos:
            lo = mid + 1
        else:
            hi = mid
    return max(lo, 0)
