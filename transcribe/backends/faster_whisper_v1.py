"""faster_whisper.v1: Whisper on CTranslate2 (default backend; int8 on CPU).

In: 16 kHz mono PCM from `Transcriber.transcribe(_many)`; settings choose model, beam, VAD, languages,
prompt, batch size. Out: a `Recognition` per clip (restricted-language choice, timed raw segments,
log-prob and no-speech prob). Per clip: Silero VAD once, mel features once, the encoder once for the
first 30-s window (language choice and decoding share it); across clips the temperature-0 beam
searches of those first windows run as one batch. The rest (later windows, temperature fallback) is
faster-whisper's own loop, so a clip decodes to the same tokens alone or in a batch.
Uses faster-whisper internals (`generate_segments`, `TranscriptionOptions`): pinned in requirements.lock.
Never loads a model.bin that was not verified (the base model) and never downloads unless allowed.
"""

from __future__ import annotations

import functools
import inspect
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routewatch.core.errors import Code, NotConfigured
from routewatch.core.records import Segment
from transcribe.base import Recognition, Transcriber, choose_language, register
from transcribe.memory import tune_allocator
from transcribe.model import ResolvedModel, default_cache_dir, resolve_model, sha256_file
from transcribe.prompt import build_prompt
from transcribe.settings import TranscribeSettings
from transcribe.vad import SpeechMap, speech_spans

