"""openai_whisper.v1: an optional extra. Without it the backend refuses to build (E301); with it, it runs
offline on the verified base model (converted from CT2) and on any local .pt checkpoint."""

import numpy as np
import pytest

from routewatch.core.errors import NotConfigured
from transcribe import DecodedAudio, TranscribeSettings, build_transcriber

try:
    import torch
    import whisper
except ImportError:
    whisper = None


@pytest.mark.skipif(whisper is not None, reason="the openai-whisper extra is installed")
def test_without_the_extra_the_backend_is_not_configured():
    with pytest.raises(NotConfigured) as err:
        build_transcriber(TranscribeSettings(backend="openai_whisper.v1"))
    assert err.value.code.value == "E301"
    assert "openai-whisper" in err.value.reason


@pytest.mark.openai_whisper
@pytest.mark.skipif(whisper is None, reason="needs the openai-whisper extra: pip install 'routewatch[openai-whisper]'")
def test_tiny_random_checkpoint_runs_through_the_backend(tmp_path, audio_dev):
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2, n_audio_layer=1,
                           n_vocab=51865, n_text_ctx=448, n_text_state=64, n_text_head=2, n_text_layer=1)
    torch.manual_seed(0)
    model = Whisper(dims)
    ckpt = tmp_path / "tiny-random.pt"
    torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, ckpt)
    tr = build_transcriber(TranscribeSettings(backend="openai_whisper.v1", model=str(ckpt), beam_size=1,
                                              best_of=1, temperatures=(0.0,)))
    pad = np.zeros(16000 * 2, np.float32)
    from transcribe import decode_audio

    speech = decode_audio(audio_dev / "dev-003.ogg", 600).pcm
    out = tr.transcribe(DecodedAudio.from_pcm(np.concatenate([pad, speech])))
    assert out.language in ("zh", "en", "es")  # restricted, whatever the random weights say
    assert out.provenance.tool == "transcribe/openai_whisper.v1"
    assert out.provenance.params_dict()["model_sha256"]
    for seg in out.segments:
        assert 0.0 <= seg.start <= seg.end <= out.seconds


@pytest.mark.slow
@pytest.mark.openai_whisper
@pytest.mark.skipif(whisper is None, reason="needs the openai-whisper extra: pip install 'routewatch[openai-whisper]'")
def test_verified_base_model_transcribes_mandarin_through_pytorch(audio_dev):
    from transcribe.model import BASE_MODEL_SHA256

    tr = build_transcriber(TranscribeSettings(backend="openai_whisper.v1"))
    out = tr.transcribe(audio_dev / "dev-002.ogg")
    assert out.language == "zh"
    for word in ("走线", "土耳其", "厄瓜多尔"):
        assert word in out.text
    assert out.provenance.params_dict()["model_sha256"] == BASE_MODEL_SHA256
    assert all(0.0 <= s.start <= s.end <= out.seconds for s in out.segments)


def test_ct2_weights_map_onto_every_openai_whisper_parameter():
    pytest.importorskip("whisper")
    from whisper.model import ModelDimensions, Whisper

    from transcribe.backends.ct2_checkpoint import openai_state_dict, read_ct2_variables
    from transcribe.model import ensure_base_model

    dims, state = openai_state_dict(read_ct2_variables(ensure_base_model() / "model.bin"))
    expected = Whisper(ModelDimensions(**dims)).state_dict()
    assert set(state) == set(expected)
    assert all(tuple(state[k].shape) == tuple(expected[k].shape) for k in expected)
