"""openai_whisper.v1: the reference PyTorch Whisper (optional extra `routewatch[openai-whisper]`).

In: 16 kHz mono PCM from `Transcriber.transcribe`; settings choose model, beam, VAD, languages, prompt.
Out: a `Recognition` with timed raw segments on the original timeline (VAD runs before the model).
Never half-works: without torch/whisper or a checkpoint it raises NotConfigured(E301) when built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from routewatch.core.errors import Code, NotConfigured
from routewatch.core.records import Segment
from transcribe.backends.ct2_checkpoint import ensure_openai_checkpoint
from transcribe.base import Recognition, Transcriber, choose_language, register
from transcribe.model import (
    BASE_MODEL_DIRNAME,
    BASE_MODEL_LABEL,
    BASE_MODEL_SHA256,
    default_cache_dir,
    ensure_base_model,
    sha256_file,
)
from transcribe.prompt import build_prompt
from transcribe.settings import TranscribeSettings
from transcribe.vad import SAMPLE_RATE, SpeechMap, speech_spans

_EXTRA_HINT = "install the optional extra: pip install 'routewatch[openai-whisper]'"


@register("openai_whisper.v1")
class OpenAIWhisperTranscriber(Transcriber):
    libraries = ("openai-whisper", "torch", "onnxruntime", "opencc", "numpy")

    def __init__(self, settings: TranscribeSettings):
        super().__init__(settings)
        try:
            import torch
            import whisper
        except ImportError as exc:
            raise NotConfigured(f"openai_whisper.v1 needs torch and openai-whisper ({exc}); {_EXTRA_HINT}",
                                Code.E301) from None
        self._whisper = whisper
        cache = Path(settings.model_cache_dir).expanduser() if settings.model_cache_dir else default_cache_dir()
        root = cache / "openai-whisper"
        name = settings.model or "base"
        path = Path(name).expanduser()
        if name == "base":  # the verified offline CT2 model, converted once to a PyTorch checkpoint
            ct2_dir = ensure_base_model(cache)
            load = str(ensure_openai_checkpoint(ct2_dir, BASE_MODEL_SHA256, root, BASE_MODEL_DIRNAME))
            label, digest = f"{BASE_MODEL_LABEL} via openai-whisper", BASE_MODEL_SHA256
        elif path.is_file():  # a local .pt checkpoint
            load, label, digest = str(path), path.stem, sha256_file(path)
        elif name in whisper.available_models():
            url = whisper._MODELS[name]  # noqa: SLF001 - the checksum lives only in this table
            target = root / Path(url).name
            if not target.is_file() and not settings.allow_download:
                raise NotConfigured(f"openai-whisper model {name!r} is not in {root} and downloads are off",
                                    Code.E301)
            load, label, digest = name, f"openai-whisper-{name}", url.split("/")[-2]
        else:
            raise NotConfigured(f"openai_whisper.v1: {name!r} is neither 'base', a .pt checkpoint nor one of "
                                f"{', '.join(whisper.available_models())}", Code.E301)
        try:
            torch.set_num_threads(settings.threads)
            self._model = whisper.load_model(load, device=settings.device, download_root=str(root))
        except Exception as exc:
            raise NotConfigured(f"cannot load openai-whisper model {label}: {type(exc).__name__}: {exc}"[:300],
                                Code.E301) from None
        self.model_label = label
        self.model_sha256 = digest
        self._prompts: dict[str, str] = {}

    def _language(self, speech: np.ndarray) -> tuple[str, float | None]:
        s = self.settings
        if not self._model.is_multilingual:
            return "en", None
        if len(s.languages) == 1:
            return s.languages[0], None
        w = self._whisper
        mel = w.log_mel_spectrogram(w.pad_or_trim(speech), n_mels=self._model.dims.n_mels)
        _, probs = self._model.detect_language(mel.to(self._model.device))
        return choose_language(probs, s.languages, s.fallback_language, s.language_min_probability)

    def _prompt(self, language: str) -> str:
        if not self.settings.prompt:
            return ""
        if language not in self._prompts:
            self._prompts[language] = build_prompt(language, self.settings.prompt_terms_file)
        return self._prompts[language]

    def _recognise(self, pcm: np.ndarray) -> Recognition:
        s = self.settings
        speech = SpeechMap.build(pcm, speech_spans(pcm, s.vad_params)) if s.vad else SpeechMap.identity(pcm)
        if len(speech.audio) < SAMPLE_RATE // 10:
            return Recognition(language="", segments=[], params={"speech_seconds": "0"})
        language, probability = self._language(speech.audio)
        prompt = self._prompt(language)
        result = self._model.transcribe(
            speech.audio,
            language=language,
            task="transcribe",
            beam_size=s.beam_size,
            best_of=s.best_of,
            patience=s.patience,
            temperature=tuple(s.temperatures),
            compression_ratio_threshold=s.compression_ratio_threshold,
            logprob_threshold=s.log_prob_threshold,
            no_speech_threshold=s.no_speech_threshold,
            condition_on_previous_text=s.condition_on_previous_text,
            initial_prompt=prompt or None,
            # "hotwords" semantics: the prompt primes every 30 s window, as in faster_whisper.v1
            carry_initial_prompt=bool(prompt) and s.prompt_mode == "hotwords",
            fp16=False,
            verbose=None,
        )
        raw = [
            Segment(
                start=speech.original_time(float(seg["start"])),
                end=speech.original_time(float(seg["end"]), is_end=True),
                text=str(seg["text"]),
                avg_logprob=float(seg.get("avg_logprob", 0.0)),
                no_speech_prob=float(seg.get("no_speech_prob", 0.0)),
            )
            for seg in result.get("segments", [])
        ]
        return Recognition(language=language, segments=raw, language_probability=probability, prompt=prompt,
                           params={"speech_seconds": f"{len(speech.audio) / SAMPLE_RATE:.2f}"})
