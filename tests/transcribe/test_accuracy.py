"""The dev-set gate: CER (Mandarin) and WER (English, Spanish) on audio_dev with the default settings.

A change to the transcriber's defaults (batching, windows, allocator, …) may not make any language
worse than the figures of the defaults before it by more than GATE. Baselines: `python -m
transcribe.evaluate` at stop 10 (zh 0.1406, en 0.2842, es 0.3818; language right on 27/27).
"""

import pytest

from transcribe import TranscribeSettings
from transcribe.evaluate import evaluate

BASELINE = {"zh": 0.1406, "en": 0.2842, "es": 0.3818}
CLIPS = {"zh": 18, "en": 5, "es": 4}
GATE = 0.005


@pytest.mark.slow
def test_dev_set_error_rates_stay_within_the_gate(shared_data):
    result = evaluate(TranscribeSettings(), shared_data)
    summary = result["summary"]
    assert {lang: s["clips"] for lang, s in summary.items()} == CLIPS
    assert {lang: s["language_correct"] for lang, s in summary.items()} == CLIPS
    worse = {lang: s["rate"] for lang, s in summary.items() if s["rate"] > BASELINE[lang] + GATE}
    assert not worse, (worse, result["rows"])
    assert summary["zh"]["rate"] <= 0.15  # the issue-1 acceptance: Mandarin CER ≤ 0.15
