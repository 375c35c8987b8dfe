"""The whole demo on a PostgreSQL catalog (with the Elasticsearch index) gives what the SQLite demo gives.

One process (the workers of issue 17 come next): the same posts, media hashes, transcripts, text units, facts
and stage counts as the session's SQLite demo run, and no SQLite catalog file in the data dir.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest
from pg_helpers import create_database, drop_database

from routewatch.core.catalog import Catalog
from tests.conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.pg, pytest.mark.es]


def es_url() -> str:
    url = os.environ.get("ROUTEWATCH_ES_URL", "").strip()
    if not url:
        reason = "ROUTEWATCH_ES_URL is not set: `make es-up` and export the URL it prints"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


def what_the_pipeline_made(cat: Catalog) -> dict[str, dict]:
    out = {}
    for p in cat.posts():
        m = cat.get_media(p.post_id)
        out[p.post_id] = {
            "caption": p.caption, "url": p.url, "media": m.sha256 if m else None,
            "transcripts": sorted(tuple(r) for r in cat.db.execute(
                "SELECT t.audio_sha256, t.model, t.text FROM post_transcripts pt JOIN transcripts t "
                "ON t.transcript_id = pt.transcript_id WHERE pt.post_id = ?", (p.post_id,))),
            "units": sorted((u.kind, u.text) for u in cat.units(p.post_id)),
            "facts": cat.get_extraction_gold(p.post_id),
        }
    return out


def test_demo_on_postgresql_matches_the_sqlite_demo(demo_run, tmp_path):
    sqlite_dir, sqlite_summary = demo_run
    es, name, dsn = es_url(), f"rwtest-pg-{uuid.uuid4().hex[:8]}", create_database("demo")
    env = {"ROUTEWATCH_CATALOG_URL": dsn, "ROUTEWATCH_INDEX_BACKEND": "elasticsearch", "ROUTEWATCH_ES_URL": es,
           "ROUTEWATCH_INDEX__ES_INDEX": name}
    try:
        summary = json.loads(run_cli("demo", "--json", data_dir=tmp_path / "data", env=env, timeout=1800).stdout)
        for key in ("posts_crawled", "media_fetched", "transcripts", "facts_extracted", "index_documents", "stages",
                    "failures"):
            assert summary[key] == sqlite_summary[key], key
        assert summary["catalog"].startswith("postgresql://") and not (tmp_path / "data" / "catalog.sqlite").exists()
        with Catalog(sqlite_dir / "catalog.sqlite", write=False) as a, Catalog(dsn=dsn, write=False) as b:
            assert what_the_pipeline_made(b) == what_the_pipeline_made(a)
            assert b.stage_counts() == a.stage_counts()
    finally:
        drop_database(dsn)
        from elasticsearch import Elasticsearch

        client = Elasticsearch(es, request_timeout=30)
        client.indices.delete(index=f"{name}-0*", ignore_unavailable=True, allow_no_indices=True)
        client.options(ignore_status=404).indices.delete_index_template(name=f"{name}-template")
        client.close()
