"""faster_whisper.v1: Whisper on CTranslate2 (default backend; int8 on CPU).

In: 16 kHz mono PCM from `Transcriber.transcribe`; settings choose model, beam, VAD, languages, prompt.
Out: a `Recognition` (restricted-language choice, timed raw segments, log-prob and no-speech prob).
Never loads a model.bin that was not verified (the base model) and never downloads unless allowed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from routewatch.errors import Code, NotConfigured, RouteWatchError
from transcribe.base import RawSegment, Recognition, Transcriber, choose_language, register
from transcribe.model import ResolvedModel, default_cache_dir, resolve_model, sha256_file
from transcribe.prompt import build_prompt
from transcribe.settings import TranscribeSettings
from transcribe.vad import SpeechMap, speech_spans

_SAMPLE_RATE = 16000


@register("faster_whisper.v1")
class FasterWhisperTranscriber(Transcriber):
    libraries = ("faster-whisper", "ctranslate2", "av", "onnxruntime", "opencc", "numpy")

    def __init__(self, settings: TranscribeSettings):
        super().__init__(settings)
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.utils import download_model
        except ImportError as exc:  # pragma: no cover - core dependency
            raise NotConfigured(f"faster-whisper is not installed ({exc})", Code.E301) from None
        cache = Path(settings.model_cache_dir).expanduser() if settings.model_cache_dir else None
        cache = cache or default_cache_dir()
        resolved = resolve_model(settings.model, cache, settings.allow_download)
        if not resolved.sha256:  # a hub name: fetch (or find cached) first, so the file can be hashed
            try:
                path = download_model(resolved.load_path, cache_dir=str(cache / "hub"),
                                      local_files_only=not settings.allow_download)
            except Exception as exc:
                raise NotConfigured(
                    f"model {settings.model!r} is not available offline and no hub could be reached "
                    f"({type(exc).__name__}); use model 'base' or a local CT2 directory",
                    Code.E301,
                ) from None
            resolved = ResolvedModel(path, settings.model, sha256_file(Path(path) / "model.bin"))
        try:
            self._model = WhisperModel(resolved.load_path, device=settings.device,
                                       compute_type=settings.compute_type, cpu_threads=settings.threads,
                                       num_workers=1, local_files_only=True)
        except Exception as exc:
            raise NotConfigured(f"cannot load model {resolved.label}: {type(exc).__name__}: {exc}"[:300],
                                Code.E301) from None
        self.model_label = resolved.label
        self.model_sha256 = resolved.sha256
        self._prompts: dict[str, str] = {}

    # -- helpers ----------------------------------------------------------------------------------

    def _vad_options(self):
        from faster_whisper.vad import VadOptions

        return VadOptions(**self.settings.vad_params.model_dump())

    def _speech(self, pcm: np.ndarray) -> np.ndarray:
        """The speech parts of the audio, concatenated (all of it when VAD is off)."""
        if not self.settings.vad:
            return pcm
        return SpeechMap.build(pcm, speech_spans(pcm, self.settings.vad_params)).audio

    def _language(self, speech: np.ndarray) -> tuple[str, float | None]:
        s = self.settings
        if len(s.languages) == 1 or not self._model.model.is_multilingual:
            return (s.languages[0] if self._model.model.is_multilingual else "en"), None
        _, _, all_probs = self._model.detect_language(audio=speech, language_detection_segments=1)
        return choose_language(dict(all_probs), s.languages, s.fallback_language, s.language_min_probability)

    def _prompt(self, language: str) -> str:
        if not self.settings.prompt:
            return ""
        if language not in self._prompts:
            built = build_prompt(language, self.settings.prompt_terms_file)
            self._prompts[language] = self._fit_prompt(built)
        return self._prompts[language]

    def _fit_prompt(self, prompt: str) -> str:
        """Keep the prompt inside Whisper's window (half the text context, less the markers)."""
        if not prompt:
            return prompt
        tokenizer = self._model.hf_tokenizer
        limit = self._model.max_length // 2 - 2
        while prompt and len(tokenizer.encode(" " + prompt, add_special_tokens=False).ids) > limit:
            prompt = prompt[: int(len(prompt) * 0.9)]
        return prompt

    # -- the work ---------------------------------------------------------------------------------

    def _recognise(self, pcm: np.ndarray) -> Recognition:
        s = self.settings
        speech = self._speech(pcm)
        if len(speech) < _SAMPLE_RATE // 10:  # under 0.1 s of speech: music or silence only
            return Recognition(language="", segments=[], params={"speech_seconds": "0"})
        language, probability = self._language(speech)
        prompt = self._prompt(language)
        segments, info = self._model.transcribe(
            pcm,
            language=language,
            task="transcribe",
            beam_size=s.beam_size,
            best_of=s.best_of,
            patience=s.patience,
            temperature=list(s.temperatures),
            compression_ratio_threshold=s.compression_ratio_threshold,
            log_prob_threshold=s.log_prob_threshold,
            no_speech_threshold=s.no_speech_threshold,
            condition_on_previous_text=s.condition_on_previous_text,
            initial_prompt=(prompt or None) if s.prompt_mode == "initial_prompt" else None,
            hotwords=(prompt or None) if s.prompt_mode == "hotwords" else None,
            vad_filter=s.vad,
            vad_parameters=self._vad_options() if s.vad else None,
            without_timestamps=False,
        )
        raw = [RawSegment(start=float(seg.start), end=float(seg.end), text=seg.text,
                          avg_logprob=float(seg.avg_logprob), no_speech_prob=float(seg.no_speech_prob))
               for seg in segments]
        if info.language != language:  # pragma: no cover - faster-whisper honours a forced language
            raise RouteWatchError(Code.E302, f"backend switched language {language} → {info.language}")
        return Recognition(language=language, segments=raw, language_probability=probability, prompt=prompt,
                           params={"speech_seconds": f"{len(speech) / _SAMPLE_RATE:.2f}"})
