"""The crawl stage's door: the configured sources, each collected by its source kind into one store.

In: the crawl section, the `[[sources]]` entries (or URLs given on the command line), the catalog and the
data dir.  Out: every post, comment, snapshot and failure in the catalog through one `PostStore`, and one
`StageReport` (done = posts discovered; extra: pages, new, per_source counters). Loads every source kind
(pages through scrapy, yt-dlp searches and platform pages, the TikTok Research API); kinds are found by
versioned name in `crawlers.base.source_kinds`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from crawlers import run, tiktok_research, ytdlp_discovery  # noqa: F401 - each registers its source kind
from crawlers.settings import CrawlSettings, SourceConfig
from crawlers.source import Source, Start, source_kinds
from crawlers.store import CrawlReport, PostStore
from routewatch.core.catalog import Catalog
from routewatch.core.errors import Code, NotConfigured, RouteWatchError
from routewatch.core.stage import Progress, StageReport

URL_KINDS = ("ytdlp.v1", "pages.v1")  # who takes a URL, in this order (yt-dlp first for the URLs it prefers)


def kind_named(name: str) -> type[Source]:
    """A source kind by versioned name; an unversioned name ("tiktok_research") means its first version."""
    kinds = source_kinds.get_all()
    found = kinds.get(name) or kinds.get(f"{name}.v1")
    if found is None:
        api = sorted(k for k in kinds if k not in URL_KINDS)
        raise NotConfigured(f"unknown source kind {name!r} (known: {', '.join(api)})")
    return found


def starts_of(sources: Sequence[SourceConfig], source: str | None = None,
              urls: Sequence[str] | None = None) -> list[Start]:
    """What to collect: the URLs given (source "cli"), else every enabled configured source (or the one named)."""
    if urls:
        return [Start(source="cli", target=u) for u in urls]
    out: list[Start] = []
    for cfg in sources:
        if not cfg.enabled or (source and cfg.name != source):
            continue
        if cfg.kind:
            out.append(Start(source=cfg.name, config=cfg))
        else:
            out += [Start(source=cfg.name, target=u) for u in cfg.urls]
    if source and not out and not any(c.name == source and c.enabled for c in sources):
        names = ", ".join(c.name for c in sources) or "none configured"
        raise RouteWatchError(Code.E903, f"no source named {source!r} (configured: {names})")
    return out


def crawl(settings: CrawlSettings, data_dir: Path, catalog: Catalog, starts: Sequence[Start],
          progress: Progress | None = None) -> StageReport:
    """Collect every start: API sources first (each by its kind), then yt-dlp targets, then pages (scrapy)."""
    t0 = time.monotonic()
    tell = progress or (lambda stage, done, total: None)
    tell("crawl", 0, 0)
    store = PostStore(catalog, data_dir, CrawlReport(), on_progress=lambda r: tell("crawl", r.discovered, 0))
    by_kind: dict[str, list[Start]] = {}
    url_kinds = [kind_named(k)(settings, data_dir) for k in URL_KINDS]
    for start in starts:
        if start.config is not None:
            by_kind.setdefault(kind_named(start.config.kind).kind, []).append(start)
            continue
        taker = next((k for k in url_kinds if k.takes(start)), url_kinds[-1])
        by_kind.setdefault(taker.kind, []).append(start)
    order = [k for k in by_kind if k not in URL_KINDS] + [k for k in URL_KINDS if k in by_kind]
    for name in order:
        kind_named(name)(settings, data_dir).collect(by_kind[name], store)
    rep = store.report
    tell("crawl", rep.discovered, rep.discovered)  # done: the bar stops spinning
    return StageReport("crawl", done=rep.discovered, failed=rep.failed, seconds=time.monotonic() - t0,
                       extra={"pages": rep.pages, "new": rep.new, "per_source": rep.per_source})
