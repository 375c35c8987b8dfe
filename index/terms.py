"""Terms counted by `trends --field term`: the corridor's route vocabulary, data in the default corridor
pack (nlp/packs/<pack>/trend_terms.yaml, read through routewatch.core.packs)."""

from __future__ import annotations

from routewatch.core.packs import pack_data


def trend_terms() -> tuple[str, ...]:
    return tuple(str(t) for t in pack_data("trend_terms")["terms"])
