"""The safe output writer (routewatch.core.outputs) and the commands that write files through it: what a user
would lose if `-o` pointed at the catalog, the input, a FIFO, a symlink or a device, and what a killed export
leaves behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from routewatch.core.catalog import Catalog
from routewatch.core.errors import RouteWatchError
from routewatch.core.outputs import check_output, open_output, write_output
from tests.conftest import CLI, make_post, run_cli


def _code(fn, *a, **kw) -> str:
    with pytest.raises(RouteWatchError) as ei:
        fn(*a, **kw)
    return ei.value.code.value


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    cat = Catalog(d / "catalog.sqlite")
    with cat.tx():
        for i in range(3):
            cat._upsert_post(make_post(platform_id=f"chan/{i}", caption=f"先飞土耳其 {i}"))
    cat.close()
    (d / "media" / "ab").mkdir(parents=True)
    (d / "media" / "ab" / "clip.mp4").write_bytes(b"\x00" * 10)
    return d


def test_writes_atomically_and_keeps_mode(tmp_path):
    p = tmp_path / "out.txt"
    write_output(p, "one\n")
    assert p.read_text() == "one\n"
    os.chmod(p, 0o640)
    write_output(p, "two\n")
    assert p.read_text() == "two\n" and (p.stat().st_mode & 0o777) == 0o640
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.txt"]


def test_error_inside_the_block_leaves_target_and_no_temp(tmp_path):
    p = tmp_path / "out.txt"
    p.write_text("old")
    with pytest.raises(ZeroDivisionError), open_output(p) as f:
        f.write("half")
        1 / 0  # noqa: B018 - the failure being tested
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["out.txt"]


def test_data_dir_files_are_refused(data_dir, tmp_path):
    for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", ".routewatch.lock",
                 ".pseudonym.key", "routewatch.toml", "media/ab/clip.mp4", "media/new.csv", "snapshots/x"):
        assert _code(check_output, data_dir / name, data_dir=data_dir) == "E913", name
    # a hard link to the catalog elsewhere is the same file
    os.link(data_dir / "catalog.sqlite", tmp_path / "copy.db")
    assert _code(check_output, tmp_path / "copy.db", data_dir=data_dir) == "E913"
    os.link(data_dir / "media" / "ab" / "clip.mp4", tmp_path / "clip-link.mp4")
    assert _code(check_output, tmp_path / "clip-link.mp4", data_dir=data_dir) == "E913"
    # any SQLite database needs --force, even another data dir's catalog
    other = Catalog(tmp_path / "other" / "catalog.sqlite")
    other.close()
    assert _code(check_output, tmp_path / "other" / "catalog.sqlite") == "E913"
    assert check_output(tmp_path / "other" / "catalog.sqlite", force=True).through is False
    # a new file beside the catalog is fine
    assert check_output(data_dir / "export.csv", data_dir=data_dir).path == (data_dir / "export.csv").resolve()


def test_inputs_symlinks_and_special_files(tmp_path):
    inp = tmp_path / "in.jsonl"
    inp.write_text("{}\n")
    assert _code(check_output, inp, inputs=[inp]) == "E914"
    assert _code(check_output, inp, inputs=[inp], force=True) == "E914"
    os.link(inp, tmp_path / "hard.jsonl")
    assert _code(check_output, tmp_path / "hard.jsonl", inputs=[inp]) == "E914"
    (tmp_path / "sym.jsonl").symlink_to(inp)
    assert _code(check_output, tmp_path / "sym.jsonl", inputs=[inp], force=True) == "E914"
    other = tmp_path / "other.txt"
    other.write_text("x")
    (tmp_path / "link.txt").symlink_to(other)
    assert _code(check_output, tmp_path / "link.txt") == "E915"
    write_output(tmp_path / "link.txt", "through", force=True)
    assert (tmp_path / "link.txt").is_symlink() and other.read_text() == "through"
    os.mkfifo(tmp_path / "fifo")
    assert _code(check_output, tmp_path / "fifo") == "E915"
    t0 = time.monotonic()
    assert _code(write_output, tmp_path / "fifo", "x", force=True) == "E916"  # nobody reads: no hang
    assert time.monotonic() - t0 < 2
    (tmp_path / "to-stdout").symlink_to("/dev/stdout")
    for p in ("/dev/stdout", "/dev/null", "/proc/self/fd/1", "/sys/kernel/x", tmp_path / "to-stdout"):
        assert _code(check_output, p, force=True) == "E915", p
    assert _code(check_output, tmp_path) == "E915"  # a directory


def test_sigterm_leaves_no_temp_file(tmp_path):
    code = (
        "import sys, time\n"
        "from routewatch.core.outputs import open_output\n"
        "with open_output(sys.argv[1]) as f:\n"
        "    f.write('x' * 1000)\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(30)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "out.csv")], stdout=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert p.stdout.readline().strip() == "ready"
    assert len(list(tmp_path.iterdir())) == 1  # the temp file exists while writing
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == 143
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_catalog_and_own_input(data_dir, tmp_path):
    cat_bytes = (data_dir / "catalog.sqlite").read_bytes()
    cp = run_cli("export", "--format", "csv", "-o", str(data_dir / "catalog.sqlite"), data_dir=data_dir, check=False)
    assert cp.returncode != 0 and cp.stderr.startswith("E913"), cp.stderr
    assert (data_dir / "catalog.sqlite").read_bytes() == cat_bytes
    cp = run_cli("export", "--format", "jsonl", "-o", str(tmp_path / "posts.jsonl"), data_dir=data_dir)
    assert len((tmp_path / "posts.jsonl").read_text(encoding="utf-8").splitlines()) == 3
    posts = tmp_path / "posts.jsonl"
    before = posts.read_bytes()
    cp = subprocess.run([*CLI, "annotate", str(posts), "-o", str(posts)], capture_output=True, text=True, check=False)
    assert cp.returncode != 0 and cp.stderr.startswith("E914"), cp.stderr
    assert posts.read_bytes() == before
