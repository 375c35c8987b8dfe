"""Evidence bundles a fact-checker can check alone (issue 14), on the real demo.

`routewatch verify` passes on a fresh bundle and fails, naming the file, after one byte of any file is changed;
`sha256sum -c SHA256SUMS` passes in the unpacked bundle; a Telegram post has its own page snapshot; provenance
names canonical URLs, never the demo server's address; the raw mode keeps the snapshot as fetched.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import pytest

from routewatch.evidence import verify_report
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

POST = "telegram-58d715e41f4292f5"  # zouxian_notes/231: a forwarded Telegram message with a video


@pytest.fixture(scope="module")
def bundle(demo_run, tmp_path_factory) -> Path:
    d, _ = demo_run
    z = tmp_path_factory.mktemp("bundle") / "evidence.zip"
    run_cli("evidence", POST, "-o", str(z), data_dir=d)
    return z


def unpack(z: Path, into: Path) -> Path:
    with zipfile.ZipFile(z) as f:
        f.extractall(into)
    return into


def test_a_fresh_bundle_verifies_and_sha256sum_accepts_it(bundle, tmp_path):
    cp = run_cli("verify", str(bundle))
    assert cp.returncode == 0 and cp.stdout.strip().endswith("verified: every hash matches")
    assert cp.stdout.count("proves:") == cp.stdout.count("does not prove:") >= 4
    assert "FAIL" not in cp.stdout
    d = unpack(bundle, tmp_path / "x")
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=d, capture_output=True, text=True, check=False)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    files = sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.is_file())
    assert sorted(line.rsplit(": ", 1)[0] for line in sums.stdout.splitlines()) == [f for f in files if f != "SHA256SUMS"]
    assert all(line.endswith(": OK") for line in sums.stdout.splitlines())


def test_a_telegram_post_has_its_own_page_and_provenance_names_canonical_urls(bundle, demo_run, tmp_path):
    d = unpack(bundle, tmp_path / "x")
    prov = json.loads((d / "provenance.json").read_text(encoding="utf-8"))
    pages = {s["page"]: s for s in prov["snapshots"]}
    own, listing = pages["the post's own page"], pages["a listing"]
    assert own["url"].startswith("https://t.me/user-") and own["url"].endswith("/231?embed=1")
    assert listing["url"].startswith("https://t.me/s/user-")
    html = (d / own["file"]).read_text(encoding="utf-8")
    assert html.count("js-widget_message'") == 1 and "/231'" in html  # that message alone
    db = sqlite3.connect(Path(demo_run[0]) / "catalog.sqlite")
    fetched = {u: h for u, h in db.execute("SELECT url, sha256 FROM snapshots")}
    assert own["sha256_as_fetched"] == fetched["https://t.me/zouxian_notes/231?embed=1"]
    # the default bundle carries redacted copies: their own hash differs and the statement says both
    for s in prov["snapshots"]:
        body = (d / s["file"]).read_bytes()
        assert s["copy"] == "redacted" and hashlib.sha256(body).hexdigest() == s["sha256_of_file"] != s["sha256_as_fetched"]
    assert prov["redaction"]["rules_sha256"] and "pseudonyms" in prov["redaction"]["how"]
    statement = json.loads((d / "statement.json").read_text(encoding="utf-8"))
    assert [s["sha256_as_fetched"] for s in statement["snapshots"]] == [s["sha256_as_fetched"] for s in prov["snapshots"]]
    info = json.loads((d / "media/info.json").read_text(encoding="utf-8"))
    assert info["webpage_url"] == info["original_url"] == prov["media"]["canonical_url"] == \
        "https://demo.routewatch.invalid/media/p10_fwd_ecuador_visa_free.mp4"
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in d.rglob("*") if p.is_file() and p.suffix != ".mp4"]
    assert not [t for t in texts if "127.0.0.1" in t or "localhost" in t]


def _changed(src: Path, dst: Path, name: str) -> Path:
    """A copy of the bundle with one byte of `name` changed (its middle byte, bit 0 flipped)."""
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as out:
        for n in z.namelist():
            b = bytearray(z.read(n))
            if n == name:
                b[len(b) // 2] ^= 0x01
            out.writestr(n, bytes(b))
    return dst


def test_changing_one_byte_of_any_file_fails_and_names_that_file(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
    assert {"SHA256SUMS", "manifest.json", "statement.json", "statement.sig", "signing_key.txt", "post.json",
            "provenance.json", "media/info.json", "text_units.json"} <= set(names) and len(names) >= 13
    for name in names:
        bad = _changed(bundle, tmp_path / "bad.zip", name)
        failed = [c.file for c in verify_report(bad) if not c.ok]
        assert failed == [name], (name, failed)
    # the command: exit 1 and the file named, for a snapshot and for SHA256SUMS itself
    snap = next(n for n in names if n.startswith("snapshots/"))
    for name in (snap, "SHA256SUMS"):
        cp = run_cli("verify", str(_changed(bundle, tmp_path / "bad.zip", name)), check=False)
        assert cp.returncode == 1 and f"FAIL {name}:" in cp.stdout and cp.stdout.strip().endswith("NOT verified")


def test_a_file_added_or_removed_fails(bundle, tmp_path):
    added = tmp_path / "added.zip"
    shutil.copy(bundle, added)
    with zipfile.ZipFile(added, "a") as z:
        z.writestr("snapshots/99-extra.html", b"<html>planted</html>")
    assert [(c.file, c.ok) for c in verify_report(added) if not c.ok] == [("snapshots/99-extra.html", False)]
    removed = tmp_path / "removed.zip"
    with zipfile.ZipFile(bundle) as z, zipfile.ZipFile(removed, "w") as out:
        for n in z.namelist():
            if n != "text_units.json":
                out.writestr(n, z.read(n))
    assert [c.file for c in verify_report(removed) if not c.ok] == ["text_units.json"]


def test_the_raw_mode_keeps_each_snapshot_as_fetched(demo_run, tmp_path):
    z = tmp_path / "raw.zip"
    run_cli("evidence", POST, "-o", str(z), data_dir=demo_run[0], env={"ROUTEWATCH_PRIVACY__RAW_EVIDENCE": "true"})
    checks = verify_report(z)
    assert all(c.ok for c in checks)
    d = unpack(z, tmp_path / "x")
    prov = json.loads((d / "provenance.json").read_text(encoding="utf-8"))
    for s in prov["snapshots"]:
        assert s["copy"] == "as fetched"
        assert hashlib.sha256((d / s["file"]).read_bytes()).hexdigest() == s["sha256_as_fetched"]
    assert sum("as fetched from https://t.me/zouxian_notes/231?embed=1" in c.what for c in checks) == 1
