"""One typed settings object (CONVENTIONS §4).

In: `routewatch.toml` in the data dir (or `--config FILE`), then `ROUTEWATCH_*` environment variables
(nested with `__`, e.g. `ROUTEWATCH_INDEX__BACKEND`; SPEC §4's short names such as
`ROUTEWATCH_INDEX_BACKEND` and `ROUTEWATCH_ORIGIN_TELEGRAM` are honoured too).
Out: a frozen `Settings`. Each stage declares its own section and defaults next to its code.
"""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from crawlers.settings import CrawlSettings, SourceConfig
from index.settings import SQLITE, IndexSettings
from nlp.settings import ExtractSettings as _ExtractSettings
from ocr.settings import OcrSettings as _OcrSettings
from routewatch.core.alert_settings import AlertSettings as _AlertSettings
from routewatch.core.catalog import check_data_dir
from routewatch.core.catalog_url import PG_SCHEMES, CatalogSettings, parse_catalog_url
from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.sections import Section
from routewatch.distributed.settings import DistributedSettings
from routewatch.web.settings import WebSettings as _WebSettings
from transcribe.settings import TranscribeSettings as _TranscribeSettings

DEFAULT_DATA_DIR = "routewatch-data"


class PrivacySettings(Section):
    """What every output shows of the people in the posts (README "Privacy"; applied once, routewatch/view.py)."""

    pseudonymise_handles: bool = True
    redact_contacts: bool = True
    raw_evidence: bool = False  # evidence bundles keep raw handles and contacts (authorised use only)
    # the authorised raw mode: every output shows raw handles, channels, URLs and contacts, and says so
    reveal: bool = False
    # accounts shown as they are (a news outlet's or an NGO's channel), written with or without "@"
    public_accounts: list[str] = Field(default_factory=list)
    # counts of posts below this are shown as "<N>" in the digest, trends, charts, means and comparisons
    min_count: int = Field(default=5, ge=1, le=1000)
    media_retention_days: int = Field(default=0, ge=0) # 0 = keep media; N = delete media files older than N days (transcripts stay)


def data_dir_from_env(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("ROUTEWATCH_HOME") or DEFAULT_DATA_DIR)


