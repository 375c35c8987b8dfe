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
    assert s.captions_first is True
    assert s.tune_allocator is True
    assert s.device == "cpu"


def test_both_backends_are_registered_by_versioned_name():
    assert {"faster_whisper.v1", "openai_whisper.v1"} <= set(available_backends())


def test_bad_values_are_rejected():
    import pydantic
    import pytest

    for bad in ({"languages": ()}, {"beam_size": 0}, {"workers": 0}, {"batch_size": 0}, {"max_audio_seconds": 0}, {"no_such_knob": 1}):
        with pytest.raises(pydantic.ValidationError):
            TranscribeSettings(**bad)


def test_gpu_settings_are_validated():
    import pydantic
    import pytest

    gpu = TranscribeSettings(device="cuda", compute_type="float16")
    assert (gpu.device, gpu.compute_type) == ("cuda", "float16")
    assert TranscribeSettings(device="cuda", compute_type="int8_float16").compute_type == "int8_float16"
    for bad in ({"device": "gpu"}, {"compute_type": "fp16"}, {"compute_type": "float16"},
                {"device": "cpu", "compute_type": "int8_float16"}):
        with pytest.raises(pydantic.ValidationError):
            TranscribeSettings(**bad)


def test_cuda_without_a_gpu_is_e304_when_the_transcriber_is_built():
    import ctranslate2
    import pytest

    from routewatch.core.errors import NotConfigured
    from transcribe import build_transcriber

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(NotConfigured) as err:
        build_transcriber(TranscribeSettings(device="cuda", compute_type="float16"))
    assert err.value.code.value == "E304"
