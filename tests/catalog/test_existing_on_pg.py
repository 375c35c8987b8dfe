"""The existing catalog tests that hold for any backend (tests/test_catalog.py, tests/test_postref.py), run
again here on a PostgreSQL catalog: the same functions, with `fresh_catalog` opened on this module's database.
SQLite-only behaviour (WAL, the lock file, file checks) stays in tests/test_catalog.py.
"""

from __future__ import annotations

import pytest
from pg_helpers import wipe

from routewatch.core.catalog import Catalog
from tests.test_catalog import (  # noqa: F401 - collected here, on PostgreSQL
    test_failure_row_and_status,
    test_refresh_never_erases_collected_fields,
    test_same_post_twice_is_one_record,
    test_shared_transcript_stored_once,
    test_writes_are_atomic,
)
from tests.test_postref import (  # noqa: F401 - collected here, on PostgreSQL
    cat,
    test_ambiguous_prefix_lists_the_candidates,
    test_full_id_prefix_and_url,
    test_unknown_or_too_short_is_E903,
)

pytestmark = pytest.mark.pg


@pytest.fixture
def fresh_catalog(pg_dsn, tmp_path):
    wipe(pg_dsn)
    c = Catalog(dsn=pg_dsn, data_dir=tmp_path)
    yield c
    c.close()
