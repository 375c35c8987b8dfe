"""docker-compose.yml (no Docker here): it parses, has postgres + elasticsearch + replicated workers + web, every
service that runs RouteWatch runs a real `routewatch` command with options that command accepts, and the
environment it sets loads as settings with PostgreSQL as catalog (and so as shared politeness budget)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
import yaml

from routewatch.cli import app

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[1] / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
RW = sorted(name for name, svc in SERVICES.items() if (svc.get("command") or [""])[0] == "routewatch")


def interpolate(value: str) -> str:
    """Compose's `${VAR:-default}` with nothing set, and `$$` as `$`."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: m.group(2), value).replace("$$", "$")


def test_the_services_of_a_distributed_monitor():
    assert sorted(SERVICES) == ["elasticsearch", "postgres", "web", "worker", "worker-transcribe"]
    assert RW == ["web", "worker", "worker-transcribe"]
    assert int(interpolate(str(SERVICES["worker"]["deploy"]["replicas"]))) == 2
    assert int(interpolate(str(SERVICES["worker-transcribe"]["deploy"]["replicas"]))) == 1
    assert SERVICES["postgres"]["build"]["dockerfile_inline"].startswith("FROM debian:")
    assert "ports" not in SERVICES["postgres"]  # the catalog is reached on the compose network only
    for name in RW:
        assert "FROM python:3.11-slim" in SERVICES[name]["build"]["dockerfile_inline"]
        assert set(SERVICES[name]["depends_on"]) == {"postgres", "elasticsearch"}


@pytest.mark.parametrize("name", RW)
def test_each_service_runs_a_real_routewatch_command(name):
    words = SERVICES[name]["command"]
    commands = typer.main.get_command(app).commands
    if words[1] == "worker" and "worker" not in commands:
        pytest.skip("`routewatch worker` comes with the job queue (issue 17, the worker part); not on this branch")
    cmd = commands[words[1]]
    ctx = cmd.make_context(words[1], list(words[2:]))  # an unknown option or a bad value raises here
    given = dict(zip(words[2::2], words[3::2], strict=True))
    got = {f"--{k.replace('_', '-')}": ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v)
           for k, v in ctx.params.items()}
    assert {k: got.get(k) for k in given} == given  # each option read as written


def test_a_command_with_an_unknown_option_is_refused():
    with pytest.raises(Exception, match="No such option: --replicas"):
        typer.main.get_command(app).commands["serve"].make_context("serve", ["--replicas", "2"])


@pytest.mark.parametrize("name", RW)
def test_each_service_loads_postgresql_and_elasticsearch_settings(name, tmp_path, monkeypatch):
    from routewatch.settings import load_settings

    env = {k: interpolate(str(v)) for k, v in SERVICES[name]["environment"].items()}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = load_settings(tmp_path)
    assert s.catalog.url == "postgresql://routewatch:change-me@postgres:5432/routewatch"
    assert s.crawl.shared_budget_url == s.catalog.url
    assert (s.index.backend, s.index.es_url) == ("elasticsearch.v1", "http://elasticsearch:9200")
