"""One registry (`catalogue`, routewatch/core/registry.py) finds every component by its versioned name.

Each stage's loader (`index.build`, `transcribe.build`, `ocr.build`, `nlp.registry`) registers its own
components there; a name nothing registered is E902 naming the registered ones, before any model loads.
"""

from __future__ import annotations

import pytest

import nlp.registry
import ocr.build
import transcribe.build
from ocr.settings import OcrSettings
from routewatch.core import registry
from routewatch.core.errors import NotConfigured
from transcribe.settings import TranscribeSettings


def test_each_kind_lists_its_versioned_names() -> None:
    import index.build
    import index.elastic  # noqa: F401 - index.build registers it only when it is configured

    assert registry.names(registry.indexes) == ["elasticsearch.v1", "sqlite.v1"]
    assert registry.names(registry.transcribers) == ["faster_whisper.v1", "openai_whisper.v1"]
    assert registry.names(registry.ocr_readers) == ["rapidocr.v1"]
    assert registry.names(registry.extractors) == ["rules.v1", "zouxian_rules.v1"]
    assert index.build.build_index.__module__ == "index.build"


def test_the_defaults_name_registered_components() -> None:
    assert TranscribeSettings().backend in registry.transcribers
    assert OcrSettings().reader in registry.ocr_readers
    assert registry.lookup(registry.ocr_readers, "rapidocr.v1", "reader").name == "rapidocr.v1"
    assert registry.lookup(registry.transcribers, "openai_whisper.v1", "transcriber").name == "openai_whisper.v1"


@pytest.mark.parametrize("build, settings, line", [
    (transcribe.build.build_transcriber, TranscribeSettings(backend="faster-whisper"),
     "E902 unknown transcriber 'faster-whisper'; choose one of faster_whisper.v1, openai_whisper.v1"),
    (ocr.build.build_reader, OcrSettings(reader="tesseract.v1"),
     "E902 unknown on-screen text reader 'tesseract.v1'; choose one of rapidocr.v1"),
])
def test_an_unknown_name_is_E902_with_the_known_ones(build, settings, line) -> None:
    with pytest.raises(NotConfigured) as ei:
        build(settings)
    assert str(ei.value) == line


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        nlp.registry.register("rules.v1")(lambda s: None)
    assert nlp.registry.names() == ["rules.v1", "zouxian_rules.v1"]
