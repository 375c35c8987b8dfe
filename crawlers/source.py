"""The crawl stage's one door: a `Source` kind collects configured sources into the `PostStore`.

In: `Start`s (a URL or search key, or a `[[sources]]` entry of an API kind) and the store.  Out: nothing but
what the store writes (posts, comments, snapshots, failures, counters). Kinds are found by versioned name
(`pages.v1`, `ytdlp.v1`, `tiktok_research.v1`) in a `catalogue` registry; crawlers/stage.py loads them all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

from crawlers.settings import CrawlSettings, SourceConfig
from crawlers.store import PostStore
from routewatch.core import registry
from routewatch.core.registry import register_once


@dataclass(frozen=True)
class Start:
    """One thing a source kind is asked to collect: a URL or search key, or a configured API source."""

    source: str  # the configured source's name (the counters' and posts' `source`)
    target: str = ""  # a URL or a yt-dlp search key; "" for an API source
    config: SourceConfig | None = None  # the `[[sources]]` entry of an API source


class Source(ABC):
    """The crawl stage's one door: a kind of source collects its starts into the store (posts, comments,
    failures and counters go nowhere else). Built with the crawl section and the data dir only."""

    kind: ClassVar[str]  # versioned registry name, e.g. "pages.v1"

    def __init__(self, settings: CrawlSettings, data_dir: Path):
        self.settings = settings
        self.data_dir = Path(data_dir)

    def takes(self, start: Start) -> bool:
        """Whether this kind collects a start that names no kind (URLs are routed to one kind)."""
        return False

    @abstractmethod
    def collect(self, starts: Sequence[Start], store: PostStore) -> None:
        """Collect every start into `store`; one bad start is one failure row, never the end of the others."""


source_kinds = registry.sources

S = TypeVar("S", bound=type[Source])


def register_source(cls: S) -> S:
    """Class decorator: a source kind under its versioned `kind`."""
    return register_once(source_kinds, cls.kind, cls)
