from transcribe import TranscribeSettings, available_backends


def test_defaults_are_the_documented_ones():
    s = TranscribeSettings()
    assert s.backend == "faster_whisper.v1"
    assert s.model == "base"
    assert s.compute_type == "int8"
    assert s.threads == 2
    assert s.workers == 2  # two model workers of one thread each
    assert s.batch_size == 8
    assert s.beam_size == 5
    assert s.languages == ("zh", "en", "es")
    assert s.fallback_language == "zh"
    assert s.vad is True
    assert s.vad_params.min_silence_duration_ms == 1000
    assert s.prompt is True
    assert s.max_audio_seconds == 600.0
    assert s.normalise_zh is True


def test_both_backends_are_registered_by_versioned_name():
    assert {"faster_whisper.v1", "openai_whisper.v1"} <= set(available_backends())


def test_bad_values_are_rejected():
    import pydantic
    import pytest

    for bad in ({"languages": ()}, {"beam_size": 0}, {"workers": 0}, {"batch_size": 0}, {"max_audio_seconds": 0}, {"no_such_knob": 1}):
        with pytest.raises(pydantic.ValidationError):
            TranscribeSettings(**bad)
