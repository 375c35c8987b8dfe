"""Voice activity detection shared by backends: Silero VAD (shipped with faster-whisper, run on ONNX).

In: 16 kHz mono PCM and `VadSettings`.  Out: speech spans in samples, the speech-only audio, and a
map from times in that audio back to times in the original. Never alters the samples it keeps.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from transcribe.settings import VadSettings

SAMPLE_RATE = 16000


def speech_spans(pcm: np.ndarray, params: VadSettings) -> list[tuple[int, int]]:
    """(start, end) sample indices of speech, in order."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(pcm, VadOptions(**params.model_dump()), sampling_rate=SAMPLE_RATE)
    return [(int(c["start"]), int(c["end"])) for c in chunks]


@dataclass(frozen=True, slots=True)
class SpeechMap:
    """Speech-only audio plus what is needed to put its times back on the original timeline."""

    audio: np.ndarray
    spans: tuple[tuple[int, int], ...]
    offsets: tuple[int, ...]  # start of each span inside `audio`

    @classmethod
    def build(cls, pcm: np.ndarray, spans: list[tuple[int, int]]) -> SpeechMap:
        offsets, pos = [], 0
        for start, end in spans:
            offsets.append(pos)
            pos += end - start
        audio = np.concatenate([pcm[s:e] for s, e in spans]) if spans else pcm[:0]
        return cls(audio=audio, spans=tuple(spans), offsets=tuple(offsets))

    @classmethod
    def identity(cls, pcm: np.ndarray) -> SpeechMap:
        return cls(audio=pcm, spans=((0, len(pcm)),), offsets=(0,))

    def original_time(self, seconds: float, is_end: bool = False) -> float:
        """A time in the speech-only audio → the same instant in the original audio.

        A time exactly on the joint of two spans is the start of the later one, or with `is_end`
        (a segment's end) the end of the earlier one, so a segment never stretches over the gap.
        """
        if not self.spans:
            return seconds
        sample = int(round(seconds * SAMPLE_RATE))
        i = max(0, bisect_right(self.offsets, sample) - 1)
        if is_end and i > 0 and sample == self.offsets[i]:
            i -= 1
        start, end = self.spans[i]
        return min(start + (sample - self.offsets[i]), end) / SAMPLE_RATE
