"""Text normalisation of ASR output: Traditional → Simplified Chinese (OpenCC t2s).

In: raw segment text and its language.  Out: the display/search form of the text.
Never changes non-Chinese text and never drops characters (the raw text is kept by the caller).
"""

from __future__ import annotations

from routewatch.core.text import to_simplified

__all__ = ["normalise_text", "to_simplified"]


def normalise_text(text: str, language: str, normalise_zh: bool = True) -> str:
    """What a transcript shows and indexes: stripped, and Simplified for Chinese."""
    text = text.strip()
    if normalise_zh and language.startswith("zh"):
        return to_simplified(text)
    return text
