"""openai_whisper.v1: an optional extra. Without it the backend refuses to build (E301); with it, the
backend runs end to end on a tiny randomly initialised checkpoint made here (no hub needed)."""

import numpy as np
import pytest

from routewatch.errors import NotConfigured
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
