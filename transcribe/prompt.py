"""Domain priming: builds the decoder's initial prompt per language from the corridor pack's ASR terms.

In: the terms file (the default pack's `asr_prompt.yaml`, read through routewatch.core.packs, unless
`prompt_terms_file` names another) and a language code.
Out: one short prompt string ("" when the language has no terms). Never reads the network.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from routewatch.core.errors import Code, NotConfigured
from routewatch.core.packs import pack_file

DEFAULT_TERMS_FILE = pack_file("asr_prompt")
DEFAULT_MAX_CHARS = 300  # Whisper reads at most 223 prompt tokens; Chinese costs ~1.3 tokens a character


@lru_cache(maxsize=8)
def load_terms(path: str = "") -> dict[str, dict]:
    """The terms file as {language: {intro, joiner, end, terms}}; E902 when it is malformed."""
    file = Path(path) if path else DEFAULT_TERMS_FILE
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise NotConfigured(f"cannot read prompt terms {file}: {exc}", Code.E902) from None
    if not isinstance(data, dict):
        raise NotConfigured(f"prompt terms {file}: expected a mapping of languages", Code.E902)
    out: dict[str, dict] = {}
    for lang, spec in data.items():
        if lang == "cases":  # the file's own case table (language -> prompt), not a language
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("terms"), list):
            raise NotConfigured(f"prompt terms {file}: {lang!r} needs a `terms` list", Code.E902)
        out[str(lang)] = {
            "intro": str(spec.get("intro", "")),
            "joiner": str(spec.get("joiner", ", ")),
            "end": str(spec.get("end", "")),
            "terms": [str(t) for t in spec["terms"] if str(t).strip()],
            "max_chars": int(spec.get("max_chars", DEFAULT_MAX_CHARS)),
        }
    return out


def build_prompt(language: str, path: str = "") -> str:
    """The prompt for `language`: intro + terms joined, cut at a whole term to stay within budget."""
    spec = load_terms(path).get(language)
    if not spec or not spec["terms"]:
        return ""
    budget = spec["max_chars"]
    kept: list[str] = []
    for term in spec["terms"]:
        candidate = spec["intro"] + spec["joiner"].join([*kept, term]) + spec["end"]
        if len(candidate) > budget:
            break
        kept.append(term)
    return spec["intro"] + spec["joiner"].join(kept) + spec["end"]
