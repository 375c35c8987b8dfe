"""Text normalisation of ASR output: Traditional → Simplified Chinese (OpenCC t2s).

In: raw segment text and its language.  Out: the display/search form of the text.
Never changes non-Chinese text and never drops characters (the raw text is kept by the caller).
"""

from __future__ import annotations

from functools import lru_cache

from routewatch.errors import NotConfigured


@lru_cache(maxsize=1)
def _t2s():
    try:
        import opencc
    except ImportError:  # pragma: no cover - opencc is a core dependency
        raise NotConfigured("opencc is not installed (pip install opencc)") from None
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional Chinese characters → Simplified; other characters pass through unchanged."""
    return _t2s().convert(text) if text else text


def normalise_text(text: str, language: str, normalise_zh: bool = True) -> str:
    """What a transcript shows and indexes: stripped, and Simplified for Chinese."""
    text = text.strip()
    if normalise_zh and language.startswith("zh"):
        return to_simplified(text)
    return text
