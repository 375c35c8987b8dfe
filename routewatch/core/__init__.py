"""The floor every stage and surface stands on (issue 13's bottom layer).

Modules here import no stage (`crawlers`, `transcribe`, `ocr`, `nlp`, `index`) and no surface; the
import contract in `pyproject.toml` (`make lint`) holds that. So far: the stage contract (`stage`), the one
registry of components by versioned name (`registry`).
"""
