import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from routewatch.core.errors import NotConfigured, RouteWatchError
from transcribe import TranscribeSettings, build_transcriber, ensure_base_model
from transcribe import model as model_mod
from transcribe.model import BASE_MODEL_SHA256, MARKER, assemble_model, resolve_model, verify_model_file

REPO = Path(__file__).resolve().parents[2]


def _fake_parts(tmp_path: Path) -> tuple[list[Path], list[Path], str]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "p1").write_bytes(b"first half|")
    (src / "p2").write_bytes(b"second half")
    (src / "config.json").write_text("{}")
    return [src / "p1", src / "p2"], [src / "config.json"], hashlib.sha256(b"first half|second half").hexdigest()


def test_base_model_is_assembled_verified_and_reused(tmp_path):
    model_dir = ensure_base_model(tmp_path)
    assert model_dir == tmp_path / "whisper-base-ct2"
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt", MARKER} <= {
        p.name for p in model_dir.iterdir()
    }
    assert model_mod.sha256_file(model_dir / "model.bin") == BASE_MODEL_SHA256
    assert not [p for p in model_dir.iterdir() if p.name.endswith(".tmp")]
    mtime = (model_dir / "model.bin").stat().st_mtime_ns
    started = time.perf_counter()
    assert ensure_base_model(tmp_path) == model_dir
    assert time.perf_counter() - started < 0.5  # the marker vouches: no re-hash of 145 MB
    assert (model_dir / "model.bin").stat().st_mtime_ns == mtime


def test_parts_that_do_not_match_the_digest_raise_e303_and_leave_no_file(tmp_path):
    parts, extras, _ = _fake_parts(tmp_path)
    dest = tmp_path / "model"
    with pytest.raises(RouteWatchError) as err:
        assemble_model(parts, extras, dest, "0" * 64)
    assert err.value.code.value == "E303"
    assert not (dest / "model.bin").exists()
    assert not (dest / MARKER).exists()
    assert not list(dest.glob("*.tmp")) and not list(dest.glob(".*.tmp"))


def test_a_corrupted_copy_of_the_real_model_raises_e303_and_is_deleted(tmp_path):
    copy = tmp_path / "model.bin"
    shutil.copyfile(ensure_base_model() / "model.bin", copy)
    with copy.open("r+b") as fh:
        fh.seek(1_000_000)
        byte = fh.read(1)
        fh.seek(1_000_000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(RouteWatchError) as err:
        verify_model_file(copy, BASE_MODEL_SHA256)
    assert err.value.code.value == "E303"
    assert not copy.exists()


def test_a_tampered_cached_model_is_rebuilt_from_the_parts(tmp_path):
    parts, extras, digest = _fake_parts(tmp_path)
    dest = assemble_model(parts, extras, tmp_path / "model", digest)
    (dest / "model.bin").write_bytes(b"first half|second HALF")  # same size, different bytes
    assemble_model(parts, extras, dest, digest)
    assert (dest / "model.bin").read_bytes() == b"first half|second half"


def test_missing_model_packages_raise_not_configured_e301(tmp_path, monkeypatch):
    monkeypatch.setattr(model_mod, "_PART_PACKAGES", ("no_such_model_part1", "no_such_model_part2"))
    with pytest.raises(NotConfigured) as err:
        ensure_base_model(tmp_path)
    assert err.value.code.value == "E301"


def test_model_resolution_errors_are_e301(tmp_path):
    with pytest.raises(NotConfigured) as err:
        resolve_model("large-v3", tmp_path, allow_download=False)
    assert err.value.code.value == "E301"
    with pytest.raises(NotConfigured) as err:
        resolve_model(str(tmp_path), tmp_path, allow_download=True)  # a directory, but not a CT2 model
    assert err.value.code.value == "E301"


def test_a_hub_name_without_a_reachable_hub_is_e301_when_built(tmp_path):
    settings = TranscribeSettings(model="tiny", model_cache_dir=str(tmp_path), allow_download=True)
    with pytest.raises(NotConfigured) as err:
        build_transcriber(settings)
    assert err.value.code.value == "E301"


def test_a_local_ct2_directory_is_accepted_with_its_hash(tmp_path):
    resolved = resolve_model(str(ensure_base_model()), tmp_path, allow_download=False)
    assert resolved.sha256 == BASE_MODEL_SHA256


def test_module_entry_point_prints_the_model_dir(tmp_path):
    env = {**os.environ, "ROUTEWATCH_MODEL_CACHE": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "transcribe.model"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.strip() == str(tmp_path / "whisper-base-ct2")
