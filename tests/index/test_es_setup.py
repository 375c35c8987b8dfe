"""The Elasticsearch set-up files agree with each other: one pinned version everywhere."""

from __future__ import annotations

import re
import subprocess

import yaml
from index_helpers import ES_SH, REPO


def es_version() -> str:
    m = re.search(r'^ES_VERSION="(9\.\d+\.\d+)"$', ES_SH.read_text(encoding="utf-8"), re.M)
    assert m, "scripts/es.sh must pin a 9.x ES_VERSION"
    return m.group(1)


def test_es_script_is_valid_bash_and_rejects_unknown_commands():
    assert subprocess.run(["bash", "-n", str(ES_SH)], check=False).returncode == 0
    cp = subprocess.run(["bash", str(ES_SH), "restart"], capture_output=True, text=True, check=False,
                        env={"PATH": "/usr/bin:/bin", "ROUTEWATCH_ES_DIR": str(REPO / ".es")})
    assert cp.returncode == 2
    assert "usage: scripts/es.sh up|down|status" in cp.stderr


def test_compose_runs_the_tested_version_with_the_workers_on_elasticsearch():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["elasticsearch"]["image"].endswith(f":{es_version()}")
    assert services["elasticsearch"]["environment"]["xpack.security.enabled"] == "false"
    for name in ("worker", "worker-transcribe", "web"):
        env = services[name]["environment"]
        assert env["ROUTEWATCH_INDEX_BACKEND"] == "elasticsearch.v1"
        assert env["ROUTEWATCH_ES_URL"] == "http://elasticsearch:9200"
        assert services[name]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
        assert "healthcheck" in services[name]
    assert services["worker"]["command"][:2] == ["routewatch", "worker"]  # issue 17: workers of the job queue
    assert services["web"]["command"][:2] == ["routewatch", "serve"]


def test_readme_names_the_version_that_ran_here():
    assert f"integ-test-zip {es_version()}" in (REPO / "README.md").read_text(encoding="utf-8")
