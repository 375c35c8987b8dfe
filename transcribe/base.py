"""The transcription stage's door: `Transcriber.transcribe(audio) -> Transcript`, and `register` for backends.

In: `DecodedAudio` (or a media path, decoded here with the E2xx checks) and `TranscribeSettings`.
Out: a `routewatch.core.records.Transcript` with timed segments, normalised and raw text and provenance.
Backends implement `_recognise` only; they never decode files or build records themselves.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np

from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.records import Provenance, Segment, TextUnit, Transcript
from routewatch.core.registry import transcribers
from transcribe.audio import SAMPLE_RATE, DecodedAudio, decode_audio
from transcribe.normalise import normalise_text
from transcribe.settings import TranscribeSettings


@dataclass(frozen=True, slots=True)
class Recognition:
    """What a backend returns for one audio: language, raw segments and the knobs it used."""

    language: str
    segments: list[Segment]  # as the backend produced them, before normalisation
    language_probability: float | None = None
    prompt: str = ""
    params: dict[str, str] = field(default_factory=dict)  # "source": "subtitles" = keep the captions
    wall_s: float | None = None  # this clip's share of a batch's model time (None: timed by the caller)


def choose_language(
    probs: Mapping[str, float], allowed: tuple[str, ...], fallback: str, min_probability: float
) -> tuple[str, float]:
    """Best language among `allowed`, renormalised over them; `fallback` when none is likely.

    Whisper's detector often confuses Mandarin with Cantonese/Japanese and Spanish with Portuguese or
    Galician on short clips; restricting the choice to the configured languages removes those errors.
    """
    scores = {lang: float(probs.get(lang, 0.0)) for lang in allowed}
    total = sum(scores.values())
    if total <= 0.0:
        return fallback, 0.0
    best = max(scores, key=lambda lang: scores[lang])
    share = scores[best] / total
    if share < min_probability:
        return fallback, share
    return best, share


def library_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _resample(pcm: np.ndarray, rate: int) -> np.ndarray:
    n = int(round(len(pcm) * SAMPLE_RATE / rate))
    return np.interp(np.linspace(0, len(pcm) - 1, n), np.arange(len(pcm)), pcm).astype(np.float32)


class Transcriber(ABC):
    """One ASR backend with its model loaded once; `transcribe` is the only public verb."""

    name: ClassVar[str] = ""
    libraries: ClassVar[tuple[str, ...]] = ()  # distributions whose versions go into provenance

    def __init__(self, settings: TranscribeSettings):
        self.settings = settings
        self.model_label = ""
        self.model_sha256 = ""

    def transcribe(self, audio: DecodedAudio | Path | str) -> Transcript:
        """Transcribe decoded audio or a media file (decoded with the E2xx checks first)."""
        s = self.settings
        if not isinstance(audio, DecodedAudio):
            audio = decode_audio(Path(audio), s.max_audio_seconds, SAMPLE_RATE,
                                 probe_timeout=s.probe_timeout_s, decode_timeout=s.decode_timeout_s)
        pcm = self._pcm(audio)
        started = time.perf_counter()
        try:
            result = self._recognise(pcm)
        except RouteWatchError:
            raise
        except Exception as exc:  # any backend failure is one failed item, not a crashed run
            raise RouteWatchError(Code.E302, f"{type(exc).__name__}: {exc}"[:300]) from exc
        wall = time.perf_counter() - started
        return self._record(audio, result, wall)

    def transcribe_many(self, audios: Sequence[DecodedAudio],
                        captions: Sequence[Captions | None] | None = None) -> list[Transcript | RouteWatchError]:
        """Transcribe several decoded clips; one result per clip, in order: its Transcript or its error.

        Same transcripts as `transcribe` on each clip (only the timing fields of the provenance differ);
        a backend that can decode clips together overrides `_recognise_many`, the others run one by one.
        One clip's failure is that clip's result, never the others'.
        `captions` (per clip, or None): the post's platform subtitles. A backend that can check the spoken
        language cheaply (`_recognise_many(..., expect=…)`) keeps them as the transcript when the clip is
        spoken in their language and skips decoding; provenance tool `transcribe/subtitles` says so.
        """
        out: list[Transcript | RouteWatchError | None] = [None] * len(audios)
        todo: list[int] = []
        pcms: list[np.ndarray] = []
        expect: list[str | None] = []
        for i, audio in enumerate(audios):
            try:
                pcms.append(self._pcm(audio))
                todo.append(i)
                cap = captions[i] if captions else None
                expect.append(cap.language if cap is not None and cap.segments else None)
            except RouteWatchError as exc:
                out[i] = exc
        started = time.perf_counter()
        try:
            if any(expect) and self.checks_language:
                results = self._recognise_many(pcms, expect=expect)
            else:
                results = self._recognise_many(pcms) if pcms else []
        except Exception as exc:  # the batch step itself broke: every clip of it failed the same way
            err = exc if isinstance(exc, RouteWatchError) else RouteWatchError(
                Code.E302, f"{type(exc).__name__}: {exc}"[:300])
            results = [err] * len(pcms)
        wall = time.perf_counter() - started
        total = sum(len(p) for p in pcms) or 1
        for j, (i, result) in enumerate(zip(todo, results, strict=True)):
            if isinstance(result, Recognition):
                share = result.wall_s if result.wall_s is not None else wall * len(pcms[j]) / total
                if result.params.get("source") == "subtitles" and captions and captions[i] is not None:
                    out[i] = self._record(audios[i], _from_captions(result, captions[i]), share,
                                          tool=SUBTITLES_TOOL)
                else:
                    out[i] = self._record(audios[i], result, share)
            elif isinstance(result, RouteWatchError):
                out[i] = result
            else:
                out[i] = RouteWatchError(Code.E302, f"{type(result).__name__}: {result}"[:300])
        return [r for r in out if r is not None]

    def _pcm(self, audio: DecodedAudio) -> np.ndarray:
        """16 kHz float32 PCM of a decoded clip; E201 when it is longer than allowed."""
        s = self.settings
        if audio.seconds > s.max_audio_seconds:
            raise RouteWatchError(Code.E201, f"media longer than max_audio_seconds "
                                             f"({audio.seconds:.0f} s > {s.max_audio_seconds:.0f} s)")
        pcm = audio.pcm if audio.sample_rate == SAMPLE_RATE else _resample(audio.pcm, audio.sample_rate)
        return np.ascontiguousarray(pcm, dtype=np.float32)

    checks_language: ClassVar[bool] = False  # _recognise_many takes expect= (captions-first)

    @abstractmethod
    def _recognise(self, pcm: np.ndarray) -> Recognition:
        """Run the model on 16 kHz mono float32 PCM."""

    def _recognise_many(self, pcms: Sequence[np.ndarray],
                        expect: Sequence[str | None] | None = None) -> list[Recognition | Exception]:
        """Run the model on several clips; per clip its Recognition or the exception it raised."""
        out: list[Recognition | Exception] = []
        for pcm in pcms:
            started = time.perf_counter()
            try:
                result = self._recognise(pcm)
            except Exception as exc:  # noqa: BLE001 - one clip's failure is that clip's result
                out.append(exc)
                continue
            out.append(replace(result, wall_s=time.perf_counter() - started))
        return out

    def _record(self, audio: DecodedAudio, result: Recognition, wall: float, tool: str = "") -> Transcript:
        s = self.settings
        segments: list[Segment] = []
        raw: list[str] = []
        for seg in result.segments:
            text = normalise_text(seg.text, result.language, s.normalise_zh)
            if not text:
                continue
            raw.append(seg.text.strip())
            start = min(max(0.0, seg.start), audio.seconds)
            end = min(max(start, seg.end), audio.seconds)
            segments.append(Segment(start=round(start, 3), end=round(end, 3), text=text,
                                    avg_logprob=_round(seg.avg_logprob),
                                    no_speech_prob=_round(seg.no_speech_prob)))
        params = {
            "backend": self.name,
            "model_sha256": self.model_sha256,
            "compute_type": s.compute_type,
            "device": s.device,
            "threads": str(s.threads),
            "workers": str(s.workers),
            "beam_size": str(s.beam_size),
            "best_of": str(s.best_of),
            "patience": f"{s.patience:g}",
            "log_prob_threshold": f"{s.log_prob_threshold:g}",
            "no_speech_threshold": f"{s.no_speech_threshold:g}",
            "compression_ratio_threshold": f"{s.compression_ratio_threshold:g}",
            "temperatures": ",".join(f"{t:g}" for t in s.temperatures),
            "condition_on_previous_text": str(s.condition_on_previous_text).lower(),
            "languages": ",".join(s.languages),
            "language_probability": "" if result.language_probability is None
            else f"{result.language_probability:.3f}",
            "prompt": result.prompt,
            "prompt_mode": s.prompt_mode if result.prompt else "",
            "vad": json.dumps(s.vad_params.model_dump() if s.vad else None, sort_keys=True),
            "normalise_zh": str(s.normalise_zh).lower(),
            "wall_time_s": f"{wall:.3f}",
            "rtf": f"{wall / audio.seconds:.4f}" if audio.seconds else "",
            "libraries": json.dumps({lib: library_version(lib) for lib in self.libraries}, sort_keys=True),
            "source": "asr",
            **result.params,
        }
        provenance = Provenance(
            tool=tool or f"transcribe/{self.name}",
            version=library_version(self.libraries[0]) if self.libraries else "",  # the backend library
            model=self.model_label,
            params=tuple(sorted(params.items())),
            at=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        )
        seg_tuple = tuple(segments)
        return Transcript(
            audio_sha256=audio.pcm_sha256,
            language=result.language,
            text=TextUnit.join_segments(seg_tuple),
            segments=seg_tuple,
            # a transcript made of subtitles is stored under its own key, beside the model's own of that audio
            model=(SUBTITLES_MODEL_PREFIX if tool == SUBTITLES_TOOL else "") + self.model_label,
            seconds=round(audio.seconds, 3),
            provenance=provenance,
            raw_text=TextUnit.SEGMENT_JOIN.join(raw),
        )


SUBTITLES_TOOL = "transcribe/subtitles"  # provenance tool of a transcript kept from a post's subtitles
SUBTITLES_MODEL_PREFIX = "subtitles/"  # and its model key: this + the checking model's label


@dataclass(frozen=True, slots=True)
class Captions:
    """A post's platform subtitles as offered to the transcriber: declared language and timed cues."""

    language: str
    segments: tuple[Segment, ...]

    @classmethod
    def of(cls, language: str, segments: Sequence[Segment]) -> Captions:
        return cls(language.split("-")[0].split("_")[0].strip().lower(), tuple(segments))


def _from_captions(result: Recognition, captions: Captions) -> Recognition:
    """The subtitles' cues as the clip's segments (the model only confirmed the spoken language)."""
    segs = [Segment(start=s.start, end=s.end, text=s.text) for s in captions.segments if s.text.strip()]
    return replace(result, segments=segs, prompt="")


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def register(name: str) -> Callable[[type[Transcriber]], type[Transcriber]]:
    """Class decorator: make a backend buildable by its versioned name (CONVENTIONS §3) in the one registry,
    `routewatch.core.registry.transcribers`; `transcribe.build` imports the backends and builds one."""

    def wrap(cls: type[Transcriber]) -> type[Transcriber]:
        cls.name = name
        transcribers.register(name, func=cls)
        return cls

    return wrap
