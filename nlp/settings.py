"""Settings of the extraction stage, declared next to its code (CONVENTIONS §4).

In: values from the global settings object (TOML file + ROUTEWATCH_* environment), assembled there.
Out: an `ExtractSettings` the extractor is built from. Must never read files or the environment
itself: the global settings do that.
"""

from __future__ import annotations

from pydantic import Field

from routewatch.core.packs import DEFAULT_PACK
from routewatch.core.sections import Section


class ExtractSettings(Section):
    """How text is turned into facts (nlp stage)."""

    extractor: str = Field("zouxian_rules.v1", description="registered extractor name (nlp.registry)")
    pack: str = Field(DEFAULT_PACK, description="corridor pack: a name under nlp/packs/ or pack_dirs, or a folder")
    pack_dirs: list[str] = Field(default_factory=list, description="extra folders that hold corridor packs")
    languages: list[str] = Field(
        default_factory=lambda: ["zh", "en", "es"], description="spaCy pipelines to build; others fall back"
    )
    default_language: str = Field("zh", description="language of a text with no letters at all, and the fallback")
    phonetic: bool = Field(True, description="match Chinese place and slang names by sound (ASR homophones)")
    aggregate_min_confidence: float = Field(
        0.5, ge=0.0, le=1.0,
        description="facts below this confidence stay in the catalog but out of trends, routes and the digest",
    )
    pipeline_dir: str = Field(
        "", description="folder of pipelines saved by nlp.pipeline.save_pipelines; built from config when empty"
    )
