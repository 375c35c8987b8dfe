"""Components by versioned name (CONVENTIONS §3): one `catalogue` registry per kind of component.

In: a stage registers its components into its kind (`@indexes.register("sqlite.v1")`); settings name one.
Out: `lookup(kind, name)` gives what was registered, or E902 naming the known names. Imports no stage:
each stage has a loader (`index.build`, `transcribe.build`) that imports its components so they register.
A new behaviour gets a new name (`.v2`), so an old config keeps meaning the same thing.
"""

from __future__ import annotations

from typing import Any

import catalogue

from routewatch.core.errors import Code, NotConfigured

indexes = catalogue.create("routewatch", "indexes")  # (IndexSettings, catalog path, read_only, min_confidence) -> Index
transcribers = catalogue.create("routewatch", "transcribers")  # TranscribeSettings -> Transcriber
ocr_readers = catalogue.create("routewatch", "ocr_readers")  # OcrSettings -> OnscreenReader
extractors = catalogue.create("routewatch", "extractors")  # ExtractSettings -> Extractor
crawlers = catalogue.create("routewatch", "crawlers")  # page crawler classes by versioned name (crawlers/base.py)
sources = catalogue.create("routewatch", "sources")  # crawl source kinds by versioned kind (crawlers/source.py)


def register_once(kind: catalogue.Registry, name: str, obj: Any) -> Any:
    """Register `obj` as `name`; a second component under one name is a programming error (ValueError)."""
    if name in kind:
        raise ValueError(f"duplicate name {name} in {kind.namespace[-1]}")
    kind.register(name, func=obj)
    return obj


def names(kind: catalogue.Registry) -> list[str]:
    return sorted(kind.get_all())


def lookup(kind: catalogue.Registry, name: str, what: str) -> Any:
    """The component registered as `name`; NotConfigured E902 (with the registered names) when none is."""
    if name not in kind:
        raise NotConfigured(f"unknown {what} {name!r}; choose one of {', '.join(names(kind)) or 'none'}", Code.E902)
    return kind.get(name)
