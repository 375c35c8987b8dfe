"""Near-duplicate texts: the one definition that trace's groups and the post page's related posts share.

In: texts.  Out: their character 3-shingles (folded as search folds them — Simplified, no accents, lower case —
then only letters and digits, the first 4,000 characters), the exact Jaccard similarity of two shingle sets,
and the pairs of a collection at or above NEAR_DUPLICATE.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet

from routewatch.core.text import fold

K = 3  # characters per shingle: one Chinese word of two or three characters, or a piece of a Latin word
HEAD = 4000  # characters compared: a post's head is enough to tell a copy, and the cost stays bounded
# Why 0.5 (measured on the 91 dev texts of gold_dev*.jsonl, exact Jaccard of these shingles): 4,074 pairs of
# different posts reach at most 0.19; copies of one post reach at least 0.80 written vs spoken, 0.77 with
# hashtags appended, 0.60 behind a forward header, 0.52 with a sentence added (5 of 91 under 0.6). 0.5 keeps
# every such copy and stays far above what unrelated posts share.
NEAR_DUPLICATE = 0.5


def shingles(text: str, k: int = K) -> frozenset[str]:
    """The character k-grams of the text's first HEAD characters, folded, punctuation and spaces left out."""
    t = "".join(ch for ch in fold(text[:HEAD]) if ch.isalnum())
    return frozenset(t[i:i + k] for i in range(max(0, len(t) - k + 1)))


def jaccard(a: AbstractSet[str], b: AbstractSet[str]) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when either is empty (an empty text is like nothing)."""
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def near_duplicate_pairs(sets: Mapping[str, AbstractSet[str]],
                         threshold: float = NEAR_DUPLICATE) -> Iterator[tuple[str, str, float]]:
    """(a, b, similarity) for every pair of keys whose shingle sets reach `threshold`. Pairs whose sizes alone
    rule it out (Jaccard ≤ smaller / larger) are never compared."""
    order = sorted((k for k in sets if sets[k]), key=lambda k: (len(sets[k]), k))
    for i, a in enumerate(order):
        sa = sets[a]
        for b in order[i + 1:]:
            if len(sa) < threshold * len(sets[b]):
                break  # every later set is at least as large
            j = jaccard(sa, sets[b])
            if j >= threshold:
                yield a, b, j
