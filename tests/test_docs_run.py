"""Docs are executed (CONVENTIONS §18): every command line of README.md and every `Example:` of `--help`,
typed into bash as written, against the demo data (the session's `demo_run`).

Each run fails on a traceback, an exit code other than the documented one, a file left in the working
directory that the command does not document, or output that contradicts what README.md says about it.
Human output is checked at 60 and 200 columns, piped and in a terminal (a pty through `script`), and the
JSON form beside it. Commands that cannot run here are listed in NOT_RUN with the reason.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import typer.main

from routewatch.cli import app
from tests.conftest import REPO, SHARED, write_demo_config

pytestmark = pytest.mark.slow

README = (REPO / "README.md").read_text(encoding="utf-8")
VENV_BIN = REPO / ".venv" / "bin"
TIMEOUT = 300


def fenced_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(language, lines) of every fenced block."""
    return [(m.group(1), m.group(2).splitlines()) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)]


def readme_commands() -> list[str]:
    """Every line of a shell (untagged or bash) block: what a person pastes."""
    return [ln for lang, lines in fenced_blocks(README) if lang in ("", "bash", "sh") for ln in lines if ln.strip()]


def help_examples() -> dict[str, str]:
    """Every `Example:` line of every command's help: "search", then "search#2", "search#3" …"""
    out = {}
    for name, cmd in typer.main.get_command(app).commands.items():
        found = re.findall(r"^\s*Example: (routewatch .+?)\s*$", cmd.help or "", re.M)
        assert found, f"{name}: no Example in --help"
        for i, line in enumerate(found, 1):
            out[name if i == 1 else f"{name}#{i}"] = line
    return out