# SPEC §4's flat environment names, mapped onto nested settings.
_FLAT_ENV = {
    "ROUTEWATCH_INDEX_BACKEND": ("index", "backend"),
    "ROUTEWATCH_ES_URL": ("index", "es_url"),
    "ROUTEWATCH_ALLOW_HOSTS": ("crawl", "allow_hosts"),
    "ROUTEWATCH_CATALOG_URL": ("catalog", "url"),
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
        text = read_config_text(self.path)
        try:
            return tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as e:  # RecursionError: arrays nested thousands deep
            raise RouteWatchError(Code.E902, f"cannot read config {self.path}: {str(e)[:200] or 'nested too deep'}") from e


MAX_CONFIG_BYTES = 1024 * 1024


def read_config_text(path: Path) -> str:
    """A config file's text: a regular file of at most MAX_CONFIG_BYTES, UTF-8 (a BOM is accepted).
    A FIFO, a device (/dev/zero), a directory or a huge file is refused (E919) before it is opened."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise RouteWatchError(Code.E919, f"cannot read config {path}: {e.strerror or e}") from e
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO or device?)"
        raise RouteWatchError(Code.E919, f"config {path} is {kind}; give a TOML file")
    if st.st_size > MAX_CONFIG_BYTES:
        raise RouteWatchError(Code.E919, f"config {path} is {st.st_size:,} bytes; at most "
                              f"{MAX_CONFIG_BYTES:,} are read")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise RouteWatchError(Code.E919, f"cannot read config {path}: {e.strerror or e}") from e
    if len(raw) > MAX_CONFIG_BYTES:
        raise RouteWatchError(Code.E919, f"config {path} is over {MAX_CONFIG_BYTES:,} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise RouteWatchError(Code.E919, f"config {path} is not UTF-8 (byte {e.start}); save it as UTF-8") from e


_TOML_PATH: list[Path | None] = [None]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUTEWATCH_", env_nested_delimiter="__", frozen=True, extra="forbid",
                                      allow_inf_nan=False)

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    crawl: CrawlSettings = Field(default_factory=CrawlSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    transcribe: _TranscribeSettings = Field(default_factory=_TranscribeSettings)  # type: ignore[valid-type]
    extract: _ExtractSettings = Field(default_factory=_ExtractSettings)  # type: ignore[valid-type]
    ocr: _OcrSettings = Field(default_factory=_OcrSettings)  # type: ignore[valid-type]
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    web: _WebSettings = Field(default_factory=_WebSettings)  # type: ignore[valid-type]
    alerts: _AlertSettings = Field(default_factory=_AlertSettings)  # type: ignore[valid-type]
    distributed: DistributedSettings = Field(default_factory=DistributedSettings)
    sources: list[SourceConfig] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings, _FlatEnvSource(settings_cls), env_settings, _TomlSource(settings_cls, _TOML_PATH[0]))

    @model_validator(mode="after")
    def _index_beside_postgresql(self) -> Settings:
        # the SQLite index is FTS5 tables in the catalog's SQLite file: with PostgreSQL there is no such file
        if self.catalog.url.split(":", 1)[0].lower() in PG_SCHEMES and self.index.backend == SQLITE:
            raise PydanticCustomError(
                "catalog_index", "a PostgreSQL catalog needs the Elasticsearch index: set index.backend = "
                "\"elasticsearch\" (ROUTEWATCH_INDEX_BACKEND=elasticsearch) and index.es_url")
        return self

    @model_validator(mode="after")
    def _shared_budget_from_catalog(self) -> Settings:
        # every worker of a PostgreSQL catalog shares one per-domain budget in that database; the crawl stage
        # only sees its section, so the DSN travels in it (object.__setattr__: the settings are frozen)
        if self.catalog.url.split(":", 1)[0].lower() in PG_SCHEMES and not self.crawl.shared_budget_url:
            object.__setattr__(self, "crawl", self.crawl.model_copy(update={"shared_budget_url": self.catalog.url}))
        return self

    # convenience paths -------------------------------------------------------------------------
    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog file (`catalog.url` sqlite:///PATH, else the data dir's); the SQLite index lives in it."""
        return parse_catalog_url(self.catalog.url, self.data_dir).path or self.data_dir / "catalog.sqlite"

    def catalog_exists(self) -> bool:
        """Whether there is a catalog to read: a PostgreSQL one is the server's to say (opening it tells)."""
        return parse_catalog_url(self.catalog.url, self.data_dir).backend == "postgresql" or self.catalog_path.exists()

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def snapshot_dir(self) -> Path:
        return self.data_dir / "snapshots"


def load_settings(data_dir: str | Path | None = None, config: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings for one command: data dir from flag/env, config from FILE or DATA_DIR/routewatch.toml."""
    ddir = check_data_dir(data_dir_from_env(data_dir))
    toml_path = Path(config) if config else ddir / "routewatch.toml"
    if config and not toml_path.exists():
        raise RouteWatchError(Code.E902, f"config file not found: {toml_path}")
    _TOML_PATH[0] = toml_path
    try:
        return Settings(data_dir=ddir, **overrides)
    except ValidationError as e:
        raise settings_error(e) from None
    except SettingsError as e:  # a ROUTEWATCH_* variable that is not valid JSON for a table or list
        raise RouteWatchError(Code.E917, f"environment: {str(e).splitlines()[0]}") from None
    finally:
        _TOML_PATH[0] = None


# ---- one line per bad setting ---------------------------------------------------------------------------
_BOUNDS = {"greater_than_equal": ("≥", "ge"), "greater_than": (">", "gt"), "less_than_equal": ("≤", "le"),
           "less_than": ("<", "lt")}
_KINDS = {"int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
          "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
          "bool_type": "true or false", "string_type": "text", "list_type": "a list", "dict_type": "a table",
          "tuple_type": "a list", "model_type": "a table", "finite_number": "a finite number (not nan or inf)"}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The settings model that holds the key at `loc` (sources[0].name → SourceConfig)."""
    model: type[BaseModel] = Settings
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        candidates = [field.annotation, *typing.get_args(field.annotation)]
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            return None
        model = nxt
    return model


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _one(err: dict[str, Any]) -> tuple[Code, str]:
    loc = tuple(err.get("loc") or ())
    name = _dotted(loc) or "settings"
    kind = err.get("type", "")
    if kind in ("catalog_url", "catalog_index"):
        code = Code.E960 if kind == "catalog_url" else Code.E963
        return code, f"{name if loc else 'catalog.url'}: {err.get('msg')}"
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.5)
        what = "settings section" if len(loc) == 1 else "setting"
        hint = f" (did you mean {close[0]}?)" if close else (f"; known: {', '.join(known)}" if known else "")
        return Code.E918, f"unknown {what} {name}{hint}"
    got = err.get("input")
    shown = "" if "secret" in name or isinstance(got, dict | list) else f" (got {repr(got)[:60]})"
    ctx = err.get("ctx") or {}
    if kind in _BOUNDS:
        sign, key = _BOUNDS[kind]
        return Code.E917, f"{name} must be {sign} {ctx.get(key):g}{shown}"
    if kind in _KINDS:
        return Code.E917, f"{name} must be {_KINDS[kind]}{shown}"
    if kind == "literal_error":
        return Code.E917, f"{name} must be one of {ctx.get('expected')}{shown}"
    if kind == "string_too_short":
        return Code.E917, f"{name} must not be empty"
    if kind == "missing":
        return Code.E917, f"{name} is required"
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return Code.E917, f"{name}: {msg}{shown}"


def settings_error(e: ValidationError) -> RouteWatchError:
    """A pydantic validation error as one line that names the setting and what it accepts."""
    errs = e.errors()
    code, line = _one(errs[0]) if errs else (Code.E917, "invalid settings")
    if len(errs) > 1:
        line += f" (and {len(errs) - 1} more: {', '.join(_dotted(tuple(x['loc'])) for x in errs[1:4])})"
    return RouteWatchError(code, line)
