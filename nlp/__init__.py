"""nlp stage: text units in, extractions out (places, route, costs, bribes, relevance).

In: `routewatch.records.TextUnit`s and `nlp.settings.ExtractSettings`. Out: `Extraction` records with
evidence for every fact, merged per post. The rules live in corridor packs (nlp/packs/<name>/*.yaml).
Must never touch the network, the catalog or other stages: it only reads text and pack files.
"""

from __future__ import annotations

from typing import Any

from routewatch.records import Extraction, TextUnit

from . import bench, evaluate, registry, settings
from .extractor import VERSION, Extractor, merge
from .settings import ExtractSettings

__version__ = VERSION
__all__ = [
    "ExtractSettings",
    "Extractor",
    "annotate_line",
    "bench",
    "build_extractor",
    "evaluate",
    "merge",
    "registry",
    "settings",
]


def build_extractor(pack: str = "zouxian", settings: ExtractSettings | None = None) -> Extractor:
    """The configured extractor. With `settings`, its pack is used unless `pack` names another one."""
    if settings is None:
        settings = ExtractSettings(pack=pack)
    elif pack != "zouxian" and pack != settings.pack:
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
