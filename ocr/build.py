"""The configured on-screen text reader, by versioned name (CONVENTIONS §3): the ocr stage's loader.

In: `OcrSettings` (`reader`, e.g. "rapidocr.v1").  Out: a reader with its engine loaded, or NotConfigured
(E902 for a name no reader registered; E701/E702 when the engine cannot load). Imports the readers so they
register in `routewatch.core.registry.ocr_readers`.
"""

from __future__ import annotations

from routewatch.core.registry import lookup, ocr_readers

from .reader import OnscreenReader  # registers rapidocr.v1
from .settings import OcrSettings


def build_reader(settings: OcrSettings | None = None) -> OnscreenReader:
    settings = settings or OcrSettings()
    return lookup(ocr_readers, settings.reader, "on-screen text reader")(settings)
