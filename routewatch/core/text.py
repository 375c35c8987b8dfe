"""One text module for every stage: which characters are Chinese, Traditional → Simplified, the search fold.

In: any text.  Out: the same text converted, character for character where the caller needs offsets
(`to_simplified` never changes the length, so evidence spans and snippets found on its output are spans
of the input). Extraction, both index backends, trace and the ASR normaliser all use these.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

# Han ideographs: extension A, the basic block, the compatibility block (what "Chinese" means to extraction)
HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
HAN_RUN = re.compile(f"[{HAN_CLASS}]+")
# Scripts written without spaces, which the index cuts into characters: Han (with the Yijing block between
# extension A and the basic block), kana, hangul
CJK_CLASS = "\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
_CJK_ONE = re.compile(f"[{CJK_CLASS}]")


def is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def has_cjk(s: str) -> bool:
    return _CJK_ONE.search(s) is not None


@cache
def _t2s():  # noqa: ANN202 - opencc has no type hints
    import opencc  # a core dependency; loaded on first use (its dictionaries take ~0.1 s)

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified with the length kept: where a phrase rule would change the length, each
    character is converted on its own instead."""
    if not text or HAN_RUN.search(text) is None:
        return text
    out = _t2s().convert(text)
    if len(out) == len(text):
        return out
    return "".join(_t2s_char(c) for c in text)


@lru_cache(maxsize=8192)
def _t2s_char(ch: str) -> str:
    out = _t2s().convert(ch)
    return out if len(out) == 1 else ch


def fold(s: str) -> str:
    """The comparison form of a text or term: Simplified, NFKC (full-width → ASCII), lower case, accents
    removed. Not length-keeping (NFKC can expand); for offsets use `to_simplified` and fold per character."""
    s = to_simplified(unicodedata.normalize("NFKC", s)).lower()
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))
