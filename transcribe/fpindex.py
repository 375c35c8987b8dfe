"""An inverted index over acoustic fingerprints, so finding a repost does not scan every stored clip.

In: fingerprints (`transcribe.audio.fingerprint`, one 32-bit word per 32 ms frame) with an id and a
duration. Out: `lookup(fp, seconds)` → the ids of stored clips that may be the same audio, in the order
they were added; the caller confirms each with `fingerprint_similarity` (the index only narrows).
Keys are banded: each frame word gives two 16-bit keys (its low and high half, "band" 0 and 1). Two
copies of the same audio share many keys at one frame offset (within the alignment
`fingerprint_similarity` tolerates); unrelated clips share few at any one offset: a stored clip is a
candidate when enough of the query's keys are found at one offset. Postings live in sorted numpy arrays
(runs merged as they grow), so a lookup costs a few binary searches per query frame, not one
comparison per stored clip.
"""

from __future__ import annotations

import numpy as np

from transcribe.audio import _FP_MAX_SHIFT, _decode_fp

_BANDS = 2  # 16-bit halves of a frame word
# A key found in more postings than this (silence, a hum) says nothing about which clip it came from.
_COMMON_KEY = 50_000
# A candidate shares at least this many keys (and this share of the query's keys) at one frame offset.
# Measured on the demo corpus: a re-encode shares 188 of 824 keys (23 %), its byte-identical twin all;
# unrelated clips ≤ 109 (13 %, the leading silence of two clips of the same voice), median 1. At the match
# threshold (similarity 0.5, a bit error rate of 0.25) a copy would share ~1 % of its keys: such borderline
# copies may be missed, clear copies are not.
_MIN_HITS = 8
_MIN_HIT_SHARE = 0.015
_MERGE_AT = 4  # merge the sorted runs when there are more than this many


def frame_keys(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keys, frame positions) of a fingerprint's words: band << 16 | that band's 16 bits."""
    w = words.astype(np.uint32)
    halves = np.concatenate([(w >> np.uint32(16 * b)) & np.uint32(0xFFFF) for b in range(_BANDS)])
    band = np.repeat(np.arange(_BANDS, dtype=np.uint32), len(w))
    pos = np.tile(np.arange(len(w), dtype=np.int32), _BANDS)
    keep = halves != 0  # a zero half is a silent (flat) frame: shared by every clip that has silence
    return (band[keep] << np.uint32(16)) | halves[keep], pos[keep]


class FingerprintIndex:
    """Banded-key index of fingerprints; `add` then `lookup` (candidates), in memory."""

    def __init__(self, max_shift: int = _FP_MAX_SHIFT):
        self.max_shift = max_shift
        self.ids: list[str] = []
        self.seconds: list[float] = []
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (keys sorted, clip no, frame)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending_n = 0

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, item_id: str, fingerprint: str, seconds: float) -> None:
        words = _decode_fp(fingerprint) if fingerprint else np.zeros(0, np.uint32)
        n = len(self.ids)
        self.ids.append(item_id)
        self.seconds.append(float(seconds))
        if len(words) == 0:
            return
        keys, pos = frame_keys(words)
        self._pending.append((keys, np.full(len(keys), n, dtype=np.int32), pos))
        self._pending_n += len(keys)
        if self._pending_n >= 200_000:
            self._seal()

    def _seal(self) -> None:
        """Sort the pending postings into a run; merge runs when there are many."""
        if self._pending:
            keys, clips, pos = (np.concatenate(parts) for parts in zip(*self._pending, strict=True))
            order = np.argsort(keys, kind="stable")
            self._runs.append((keys[order], clips[order], pos[order]))
            self._pending, self._pending_n = [], 0
        if len(self._runs) > _MERGE_AT:
            keys, clips, pos = (np.concatenate(parts) for parts in zip(*self._runs, strict=True))
            order = np.argsort(keys, kind="stable")
            self._runs = [(keys[order], clips[order], pos[order])]

    def lookup(self, fingerprint: str, seconds: float | None = None, min_ratio: float = 0.5) -> list[str]:
        """Ids of stored clips sharing a key with `fingerprint` at a frame offset within the alignment
        window, and (when `seconds` is given) lasting between `min_ratio`× and 1/`min_ratio`× as long;
        in the order they were added."""
        if not fingerprint or not self.ids:
            return []
        words = _decode_fp(fingerprint)
        if len(words) == 0:
            return []
        self._seal()
        qkeys, qpos = frame_keys(words)
        need = max(_MIN_HITS, int(len(qkeys) * _MIN_HIT_SHARE))
        found: set[int] = set()
        for keys, clips, pos in self._runs:
            lo = np.searchsorted(keys, qkeys, side="left")
            hi = np.searchsorted(keys, qkeys, side="right")
            counts = hi - lo
            counts[counts > _COMMON_KEY] = 0
            total = int(counts.sum())
            if total == 0:
                continue
            # every posting of every query key, flattened: posting index = lo[k] + 0..counts[k]-1
            starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
            idx = starts + np.arange(total)
            offset = pos[idx] - np.repeat(qpos, counts) + self.max_shift
            near = (offset >= 0) & (offset <= 2 * self.max_shift)
            # hits per (stored clip, frame offset): a copy piles its hits up at one offset
            pairs, hits = np.unique(clips[idx[near]].astype(np.int64) * (2 * self.max_shift + 1) + offset[near],
                                    return_counts=True)
            strong = pairs[hits >= need] // (2 * self.max_shift + 1)
            found.update(strong.tolist())
        if seconds is not None:
            lo_s, hi_s = seconds * min_ratio - 0.01, seconds / min_ratio + 0.01
            found = {c for c in found if lo_s <= self.seconds[c] <= hi_s}
        return [self.ids[c] for c in sorted(found)]
