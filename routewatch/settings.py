"""One typed settings object (CONVENTIONS §4).

In: `routewatch.toml` in the data dir (or `--config FILE`), then `ROUTEWATCH_*` environment variables
(nested with `__`, e.g. `ROUTEWATCH_INDEX__BACKEND`; SPEC §4's short names such as
`ROUTEWATCH_INDEX_BACKEND` and `ROUTEWATCH_ORIGIN_TELEGRAM` are honoured too).
Out: a frozen `Settings`. Each stage declares its own section and defaults next to its code.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from crawlers.settings import CrawlSettings
from index.settings import IndexSettings
from routewatch.errors import Code, RouteWatchError

DEFAULT_DATA_DIR = "routewatch-data"


class SourceConfig(BaseModel):
    """A configured source: a crawler name plus its start URLs / queries."""

    model_config = ConfigDict(frozen=True)
    name: str
    urls: list[str] = Field(default_factory=list)
    enabled: bool = True
    # kind = "tiktok_research" (SPEC §4b): an API query instead of URLs (crawlers/tiktok_research.py)
    kind: str = ""
    keywords: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    region_codes: list[str] = Field(default_factory=list)
    start_date: str = ""  # YYYY-MM-DD
    end_date: str = ""


class PrivacySettings(BaseModel):
    model_config = ConfigDict(frozen=True)
    pseudonymise_handles: bool = True
    redact_contacts: bool = True
    raw_evidence: bool = False  # evidence bundles keep raw handles and contacts (authorised use only)
    media_retention_days: int = 0  # 0 = keep media; N = delete media files older than N days (transcripts stay)


class _EmptySection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


def _section(module: str, cls: str) -> Any:
    """A stage's own settings class (declared next to its code)."""
    import importlib

    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):  # a stage package without settings yet
        return _EmptySection


def data_dir_from_env(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("ROUTEWATCH_HOME") or DEFAULT_DATA_DIR)


# SPEC §4's flat environment names, mapped onto nested settings.
_FLAT_ENV = {
    "ROUTEWATCH_INDEX_BACKEND": ("index", "backend"),
    "ROUTEWATCH_ES_URL": ("index", "es_url"),
    "ROUTEWATCH_ALLOW_HOSTS": ("crawl", "allow_hosts"),
}


class _FlatEnvSource(PydanticBaseSettingsSource):
    def get_field_value(self, field, field_name):  # pragma: no cover - unused by pydantic for this source
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for env, (section, key) in _FLAT_ENV.items():
            if env in os.environ:
                val: Any = os.environ[env]
                if key == "allow_hosts":
                    val = [h.strip() for h in val.split(",") if h.strip()]
                out.setdefault(section, {})[key] = val
        origins = {
            k[len("ROUTEWATCH_ORIGIN_") :].lower(): v
            for k, v in os.environ.items()
            if k.startswith("ROUTEWATCH_ORIGIN_") and v
        }
        if origins:
            out.setdefault("crawl", {})["origins"] = origins
        return out


class _TomlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls, path: Path | None):
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field, field_name):  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if not self.path or not self.path.exists():
            return {}
        try:
            return tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise RouteWatchError(Code.E902, f"cannot read config {self.path}: {e}") from e


_TOML_PATH: list[Path | None] = [None]
_TranscribeSettings = _section("transcribe.settings", "TranscribeSettings")
_ExtractSettings = _section("nlp.settings", "ExtractSettings")
_WebSettings = _section("routewatch.web.settings", "WebSettings")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTEWATCH_", env_nested_delimiter="__", frozen=True, extra="ignore")

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    transcribe: _TranscribeSettings = Field(default_factory=_TranscribeSettings)  # type: ignore[valid-type]
    extract: _ExtractSettings = Field(default_factory=_ExtractSettings)  # type: ignore[valid-type]
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    web: _WebSettings = Field(default_factory=_WebSettings)  # type: ignore[valid-type]
    sources: list[SourceConfig] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings, _FlatEnvSource(settings_cls), env_settings, _TomlSource(settings_cls, _TOML_PATH[0]))

    # convenience paths -------------------------------------------------------------------------
    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshots"


def load_settings(data_dir: str | Path | None = None, config: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings for one command: data dir from flag/env, config from FILE or DATA_DIR/routewatch.toml."""
    ddir = data_dir_from_env(data_dir)
    toml_path = Path(config) if config else ddir / "routewatch.toml"
    if config and not toml_path.exists():
        raise RouteWatchError(Code.E902, f"config file not found: {toml_path}")
    _TOML_PATH[0] = toml_path
    try:
        return Settings(data_dir=ddir, **overrides)
    finally:
        _TOML_PATH[0] = None
