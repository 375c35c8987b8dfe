"""Shared fixtures: factories, not shared state (CONVENTIONS §9).

`make_post(**overrides)`, `fresh_catalog(tmp_path)`, `demo_server`, `shared_data`, and the one
session-wide end-to-end demo run that several integration tests read from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from routewatch.core.catalog import Catalog
from routewatch.core.records import Post, post_id_for

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ROUTEWATCH_SHARED_DATA") or REPO.parent / "shared" / "data")
CLI = [sys.executable, "-m", "routewatch"]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.exists():
        pytest.fail(f"shared data not found at {SHARED}; set ROUTEWATCH_SHARED_DATA")
    return SHARED


def make_post(**overrides) -> Post:
    platform = overrides.pop("platform", "telegram")
    platform_id = overrides.pop("platform_id", "chan/1")
    base = dict(
        post_id=post_id_for(platform, platform_id), platform=platform, platform_id=platform_id,
        url=f"https://t.me/{platform_id}", source="test", caption="先飞土耳其再到厄瓜多尔",
        posted_at="2026-11-02T08:00:00Z", captured_at="2026-11-03T00:00:00Z", lang="zh",
    )
    base.update(overrides)
    return Post(**base)


@pytest.fixture
def post_factory():
    return make_post


@pytest.fixture
def fresh_catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


@pytest.fixture
def demo_server():
    from routewatch.demo.server import DemoServer

    with DemoServer() as srv:
        yield srv


def run_cli(*args: str, data_dir: Path | None = None, env: dict | None = None, timeout: float = 900,
            check: bool = True) -> subprocess.CompletedProcess:
    cmd = [*CLI, *args]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    e = {**os.environ, **(env or {})}
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, check=False)
    if check and cp.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {cp.returncode}\nstdout:{cp.stdout[-3000:]}\nstderr:{cp.stderr[-3000:]}")
    return cp


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The whole demo, run once per session through the real CLI; returns (data_dir, summary)."""
    d = tmp_path_factory.mktemp("demo") / "data"
    cp = run_cli("demo", "--json", data_dir=d, timeout=1800)
    return d, json.loads(cp.stdout)


def write_demo_config(path: Path, server, **crawl_overrides) -> Path:
    """A routewatch.toml pointing the demo sources at a running demo server."""
    from routewatch.demo.server import DEMO_BASE

    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in crawl_overrides.items())
    path.write_text(
        "[crawl]\n"
        f'allow_hosts = ["{server.hostport}"]\n'
        f"{extra}"
        "[crawl.origins]\n"
        f'telegram = "{server.origin}"\n'
        f'demo = "{server.origin}"\n'
        '[[sources]]\nname = "telegram:zouxian_notes"\nurls = ["https://t.me/s/zouxian_notes"]\n'
        '[[sources]]\nname = "telegram:ruta_norte"\nurls = ["https://t.me/s/ruta_norte"]\n'
        f'[[sources]]\nname = "feed:demo"\nurls = ["{DEMO_BASE}/feed.xml"]\n'
        f'[[sources]]\nname = "seeds:demo"\nurls = ["{DEMO_BASE}/seeds.txt"]\n',
        encoding="utf-8",
    )
    return path
