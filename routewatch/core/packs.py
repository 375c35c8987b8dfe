"""Corridor packs as data: where a pack is, and one of its YAML files read safely.

In: a pack name (a folder under nlp/packs/ or a configured search dir) or a pack folder, and a file key.
Out: the pack's folder, a file's path (pack.yaml `files:` names it, else `<key>.yaml`) or its parsed mapping.
The extractor (nlp), the trace, trend and ASR-prompt vocabularies and the privacy rules all read their
corridor words through here; DEFAULT_PACK is the one place the default pack is named. Never runs pack code.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from routewatch.core.errors import Code, NotConfigured

DEFAULT_PACK = "zouxian"
PACKS_DIR = Path(__file__).resolve().parents[2] / "nlp" / "packs"  # the packs shipped with RouteWatch


def resolve_pack_dir(name_or_path: str = DEFAULT_PACK, search_dirs: Sequence[str | Path] = ()) -> Path:
    """The folder of a pack: a folder holding pack.yaml, or a name looked up in `search_dirs` then PACKS_DIR;
    E902 when none has it."""
    candidate = Path(name_or_path)
    if (candidate / "pack.yaml").is_file():
        return candidate.resolve()
    if "/" not in name_or_path and "\\" not in name_or_path:
        for base in [*map(Path, search_dirs), PACKS_DIR]:
            if (base / name_or_path / "pack.yaml").is_file():
                return (base / name_or_path).resolve()
    looked = ", ".join(str(p) for p in [*map(str, search_dirs), str(PACKS_DIR)])
    raise NotConfigured(
        f"corridor pack {name_or_path!r} not found (looked for pack.yaml in {name_or_path} and under {looked}); "
        "set nlp.pack to a pack name or folder",
        Code.E902,
    )


def read_yaml(path: Path) -> dict[str, Any]:
    """A pack file's top-level mapping (yaml.safe_load; empty file → {}); E902 when unreadable or not a mapping."""
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise NotConfigured(f"pack file {path} unreadable: {exc}", Code.E902) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NotConfigured(f"pack file {path} must be a mapping at top level", Code.E902)
    return data


def pack_file(key: str, pack: str = DEFAULT_PACK, search_dirs: Sequence[str | Path] = ()) -> Path:
    """The path of one of the pack's files (E902 when the pack does not have it)."""
    folder = resolve_pack_dir(pack, tuple(search_dirs))
    files = read_yaml(folder / "pack.yaml").get("files") or {}
    path = folder / str(files.get(key, f"{key}.yaml"))
    if not path.is_file():
        raise NotConfigured(f"corridor pack {pack!r} has no {key} file ({path})", Code.E902)
    return path


@cache
def pack_data(key: str, pack: str = DEFAULT_PACK) -> dict[str, Any]:
    """One of the pack's files, parsed (read once per process)."""
    return read_yaml(pack_file(key, pack))
