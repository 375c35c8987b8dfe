"""Where the catalog lives: the `catalog.url` setting (env `ROUTEWATCH_CATALOG_URL`) and how it is read.

In: `sqlite:///PATH` (a file; relative paths from the working directory), `postgresql://…` / `postgres://…`, or
nothing (the data dir's `catalog.sqlite`, the default).  Out: a `CatalogTarget` that `routewatch.core.catalog.open_catalog`
opens. A URL of another form is E960 when the settings are read, before anything is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_core import PydanticCustomError

from routewatch.core.errors import Code, RouteWatchError
from routewatch.core.sections import Section

PG_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class CatalogTarget:
    backend: str  # "sqlite" | "postgresql"
    path: Path | None = None  # the SQLite file
    dsn: str = ""  # the PostgreSQL connection URL


def url_problem(url: str) -> str:
    """Why this catalog URL cannot be used ("" when it can)."""
    if not url:
        return ""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc or not parts.path or parts.path == "/":
            return "a SQLite catalog URL is sqlite:///PATH (three slashes, then the file)"
        return ""
    if scheme in PG_SCHEMES:
        if not parts.path.strip("/") and "dbname=" not in parts.query:
            return "a PostgreSQL catalog URL names its database: postgresql://USER@HOST:PORT/DATABASE"
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            return "the port of the PostgreSQL URL is not a number"
        return ""
    shown = f"{scheme}://" if scheme else repr(url[:40])
    return f"unknown catalog URL scheme {shown}: use sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"


def parse_catalog_url(url: str, data_dir: Path | str) -> CatalogTarget:
    """The catalog to open: the URL's, or the data dir's `catalog.sqlite` when the URL is empty."""
    url = (url or "").strip()
    problem = url_problem(url)
    if problem:
        raise RouteWatchError(Code.E960, problem)
    if not url:
        return CatalogTarget("sqlite", path=Path(data_dir) / "catalog.sqlite")
    parts = urlsplit(url)
    if parts.scheme.lower() == "sqlite":
        # sqlite:///rel/path is relative (like SQLAlchemy's); sqlite:////abs/path is absolute
        return CatalogTarget("sqlite", path=Path(parts.path[1:]))
    return CatalogTarget("postgresql", dsn=url)


class CatalogSettings(Section):
    """`[catalog]`: where the catalog is. Empty url = `<data_dir>/catalog.sqlite` (one machine, no set-up)."""

    url: str = ""

    @field_validator("url")
    @classmethod
    def _known_form(cls, v: str) -> str:
        problem = url_problem(v.strip())
        if problem:
            raise PydanticCustomError("catalog_url", problem)
        return v.strip()
