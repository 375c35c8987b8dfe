"""nlp stage: text units in, extractions out (places, route, costs, bribes, relevance).

In: `routewatch.core.records.TextUnit`s and `nlp.settings.ExtractSettings`. Out: `Extraction` records with
evidence for every fact, merged per post. The rules live in corridor packs (nlp/packs/<name>/*.yaml).
Must never touch the network, the catalog or other stages: it only reads text and pack files.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from routewatch.core.packs import DEFAULT_PACK
from routewatch.core.records import Extraction, TextUnit

from .settings import ExtractSettings

if TYPE_CHECKING:  # pragma: no cover
    from .extractor import Extractor

# spaCy (and through thinc, torch when installed) loads only when extraction is used: reading
# settings or running another stage's command must not pay for it.
_LAZY = {"bench": "nlp.bench", "confidence": "nlp.confidence", "evaluate": "nlp.evaluate", "registry": "nlp.registry",
         "settings": "nlp.settings"}
_LAZY_ATTRS = {"Extractor": "nlp.extractor", "merge": "nlp.extractor", "VERSION": "nlp.extractor",
               "__version__": "nlp.extractor"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(_LAZY[name])
    if name in _LAZY_ATTRS:
        mod = importlib.import_module(_LAZY_ATTRS[name])
        return getattr(mod, "VERSION" if name == "__version__" else name)
    raise AttributeError(f"module 'nlp' has no attribute {name!r}")

__all__ = [
    "ExtractSettings",
    "Extractor",
    "annotate_line",
    "bench",
    "build_extractor",
    "confidence",
    "evaluate",
    "merge",
    "registry",
    "settings",
]


def build_extractor(pack: str = DEFAULT_PACK, settings: ExtractSettings | None = None) -> Extractor:
    """The configured extractor. With `settings`, its pack is used unless `pack` names another one."""
    from . import registry

    if settings is None:
        settings = ExtractSettings(pack=pack)
    elif pack != DEFAULT_PACK and pack != settings.pack:
        settings = settings.model_copy(update={"pack": pack})
    return registry.get(settings.extractor)(settings)


def annotate_line(obj: dict[str, Any], extractor: Extractor) -> dict[str, Any]:
    """One `{"id", "text"}` line (other keys ignored) -> the gold schema (SPEC §5)."""
    item_id = str(obj.get("id", ""))
    text = obj.get("text") or ""
    if not isinstance(text, str):
        text = str(text)
    unit = TextUnit(unit_id=f"{item_id}:caption", post_id=item_id, kind="caption", text=text)
    result: Extraction = extractor.extract(unit)
    return result.to_gold(item_id)
