"""The base of every settings section (CONVENTIONS §4): frozen, no unknown keys, no NaN or infinity.

In: nothing; stages subclass `Section` for their own settings next to their code.  Out: models whose
validation errors routewatch.settings turns into one line naming the setting (E917 / E918).
Imports only pydantic, so every stage can use it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A settings section: a misspelt key is an error (E918), NaN / inf seconds are refused (E917)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