# ---- the environment a reader has after `make demo`: ./routewatch-data and .venv/bin on the PATH ----------
def _env(columns: int | None = 200, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEWATCH_") or k == "ROUTEWATCH_SHARED_DATA"}
    env.update(PATH=f"{VENV_BIN}:{env.get('PATH', '')}", PYTHONPATH=str(REPO), TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    if columns:
        env["COLUMNS"] = str(columns)
    env.update(extra)
    return env


def bash(line: str, cwd: Path, *, columns: int | None = 200, tty: bool = False, timeout: float = TIMEOUT,
         **env: str) -> subprocess.CompletedProcess:
    cmd = ["script", "-qec", f"bash -c {shlex.quote(line)}", "/dev/null"] if tty else ["bash", "-c", line]
    return subprocess.run(cmd, cwd=cwd, env=_env(columns, **env), capture_output=True, text=True, timeout=timeout,
                          check=False)


def files_in(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*") if ".venv" not in p.parts and "routewatch-data" not in p.parts}


def checked(cp: subprocess.CompletedProcess, line: str, rc: int = 0) -> str:
    both = cp.stdout + cp.stderr
    assert "Traceback" not in both, f"{line!r} ended in a traceback:\n{both[-3000:]}"
    assert cp.returncode == rc, f"{line!r} exited {cp.returncode}, expected {rc}:\n{both[-3000:]}"
    return cp.stdout


@pytest.fixture(scope="module")
def reader(demo_run, tmp_path_factory):
    """A fresh working directory as after `make demo` in a clone: `.venv` and `routewatch-data` in it."""
    data, _ = demo_run
    cwd = tmp_path_factory.mktemp("reader")
    (cwd / ".venv").symlink_to(REPO / ".venv")
    (cwd / "routewatch-data").symlink_to(data)
    return cwd, data


def _db(data: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True)


@functools.cache
def _json_of(line: str, cwd: Path) -> dict | list:
    """The --json form of a README line (run once per session: the modes below share it)."""
    line = line.split("#")[0].strip()
    return json.loads(checked(bash(line if "--json" in line else line + " --json", cwd), line))


def _ids_json(line: str, cwd: Path) -> list[str]:
    return [h["post_id"] for h in _json_of(line, cwd)["hits"]]


# ---- what README.md says each "Then try" line does --------------------------------------------------------
def _texts(data: Path, pid: str) -> str:
    with _db(data) as db:
        return " ".join(r[0] for r in db.execute("SELECT text FROM units WHERE post_id=?", (pid,)))


def expect_chinese(out: str, cwd: Path, data: Path, line: str) -> None:
    ids = _ids_json(line, cwd)
    assert len(ids) >= 5 and re.search(r"^\d+ of \d+ \(exact\)", out, re.M), out[:500]
    assert re.search(r"\d+\.\d–\d+\.\d s", out), "transcript hits show seconds"
    for pid in ids:  # every id printed whole (never cut with …), so `evidence ID` works
        assert re.search(rf"(^|\s|│){re.escape(pid)}(\s|│|$)", out, re.M), f"{pid} not printed in full"


def expect_darien_json(out: str, cwd: Path, data: Path, line: str) -> None:
    d = json.loads(out)
    assert d["total"] >= 2 and d["total_relation"] == "eq"
    assert any("Darién" in h["snippet"] for h in d["hits"]), "accents optional: Darien finds Darién"


def expect_onscreen(out: str, cwd: Path, data: Path, line: str) -> None:
    hits = [h for h in _json_of(line, cwd)["hits"] if h["source"] == "onscreen"]
    assert len(hits) == 1 and 2.1 <= hits[0]["start_sec"] <= 4.1, hits  # p30's second caption line, from 3.1 s
    assert "onscreen" in out and re.search(r"\d+\.\d–\d+\.\d s", out), out[:500]


def expect_not_tapachula(out: str, cwd: Path, data: Path, line: str) -> None:
    ids = _ids_json(line, cwd)
    assert ids, "darien without tapachula finds posts in the demo"
    for pid in ids:
        assert "darién" in _texts(data, pid).lower() or "darien" in _texts(data, pid).lower()
        assert "tapachula" not in _texts(data, pid).lower(), f"{pid} mentions Tapachula"


def expect_route(out: str, cwd: Path, data: Path, line: str) -> None:
    ids = _ids_json(line, cwd)
    assert len(ids) >= 2, "the README's route example finds demo posts"
    with _db(data) as db:
        for pid in ids:
            route = db.execute("SELECT route FROM idx_posts WHERE post_id=?", (pid,)).fetchone()[0]
            assert re.search(r">EC>(.*>)?CO>", route), (pid, route)


def expect_country(out: str, cwd: Path, data: Path, line: str) -> None:
    ids = _ids_json(line, cwd)
    assert ids
    with _db(data) as db:
        for pid in ids:
            assert "|PA|" in db.execute("SELECT countries FROM idx_posts WHERE post_id=?", (pid,)).fetchone()[0]


def expect_trends(out: str, cwd: Path, data: Path, line: str) -> None:
    assert "period" in out and "country" in out and re.search(r"2026-W\d\d", out), out[:500]
    rows = _json_of(line, cwd)["rows"]
    assert rows and all(0 < r["count"] <= r["total"] for r in rows)
    for r in rows[:5]:
        assert r["period"] in out and r["value"] in out


def expect_status(out: str, cwd: Path, data: Path, line: str) -> None:
    assert "failures by code" in out and "E204" in out, "the truncated video ends as a failure row (E204)"
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", out), "last run is shown as a time"


THEN_TRY = {
    "search 厄瓜多尔": expect_chinese,
    "search Darien --json": expect_darien_json,
    "search 船票八十五美金": expect_onscreen,
    'search "darien -tapachula"': expect_not_tapachula,
    "search \"\" --route 'EC>CO'": expect_route,
    'search "" --country Panamá': expect_country,
    "trends --by week --field country": expect_trends,
    "status": expect_status,
}
NOT_RUN = {
    "make demo": "builds the venv and runs the demo: the `demo_run` fixture runs `routewatch demo` itself",
    "make test": "runs this suite",
    "docker compose": "no Docker here; the es-marked test runs this block against the test node",
    "export ROUTEWATCH_CATALOG_URL": "names a PostgreSQL and an Elasticsearch server of the reader's (Scaling out)",
    "routewatch worker": "runs until stopped, on a PostgreSQL catalog (Scaling out; the worker tests start workers)",
}
ES_BLOCK = ("mkdir -p routewatch-data", "export ROUTEWATCH_INDEX_BACKEND", "routewatch index --rebuild",
            "routewatch search 厄瓜多尔 --route 'EC>CO'")


def _then_try(line: str):
    cmd = line.split("#")[0].strip().removeprefix(".venv/bin/routewatch ").strip()
    return THEN_TRY.get(cmd)


def test_every_readme_command_is_run_here():
    """Adding a command to README.md without saying here what it must print fails this test."""
    for line in readme_commands():
        assert _then_try(line) or line.startswith(ES_BLOCK) or any(line.startswith(k) for k in NOT_RUN), \
            f"README command not covered by tests/test_docs_run.py: {line!r}"


@pytest.mark.parametrize("mode", ["piped-60", "piped-200", "tty-200"])
def test_readme_then_try(reader, mode):
    cwd, data = reader
    lines = [ln for ln in readme_commands() if _then_try(ln)]
    assert len(lines) == len(THEN_TRY), "every expectation above matches a README line"
    kind, cols = mode.split("-")
    for line in lines:
        before = files_in(cwd)
        cp = bash(line, cwd, columns=int(cols), tty=kind == "tty")
        out = checked(cp, line)
        assert files_in(cwd) == before, f"{line!r} left files in the working directory: {files_in(cwd) - before}"
        assert out.strip(), f"{line!r} printed nothing"
        if kind == "tty":
            out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r", "", out)
        if "--json" in line or kind == "piped":
            _then_try(line)(out, cwd, data, line)


def test_cli_answers_one_line_errors(reader):
    """README: bad input exits 2 with one line `E### reason` (a missing option, a bad value, bad syntax)."""
    cwd, _ = reader
    cases = {
        "routewatch digest --week 2026-W45": "E903", "routewatch search x --lang xx": "E903",
        "routewatch search x --currency XYZ --min-cost 1": "E903",
        "routewatch search x --min-cost 500 --max-cost 100 --currency USD": "E903",
        "routewatch search '' --country Narnia": "E908", "routewatch search '\"darien'": "E505",
        "routewatch search 'darien )'": "E506", "routewatch search 'NOT'": "E507",
        "routewatch digest --week 9999-W52 --out d": "E903", "routewatch serve --port 70000": "E903",
        "routewatch trace x --limit -1": "E903", "routewatch evidence demo- -o e.zip": "E907",
        "routewatch evidence nothing-here -o e.zip": "E903", "routewatch search --bogus": "E903",
    }
    for line, code in cases.items():
        cp = bash(line, cwd, columns=60)
        checked(cp, line, rc=2)
        lines = cp.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(code + " "), f"{line!r}: {cp.stderr!r}"
        assert not (cwd / "d").exists() and not (cwd / "e.zip").exists()


# ---- every `Example:` of --help, as typed ---------------------------------------------------------------------
HELP_NOT_RUN = {
    "bench": "minutes of CPU on the 2-core machine; tests/test_bench.py runs its parts",
    "demo": "the session's `demo_run` fixture is `routewatch demo --json --data-dir DIR` itself",
    "migrate-catalog": "needs a PostgreSQL server: tests/catalog/test_migrate_catalog.py runs it, on the demo catalog too",
    "worker": "needs a PostgreSQL catalog and runs until SIGTERM: tests/catalog/test_distributed.py starts real workers "
              "(and checks the E970 an SQLite catalog gets)",
}
# Files an example is documented to write (everything else new in the working directory is a stray file).
WRITES = {"digest": {"digests", "digests/2026-W45", "digests/2026-W45/digest.html", "digests/2026-W45/digest.md"},
          "digest#2": {"digests/2026-W45-all", "digests/2026-W45-all/digest.html", "digests/2026-W45-all/digest.md"},
          "evidence": {"evidence.zip"}, "export": {"posts.parquet"}, "export#2": {"sure.csv"},
          "annotate": {"annotated.jsonl"},
          "transcribe-file": {"clip.jsonl"}, "ocr-file": {"clip.ocr.jsonl"}}
WRITES_UNDER = {"digest": "digests/2026-W45/", "digest#2": "digests/2026-W45-all/"}  # and its SVG charts


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def workshop(demo_run, tmp_path_factory):
    """A copy of the demo data (examples like `index --rebuild` write to it) and the example's input files."""
    data, _ = demo_run
    cwd = tmp_path_factory.mktemp("examples")
    shutil.copytree(data, cwd / "routewatch-data", ignore=shutil.ignore_patterns("*.lock"))
    (cwd / ".venv").symlink_to(REPO / ".venv")
    shutil.copy(REPO / "tests" / "data" / "zeeschuimer" / "tiktok_douyin.ndjson", cwd / "tiktok-2026-11.ndjson")
    shutil.copy(SHARED / "gold_dev.jsonl", cwd / "gold.jsonl")
    (cwd / "posts.jsonl").write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in
                                             enumerate(["先飞土耳其再到厄瓜多尔", "Cruzamos el Darién", "PCB走线教程"])),
                                     encoding="utf-8")
    with _db(data) as db:  # the smallest video that was transcribed (not the demo's truncated one): the
        # transcribe-file and ocr-file examples both read clip.mp4, so it has sound and pictures
        clip = db.execute("SELECT m.path FROM media m JOIN post_transcripts pt ON pt.post_id = m.post_id "
                          "WHERE m.path LIKE '%.mp4' ORDER BY m.size LIMIT 1").fetchone()[0]
    shutil.copy(data / clip, cwd / "clip.mp4")
    return cwd


def test_help_examples_run_as_typed(workshop, demo_server):
    cwd = workshop
    examples = help_examples()
    write_demo_config(cwd / "routewatch.toml", demo_server)
    origin = {"ROUTEWATCH_ORIGIN_TELEGRAM": demo_server.origin, "ROUTEWATCH_ALLOW_HOSTS": demo_server.hostport}
    ran = []
    # `import` last: the posts it adds point at platform CDNs, which no later example may try to fetch offline
    for name, line in sorted(examples.items(), key=lambda kv: (kv[0] == "import", kv[0])):
        command = name.split("#")[0]
        if command in HELP_NOT_RUN:
            continue
        before = files_in(cwd)
        if command == "serve":
            _serve_example(line, cwd)
            ran.append(name)
            continue
        # crawl and recheck reach the platform: here the demo server stands in for it, as in README's demo
        cp = bash(line, cwd, columns=80, **(origin if command in ("crawl", "recheck") else {}))
        out = checked(cp, line)
        new = {f for f in files_in(cwd) - before if not (name in WRITES_UNDER and f.startswith(WRITES_UNDER[name]))}
        assert new <= WRITES.get(name, set()), f"{line!r} left undocumented files: {new - WRITES.get(name, set())}"
        assert WRITES.get(name, set()) <= files_in(cwd), f"{line!r} did not write {WRITES[name]}"
        if "--json" in line:
            json.loads(out)
        ran.append(name)
    assert set(ran) | {n for n in examples if n.split("#")[0] in HELP_NOT_RUN} == set(examples)
    with zipfile.ZipFile(cwd / "evidence.zip") as z:  # the example's id prefix named one demo post
        assert any("manifest" in n for n in z.namelist())
    assert len((cwd / "annotated.jsonl").read_text(encoding="utf-8").splitlines()) == 3


def _serve_example(line: str, cwd: Path) -> None:
    import urllib.request

    port = int(re.search(r"--port (\d+)", line).group(1))
    if not _free(port):
        pytest.skip(f"port {port} of the example is taken on this machine")
    p = subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if not _free(port):
                break
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?q=darien+-tapachula", timeout=30) as r:  # noqa: S310
            page = r.read().decode()
        assert r.status == 200 and re.search(r"\d+ of \d+ \(exact\)", page) and "Tapachula" not in page
    finally:
        p.terminate()
        _, err = p.communicate(timeout=30)
    assert "Traceback" not in err and f"http://127.0.0.1:{port}/" in err


@pytest.mark.es
def test_readme_elasticsearch_block(workshop):
    """The README's Elasticsearch block, on the test node: index --rebuild, then its search."""
    url = os.environ.get("ROUTEWATCH_ES_URL")
    if not url:
        pytest.skip("ROUTEWATCH_ES_URL not set")
    block = next(lines for lang, lines in fenced_blocks(README) if any("docker compose" in ln for ln in lines))
    env = {"ROUTEWATCH_INDEX_BACKEND": "elasticsearch", "ROUTEWATCH_ES_URL": url,
           "ROUTEWATCH_INDEX__ES_INDEX": f"rw-readme-{os.getpid()}"}
    try:
        for line in block:
            if line.startswith(("routewatch ", "mkdir ")):
                out = checked(bash(line, workshop, **env), line)
        assert re.search(r"^2 of 2 \(exact\)", out, re.M), out
    finally:
        from elasticsearch import Elasticsearch

        es = Elasticsearch(url).options(ignore_status=404)
        prefix = f"rw-readme-{os.getpid()}"
        names = list(es.indices.get(index=f"{prefix}-*", allow_no_indices=True).body)  # wildcard deletes are refused
        for name in names:
            es.indices.delete(index=name)
        es.indices.delete_index_template(name=f"{prefix}-template")
        es.close()