_SAMPLE_RATE = 16000
_CHECK_SECONDS = 10.0  # speech the spoken-language check of captions-first listens to


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
        if settings.device == "cuda":
            import ctranslate2

            if ctranslate2.get_cuda_device_count() == 0:
                raise NotConfigured('device = "cuda" but CTranslate2 sees no CUDA device (driver, CUDA 12 and '
                                    'cuDNN 9 libraries needed); use device = "cpu"', Code.E304)
        if settings.tune_allocator and settings.device == "cpu":
            tune_allocator()
        try:
            self._model = _primable(WhisperModel)(
                resolved.load_path, device=settings.device, compute_type=settings.compute_type,
                cpu_threads=max(1, settings.threads // settings.workers), num_workers=settings.workers,
                local_files_only=True)
        except Exception as exc:
            raise NotConfigured(f"cannot load model {resolved.label}: {type(exc).__name__}: {exc}"[:300],
                                Code.E301) from None
        self.model_label = resolved.label
        self.model_sha256 = resolved.sha256
        self._prompts: dict[str, str] = {}
        self._decodings: dict[str, _Decoding] = {}
        self._lock = threading.Lock()

    # -- helpers ----------------------------------------------------------------------------------

    def _speech(self, pcm: np.ndarray) -> SpeechMap:
        """The speech parts of the audio, concatenated, with their times (all of it when VAD is off)."""
        if not self.settings.vad:
            return SpeechMap.identity(pcm)
        return SpeechMap.build(pcm, speech_spans(pcm, self.settings.vad_params))

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

    def _decoding(self, language: str) -> _Decoding:
        """Tokenizer, options and first-window prompt for one language (built once, then reused)."""
        with self._lock:
            return self._decoding_locked(language)

    def _decoding_locked(self, language: str) -> _Decoding:
        if language not in self._decodings:
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

            s, m = self.settings, self._model
            tokenizer = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language=language)
            prompt = self._prompt(language)
            hotwords = (prompt or None) if s.prompt_mode == "hotwords" else None
            initial = (prompt or None) if s.prompt_mode == "initial_prompt" else None
            d = _transcribe_defaults()
            options = dict(
                beam_size=s.beam_size, best_of=s.best_of, patience=s.patience,
                length_penalty=d["length_penalty"], repetition_penalty=d["repetition_penalty"],
                no_repeat_ngram_size=d["no_repeat_ngram_size"], log_prob_threshold=s.log_prob_threshold,
                no_speech_threshold=s.no_speech_threshold,
                compression_ratio_threshold=s.compression_ratio_threshold,
                condition_on_previous_text=s.condition_on_previous_text,
                prompt_reset_on_temperature=d["prompt_reset_on_temperature"],
                temperatures=list(s.temperatures), initial_prompt=initial, prefix=None,
                suppress_blank=d["suppress_blank"],
                suppress_tokens=get_suppressed_tokens(tokenizer, list(d["suppress_tokens"])),
                without_timestamps=False, max_initial_timestamp=d["max_initial_timestamp"],
                word_timestamps=False, prepend_punctuations=d["prepend_punctuations"],
                append_punctuations=d["append_punctuations"], multilingual=False, max_new_tokens=None,
                clip_timestamps="0", hallucination_silence_threshold=None, hotwords=hotwords,
            )
            # what generate_segments builds for the window at seek 0 (no previous text yet, unless an
            # initial prompt stands for it)
            previous = tokenizer.encode(" " + initial.strip()) if initial else []
            first = m.get_prompt(tokenizer, previous, without_timestamps=False, prefix=None, hotwords=hotwords)
            self._decodings[language] = _Decoding(language, prompt, tokenizer, options,
                                                   TranscriptionOptions, first)
        return self._decodings[language]

    # -- the work ---------------------------------------------------------------------------------

    def _recognise(self, pcm: np.ndarray) -> Recognition:
        result = self._recognise_many([pcm])[0]
        if isinstance(result, Exception):
            raise result
        return result

    checks_language = True

    def _recognise_many(self, pcms, expect=None) -> list[Recognition | Exception]:
        out: list[Recognition | Exception | None] = [None] * len(pcms)
        # one share of the clips per model worker: each worker runs VAD and features on its share, then
        # the model on it in batches of batch_size (so both cores also share the VAD work)
        s = self.settings
        workers, size = min(s.workers, max(1, len(pcms))), s.batch_size
        shares = [list(range(len(pcms)))[w::workers] for w in range(workers)]

        def run(share: list[int]) -> list[tuple[int, Recognition | Exception]]:
            done: list[tuple[int, Recognition | Exception]] = []
            clips: list[_Clip] = []
            for i in share:
                started = time.perf_counter()
                try:
                    speech = self._speech(pcms[i])
                    if len(speech.audio) < _SAMPLE_RATE // 10:  # under 0.1 s of speech: music or silence only
                        done.append((i, Recognition(language="", segments=[], params={"speech_seconds": "0"},
                                                    wall_s=time.perf_counter() - started)))
                        continue
                    spoken = self._spoken_language(speech.audio, expect[i] if expect else None)
                    if spoken is not None:  # subtitles in the spoken language: they are the transcript
                        done.append((i, Recognition(
                            language=spoken[0], segments=[], language_probability=spoken[1],
                            params={"source": "subtitles", "speech_seconds": f"{len(speech.audio) / _SAMPLE_RATE:.2f}",
                                    "language_check_s": f"{_CHECK_SECONDS:g}"},
                            wall_s=time.perf_counter() - started)))
                        continue
                    features = self._model.feature_extractor(speech.audio) if s.batch_mode == "first_window" \
                        else np.zeros((0, 0), np.float32)
                    clips.append(_Clip(i, speech, features, time.perf_counter() - started))
                except Exception as exc:  # noqa: BLE001 - one clip's failure is that clip's result
                    done.append((i, exc))
            if s.batch_mode == "pipeline":
                done += self._run_pipeline(clips)
                return done
            for first in range(0, len(clips), size):
                done += [(clip.index, result) for clip, result in self._run_batch(clips[first:first + size])]
            return done

        if workers == 1:
            finished = [run(shares[0])]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rw-asr") as pool:
                finished = list(pool.map(run, shares))
        for i, result in (done for share in finished for done in share):
            out[i] = result
        return [r if r is not None else RuntimeError("clip was not decoded") for r in out]

    def _spoken_language(self, speech: np.ndarray, expected: str | None) -> tuple[str, float | None] | None:
        """(language, probability) when the first seconds of speech are in `expected`, else None.

        The encoder sees only those seconds (not a padded 30-s window): about a quarter of its cost.
        Whisper decodes worse from such a short window, but picks the language as well (dev set:
        27/27 right); nothing is decoded from it.
        """
        s, m = self.settings, self._model
        if not expected or expected not in s.languages or not m.model.is_multilingual:
            return None
        language, probability = self._short_language(speech)
        return (language, probability) if language == expected and probability >= s.language_min_probability \
            else None

    def _short_language(self, speech: np.ndarray) -> tuple[str, float]:
        """The restricted language choice from the encoder on the first _CHECK_SECONDS of speech only."""
        s, m = self.settings, self._model
        if len(s.languages) == 1 or not m.model.is_multilingual:
            return (s.languages[0] if m.model.is_multilingual else "en"), 1.0
        head = speech[: int(_CHECK_SECONDS * _SAMPLE_RATE)]
        features = m.feature_extractor(head)
        frames = min(features.shape[-1] - 1, m.feature_extractor.nb_max_frames)
        frames += frames % 2  # the encoder's convolution halves the frame count
        window = np.zeros((features.shape[0], frames), dtype=np.float32)
        window[:, :min(frames, features.shape[-1])] = features[:, :frames]
        encoded = m.encode(window)
        probs = m.model.detect_language(encoded)[0]
        return choose_language({tok[2:-2]: p for tok, p in probs}, s.languages, s.fallback_language,
                               s.language_min_probability)

    def _run_pipeline(self, clips: list[_Clip]) -> list[tuple[int, Recognition | Exception]]:
        """batch_mode "pipeline": whole clips through faster-whisper's BatchedInferencePipeline.

        Each clip's language from the short check; the speech of all clips of one language cut into
        30-s pieces, one `clip_timestamps` entry per piece, decoded in batches of batch_size (encoder
        and beam search batched, first temperature only: no fallback); segments go back to their clip
        by the piece they were decoded from. Off by default: see the dev-set figures in docs/BENCHMARKS.md.
        """
        from faster_whisper import BatchedInferencePipeline

        s, m = self.settings, self._model
        piece = 30 * _SAMPLE_RATE
        out: list[tuple[int, Recognition | Exception]] = []
        groups: dict[str, list[tuple[_Clip, float | None, float]]] = {}
        for clip in clips:
            started = time.perf_counter()
            try:
                language, probability = self._short_language(clip.speech.audio)
            except Exception as exc:  # noqa: BLE001 - one clip's failure is that clip's result
                out.append((clip.index, exc))
                continue
            groups.setdefault(language, []).append((clip, probability, time.perf_counter() - started))
        pipe = BatchedInferencePipeline(m)
        for language, members in groups.items():
            started = time.perf_counter()
            dec = self._decoding(language)
            parts, spans = [], []  # spans: (member, start in the clip's speech s, start, end in `audio` s)
            cursor = 0
            for k, (clip, _, _) in enumerate(members):
                for at in range(0, len(clip.speech.audio), piece):
                    chunk = clip.speech.audio[at:at + piece]
                    parts.append(chunk)
                    spans.append((k, at / _SAMPLE_RATE, cursor / _SAMPLE_RATE, (cursor + len(chunk)) / _SAMPLE_RATE))
                    cursor += len(chunk)
            opts = dec.fields
            try:
                segments, _ = pipe.transcribe(
                    np.concatenate(parts), language=language, beam_size=s.beam_size, best_of=s.best_of,
                    patience=s.patience, temperature=list(s.temperatures),
                    compression_ratio_threshold=s.compression_ratio_threshold,
                    log_prob_threshold=s.log_prob_threshold, no_speech_threshold=s.no_speech_threshold,
                    condition_on_previous_text=False, initial_prompt=opts["initial_prompt"],
                    hotwords=opts["hotwords"], without_timestamps=False, vad_filter=False,
                    clip_timestamps=[{"start": a, "end": b} for _, _, a, b in spans], batch_size=s.batch_size)
                raw: list[list[Segment]] = [[] for _ in members]
                for seg in segments:  # its piece: the one whose start is the segment's seek (frames, 10 ms)
                    k, offset, a, _ = min(spans, key=lambda sp: abs(sp[2] - seg.seek / 100.0))
                    speech = members[k][0].speech
                    raw[k].append(Segment(start=speech.original_time(offset + float(seg.start) - a),
                                             end=speech.original_time(offset + float(seg.end) - a, is_end=True),
                                             text=seg.text, avg_logprob=float(seg.avg_logprob),
                                             no_speech_prob=float(seg.no_speech_prob)))
            except Exception as exc:  # noqa: BLE001 - the group's batch failed: each of its clips records it
                out += [(clip.index, exc) for clip, _, _ in members]
                continue
            shared = (time.perf_counter() - started) / len(members)
            for k, (clip, probability, check_s) in enumerate(members):
                out.append((clip.index, Recognition(
                    language=language, segments=raw[k], language_probability=probability, prompt=dec.prompt,
                    params={"speech_seconds": f"{len(clip.speech.audio) / _SAMPLE_RATE:.2f}",
                            "batch": str(len(members)), "batch_mode": "pipeline"},
                    wall_s=clip.prepare_s + check_s + shared)))
        return out

    def _run_batch(self, clips: list[_Clip]):
        """Encode each clip's first window, beam-search those windows together, finish each clip alone."""
        import ctranslate2
        from faster_whisper.transcribe import pad_or_trim

        m, s = self._model, self.settings
        started = time.perf_counter()
        n_frames = m.feature_extractor.nb_max_frames
        # The encoder runs clip by clip (batching it saves nothing on CPU: its matrices are already
        # large); the beam searches of the first windows run together (their small steps gain a lot).
        outputs = [m.encode(pad_or_trim(c.features[:, :min(n_frames, c.features.shape[-1] - 1)])) for c in clips]
        stacked = np.concatenate([np.array(o) for o in outputs]) if len(clips) > 1 else None

        def batch_of(ks: list[int]):
            if stacked is None:
                return outputs[ks[0]]
            return ctranslate2.StorageView.from_array(np.ascontiguousarray(stacked[ks]))

        everything = batch_of(list(range(len(clips))))
        if len(s.languages) == 1 or not m.model.is_multilingual:
            fixed = s.languages[0] if m.model.is_multilingual else "en"
            choices: list[tuple[str, float | None]] = [(fixed, None)] * len(clips)
        else:  # the restricted choice among the configured languages, from the same encoder output
            choices = [choose_language({tok[2:-2]: p for tok, p in probs}, s.languages, s.fallback_language,
                                       s.language_min_probability)
                       for probs in m.model.detect_language(everything)]
        # one batched beam search per language: a batch must share the prompt's length
        primed: dict[int, tuple] = {}
        by_language: dict[str, list[int]] = {}
        for k, (language, _) in enumerate(choices):
            by_language.setdefault(language, []).append(k)
        for language, ks in by_language.items():
            dec = self._decoding(language)
            batch = everything if len(ks) == len(clips) else batch_of(ks)
            for k, first in zip(ks, m.first_window_decodes(batch, dec.first_prompt, dec.tokenizer,
                                                           dec.options()), strict=True):
                if first is not None:
                    primed[k] = first
        shared = (time.perf_counter() - started) / len(clips)
        for k, clip in enumerate(clips):
            own = time.perf_counter()
            language, probability = choices[k]
            dec = self._decoding(language)
            try:
                segments = list(m.decode_primed(clip.features, dec.tokenizer, dec.options(), outputs[k],
                                                dec.first_prompt, primed.get(k)))
                raw = [Segment(start=clip.speech.original_time(float(seg.start)),
                                  end=clip.speech.original_time(float(seg.end), is_end=True),
                                  text=seg.text, avg_logprob=float(seg.avg_logprob),
                                  no_speech_prob=float(seg.no_speech_prob))
                       for seg in segments]
            except Exception as exc:  # noqa: BLE001 - one clip's failure is that clip's result
                yield clip, exc
                continue
            params = {"speech_seconds": f"{len(clip.speech.audio) / _SAMPLE_RATE:.2f}",
                      "batch": str(len(clips))}
            yield clip, Recognition(language=language, segments=raw, language_probability=probability,
                                    prompt=dec.prompt, params=params,
                                    wall_s=clip.prepare_s + shared + time.perf_counter() - own)


