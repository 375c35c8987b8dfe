"""A small indexed data dir for the export and saved-search tests, built fast through the real catalog and
the real index stage: posts with a caption unit and a stored extraction summary (no spaCy, no audio).

`add_posts(data_dir, rows)` adds posts (platform_id, caption, posted_at, gold) and indexes what is new;
`check_saved(data_dir)` runs the saved searches as a run does (routewatch.alerts.check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from routewatch.core.catalog import Catalog
from routewatch.core.records import Post, post_id_for
from routewatch.pipeline import Context, stage_index
from routewatch.settings import load_settings


def gold(route: tuple[str, ...] = (), costs: tuple[tuple[float, str], ...] = (), bribes: int = 0,
         relevant: bool = True) -> dict[str, Any]:
    return {"relevant": relevant, "countries": list(dict.fromkeys(route)), "route": list(route), "places": [],
            "costs": [{"amount": a, "currency": c, "kind": "transport"} for a, c in costs],
            "bribes": [{"text": "给了警察", "amount": None} for _ in range(bribes)]}


def add_posts(data_dir: Path, rows: list[tuple[str, str, str, dict[str, Any]]]) -> list[str]:
    """rows: (platform_id, caption, posted_at, gold). Returns the new post ids, in order."""
    data_dir.mkdir(parents=True, exist_ok=True)
    s = load_settings(data_dir)
    ids = []
    with Catalog(data_dir / "catalog.sqlite") as cat:
        for platform_id, caption, posted_at, g in rows:
            pid = post_id_for("telegram", platform_id)
            ids.append(pid)
            post = Post(post_id=pid, platform="telegram", platform_id=platform_id,
                        url=f"https://t.me/{platform_id}", source="telegram:test", caption=caption,
                        posted_at=posted_at, captured_at="2026-11-20T00:00:00Z", lang="zh",
                        author_handle="@route_guide")
            with cat.tx():
                cat._upsert_post(post)
                cat.set_status(pid, "crawl", "done")
                cat.db.execute("INSERT OR REPLACE INTO units(unit_id, post_id, kind, text, lang) VALUES (?,?,?,?,?)",
                               (f"{pid}:caption", pid, "caption", caption, "zh"))
                cat.db.execute("INSERT OR REPLACE INTO extractions(post_id, relevant, gold_json, facts_json, "
                               "created_at) VALUES (?,?,?,?,?)",
                               (pid, int(g["relevant"]), json.dumps(g, ensure_ascii=False), "{}",
                                "2026-11-20T00:00:00Z"))
                cat.set_status(pid, "extract", "done")
        stage_index(Context(settings=s, catalog=cat))
    return ids


def check_saved(data_dir: Path) -> dict[str, list[str]]:
    from index.sqlite_fts import SqliteIndex
    from routewatch import alerts

    with Catalog(data_dir / "catalog.sqlite") as cat:
        idx = SqliteIndex(data_dir / "catalog.sqlite", read_only=True)
        try:
            return alerts.check(cat, idx)
        finally:
            idx.close()
