"""Acceptance (issue): Mandarin CER ≤ 0.15 on audio_dev with the default offline base model."""

import pytest

from transcribe import TranscribeSettings
from transcribe.evaluate import evaluate


@pytest.mark.slow
def test_mandarin_cer_on_audio_dev(shared_data):
    result = evaluate(TranscribeSettings(), shared_data, only="zh")
    zh = result["summary"]["zh"]
    assert zh["clips"] == 18
    assert zh["language_correct"] == 18
    assert zh["rate"] <= 0.15, result["rows"]