@dataclass(frozen=True, slots=True)
class _Clip:
    index: int  # position in the caller's list
    speech: SpeechMap
    features: np.ndarray
    prepare_s: float  # VAD + features


@dataclass(frozen=True, slots=True)
class _Decoding:
    language: str
    prompt: str
    tokenizer: Any
    fields: dict
    options_cls: Any
    first_prompt: list[int]

    def options(self):
        # a fresh object per clip: generate_segments rewrites clip_timestamps in place
        return self.options_cls(**self.fields)


@functools.cache
def _transcribe_defaults() -> dict[str, Any]:
    """faster-whisper's own defaults (`WhisperModel.transcribe`) for the knobs RouteWatch does not set."""
    from faster_whisper import WhisperModel

    return {name: p.default for name, p in inspect.signature(WhisperModel.transcribe).parameters.items()
            if p.default is not inspect.Parameter.empty}


_PRIMABLE: dict[type, type] = {}


def _primable(base: type) -> type:
    """WhisperModel plus a batched first window: `first_window_decodes` runs the temperature-0 beam
    search of faster-whisper's `generate_with_fallback` for many clips at once; `decode_primed` runs its
    `generate_segments` on one clip, handing back that result for the first window when it needed no
    fallback (else faster-whisper decodes the window itself, from temperature 0, as it would alone)."""
    if base in _PRIMABLE:
        return _PRIMABLE[base]

    class PrimableWhisperModel(base):  # type: ignore[misc, valid-type]
        _local = threading.local()  # the primed first window, per worker thread

        def first_window_decodes(self, encoded, prompt: list[int], tokenizer, options) -> list[tuple | None]:
            from faster_whisper.transcribe import get_compression_ratio

            t0 = options.temperatures[0] if options.temperatures else 0.0
            if t0 > 0:  # sampling first: nothing to share, every clip decodes alone
                return [None] * encoded.shape[0]
            results = self.model.generate(
                encoded, [list(prompt) for _ in range(encoded.shape[0])],
                length_penalty=options.length_penalty, repetition_penalty=options.repetition_penalty,
                no_repeat_ngram_size=options.no_repeat_ngram_size, max_length=self.max_length,
                return_scores=True, return_no_speech_prob=True, suppress_blank=options.suppress_blank,
                suppress_tokens=options.suppress_tokens,
                max_initial_timestamp_index=int(round(options.max_initial_timestamp / self.time_precision)),
                beam_size=options.beam_size, patience=options.patience,
            )
            out: list[tuple | None] = []
            for result in results:
                tokens = result.sequences_ids[0]
                avg_logprob = result.scores[0] * (len(tokens) ** options.length_penalty) / (len(tokens) + 1)
                ratio = get_compression_ratio(tokenizer.decode(tokens).strip())
                # the same test as generate_with_fallback after its first temperature
                retry = (options.compression_ratio_threshold is not None
                         and ratio > options.compression_ratio_threshold)
                low = options.log_prob_threshold is not None and avg_logprob < options.log_prob_threshold
                silent = (options.no_speech_threshold is not None
                          and result.no_speech_prob > options.no_speech_threshold and low)
                retry = (retry or low) and not silent
                out.append(None if retry and len(options.temperatures) > 1 else (result, avg_logprob, t0, ratio))
            return out

        def decode_primed(self, features, tokenizer, options, encoder_output, prompt, first):
            self._local.primed = (encoder_output, list(prompt), first) if first is not None else None
            try:
                yield from self.generate_segments(features, tokenizer, options, False, encoder_output)
            finally:
                self._local.primed = None

        def generate_with_fallback(self, encoder_output, prompt, tokenizer, options):
            primed, self._local.primed = getattr(self._local, "primed", None), None
            if primed is not None and primed[0] is encoder_output and primed[1] == prompt:
                return primed[2]
            return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)

    _PRIMABLE[base] = PrimableWhisperModel
    return PrimableWhisperModel
