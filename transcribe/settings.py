"""Settings of the transcription stage, declared next to its code (CONVENTIONS §4).

In: values from the project's settings object (TOML / ROUTEWATCH_* env) or keyword arguments.
Out: one validated, frozen `TranscribeSettings`. Never touches the disk or the network.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from routewatch.core.sections import Section

BASE_MODEL = "base"  # the verified offline Whisper base model (SPEC §6)
# CTranslate2's compute types; the half-precision ones run on a GPU only
COMPUTE_TYPES = frozenset({"default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                           "float16", "bfloat16", "float32"})
GPU_ONLY_COMPUTE_TYPES = frozenset({"float16", "bfloat16", "int8_float16", "int8_bfloat16"})


class VadSettings(Section):
    """Silero VAD parameters (faster-whisper's `VadOptions`); music and silence are skipped."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    threshold: float = Field(default=0.5, ge=0, le=1)
    min_speech_duration_ms: int = Field(default=250, ge=0)
    min_silence_duration_ms: int = Field(default=1000, ge=0)
    speech_pad_ms: int = Field(default=400, ge=0)
    max_speech_duration_s: float = Field(default=30.0, gt=0)


class TranscribeSettings(Section):
    """What the transcriber runs with; every field ends up in the transcript's provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, protected_namespaces=())

    backend: str = "faster_whisper.v1"
    # "base" = the verified offline base model; else a local CT2 directory or a model name (needs a hub).
    model: str = BASE_MODEL
    model_cache_dir: str = ""  # "" = $ROUTEWATCH_MODEL_CACHE, else ~/.cache/routewatch/models
    allow_download: bool = True  # a model *name* other than "base" may be fetched when a hub answers
    # "cuda": the GPU path (with compute_type "float16" or "int8_float16"); README "Scaling out"
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    threads: int = Field(default=2, le=256)  # CPU threads in all
    # glibc keeps the model's big buffers instead of mapping them anew per window (transcribe/memory.py):
    # about a fifth less CPU on a CPU device; process-wide.
    tune_allocator: bool = True
    # Clips decoded at the same time, each by its own model worker with threads // workers threads.
    # On a busy 2-core machine two 1-thread workers keep both cores busy with less waiting between
    # threads than one 2-thread worker.
    workers: int = Field(default=2, le=64)
    # Clips decoded together by `Transcriber.transcribe_many` (the beam searches of their first 30-s
    # windows run as one batch; the rest runs clip by clip). 1 = one clip at a time.
    batch_size: int = Field(default=8, le=1024)
    # "first_window": the above (same tokens as one clip at a time). "pipeline": whole clips through
    # faster-whisper's BatchedInferencePipeline (encoder batched too, no temperature fallback); failed
    # the dev-set gate, so off (docs/BENCHMARKS.md).
    batch_mode: Literal["first_window", "pipeline"] = "first_window"
    beam_size: int = Field(default=5, le=100)
    best_of: int = Field(default=5, le=100)
    patience: float = Field(default=1.0, gt=0)
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float = Field(default=2.4, gt=0)
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = Field(default=0.6, ge=0, le=1)
    condition_on_previous_text: bool = False
    languages: tuple[str, ...] = ("zh", "en", "es")
    fallback_language: str = "zh"  # used when detection is not confident among `languages`
    language_min_probability: float = Field(default=0.3, ge=0, le=1)
    # Captions-first: a post whose platform subtitles are in the language spoken in its first seconds
    # (the model's language check on them) keeps the subtitles as its transcript; no decoding.
    captions_first: bool = True
    vad: bool = True
    vad_params: VadSettings = Field(default_factory=VadSettings)
    prompt: bool = True  # domain priming from the corridor pack's asr_prompt.yaml
    # "hotwords": primes every 30 s window; "initial_prompt": only the first window unless
    # condition_on_previous_text carries it on (faster-whisper's behaviour).
    prompt_mode: Literal["hotwords", "initial_prompt"] = "hotwords"
    prompt_terms_file: str = ""  # "" = the default corridor pack's asr_prompt.yaml
    max_audio_seconds: float = 600.0
    normalise_zh: bool = True  # Traditional → Simplified (OpenCC t2s); raw text is kept
    probe_timeout_s: float = Field(default=20.0, gt=0)
    decode_timeout_s: float = Field(default=120.0, gt=0)

    @field_validator("languages")
    @classmethod
    def _languages_nonempty(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("languages must name at least one language")
        return tuple(x.strip().lower() for x in v)

    @field_validator("beam_size", "best_of", "threads", "batch_size", "workers")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be >= 1")
        return v

    @field_validator("compute_type")
    @classmethod
    def _known_compute_type(cls, v: str) -> str:
        if v not in COMPUTE_TYPES:
            raise ValueError(f"compute_type must be one of {', '.join(sorted(COMPUTE_TYPES))}")
        return v

    @model_validator(mode="after")
    def _compute_type_fits_device(self) -> TranscribeSettings:
        if self.device == "cpu" and self.compute_type in GPU_ONLY_COMPUTE_TYPES:
            raise ValueError(f"compute_type {self.compute_type!r} needs device = \"cuda\" (on CPU: int8, "
                             f"int8_float32, int16 or float32)")
        return self

    @field_validator("max_audio_seconds")
    @classmethod
    def _positive_seconds(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be > 0")
        return v
