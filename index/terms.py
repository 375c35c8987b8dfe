"""Terms counted by `trends --field term`: the corridor's route vocabulary (data, not code)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

TERMS_FILE = Path(__file__).with_name("trend_terms.yaml")


@cache
def trend_terms() -> tuple[str, ...]:
    data = yaml.safe_load(TERMS_FILE.read_text(encoding="utf-8"))
    return tuple(data["terms"])
