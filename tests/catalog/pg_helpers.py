"""The PostgreSQL server of the catalog tests: $ROUTEWATCH_PG_URL (started by `make pg-up` / `.ci/run`).

In: the DSN of a running server. Out: fresh databases on it, one per test module, dropped afterwards.
Without the variable the PostgreSQL cases skip with the reason, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from routewatch.core.catalog import MIGRATIONS

NOT_SET = ("ROUTEWATCH_PG_URL is not set: start the test server with `make pg-up` and "
           "export ROUTEWATCH_PG_URL=<the DSN it prints>")


def server_url() -> str:
    url = os.environ.get("ROUTEWATCH_PG_URL", "").strip()
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(NOT_SET)
        pytest.skip(NOT_SET)
    return url


def with_database(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


def create_database(label: str) -> str:
    """A new empty database on the test server; returns its DSN."""
    import psycopg

    url = server_url()
    name = f"rwtest_{''.join(c if c.isalnum() else '_' for c in label)[:30].lower()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return with_database(url, name)


def drop_database(dsn: str) -> None:
    import psycopg

    name = urlsplit(dsn).path.lstrip("/")
    with psycopg.connect(server_url(), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wipe(dsn: str) -> None:
    """Empty every table of a catalog database (its schema and schema_version stay), identities restarted."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as c:
        tables = [r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                          "AND tablename != 'schema_version'")]
        if tables:
            c.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        if "schema_version" in {r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}:
            c.execute("DELETE FROM schema_version WHERE version > %s", [len(MIGRATIONS)])  # a test's "newer" schema
