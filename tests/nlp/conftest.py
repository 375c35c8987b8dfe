"""Fixtures for the nlp stage tests: where the shared data is, and extractors built once."""

from __future__ import annotations

from pathlib import Path

import pytest
from nlp_helpers import TEST_PACKS, shared_data

import nlp


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = shared_data()
    if not (d / "gold_dev.jsonl").is_file():
        pytest.fail(f"shared data not found at {d}: set ROUTEWATCH_SHARED_DATA")
    return d


@pytest.fixture(scope="session")
def extractor() -> nlp.Extractor:
    return nlp.build_extractor()


@pytest.fixture(scope="session")
def dunki_extractor() -> nlp.Extractor:
    return nlp.build_extractor(pack=str(TEST_PACKS / "dunki"))
