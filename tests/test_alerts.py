"""Saved searches and alerts through the real CLI on a real catalog and index: the baseline, exactly the new
matches after more posts arrive (no repeats, no gaps, also when the process is killed between computing and
marking), the webhook with retries against a local HTTP server, and the coded refusals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading

import pytest

from tests.conftest import CLI, run_cli
from tests.httpserver import TestServer, respond
from tests.search_world import add_posts, gold

ECCO = ("EC", "CO")


def _rows(prefix: str, n: int, route=ECCO, day: int = 1, text: str = "走线 从厄瓜多尔到哥伦比亚"):
    return [(f"{prefix}/{i}", f"{text} {prefix}{i}", f"2026-11-{day + i % 20:02d}T08:{i:02d}:00Z", gold(route))
            for i in range(n)]


def _alerts(d, *args, env=None, check=True):
    cp = run_cli("alerts", "--json", *args, data_dir=d, env=env, check=check)
    return cp, (json.loads(cp.stdout) if cp.returncode == 0 else None)


def _ids(result) -> list[tuple[str, str]]:
    return sorted((a["saved_search"], a["post_id"]) for a in result["alerts"])


@pytest.fixture
def world(tmp_path):
    d = tmp_path / "data"
    first = add_posts(d, _rows("a", 6) + _rows("t", 3, route=("TR", "EC"), text="先飞土耳其再到厄瓜多尔"))
    return d, first


def test_saved_search_lists_exactly_the_new_posts(world):
    d, first = world
    cp = run_cli("saved", "add", "colombia", "--route", "EC>CO", "--json", data_dir=d)
    assert json.loads(cp.stdout)["baseline"] == 6
    run_cli("saved", "add", "turkey", "土耳其", "--json", data_dir=d)
    listed = json.loads(run_cli("saved", "list", "--json", data_dir=d).stdout)["saved_searches"]
    assert [(s["name"], s["query"], s["filters"], s["unseen"]) for s in listed] == [
        ("colombia", "", {"route": "EC>CO"}, 0), ("turkey", "土耳其", {}, 0)]
    assert _alerts(d)[1]["count"] == 0  # the baseline is never alerted

    new = add_posts(d, _rows("b", 4, day=21) + _rows("x", 2, route=("MX", "US"), text="墨西哥到美国"))  # a second run
    _, peek = _alerts(d, "--peek")
    assert _ids(peek) == sorted(("colombia", p) for p in new[:4])
    hit = next(a for a in peek["alerts"] if a["post_id"] == new[0])
    assert hit["route"] == ["EC", "CO"] and hit["author"].startswith("user-") and "route_guide" not in json.dumps(peek)
    _, got = _alerts(d)
    assert _ids(got) == _ids(peek)  # --peek did not mark them
    assert _alerts(d)[1]["count"] == 0  # shown once: no repeat

    more = add_posts(d, _rows("c", 2, day=25) + _rows("u", 1, route=("TR", "EC"), text="土耳其 新的"))
    _, got = _alerts(d)
    assert _ids(got) == sorted([("colombia", more[0]), ("colombia", more[1]), ("turkey", more[2])])

    run_cli("saved", "rm", "turkey", data_dir=d)
    listed = json.loads(run_cli("saved", "list", "--json", data_dir=d).stdout)["saved_searches"]
    assert [s["name"] for s in listed] == ["colombia"]


def _killed(d, failpoint: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ROUTEWATCH_FAILPOINT": failpoint}
    return subprocess.run([*CLI, "alerts", "--json", "--data-dir", str(d)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def test_kill_between_computing_and_marking_loses_and_repeats_nothing(world):
    d, _ = world
    run_cli("saved", "add", "colombia", "--route", "EC>CO", data_dir=d)
    run_cli("saved", "add", "turkey", "土耳其", data_dir=d)
    new = add_posts(d, _rows("b", 3, day=21) + _rows("u", 2, route=("TR", "EC"), text="土耳其 新的"))
    want = sorted([("colombia", p) for p in new[:3]] + [("turkey", p) for p in new[3:]])

    # killed after the first saved search's matches were computed, before anything was stored
    cp = _killed(d, "alerts:0:before")
    assert cp.returncode == -signal.SIGKILL and cp.stdout == ""
    # killed after the first saved search was stored, before the second one was
    cp = _killed(d, "alerts:1:before")
    assert cp.returncode == -signal.SIGKILL
    # killed after the alerts were printed, before they were marked seen: they are listed again
    cp = _killed(d, "alerts_seen:0:before")
    assert cp.returncode == -signal.SIGKILL and _ids(json.loads(cp.stdout)) == want
    _, got = _alerts(d)
    assert _ids(got) == want  # every new match once: nothing lost, nothing twice
    assert _alerts(d)[1]["count"] == 0


class Hook:
    """A webhook receiver: answers the statuses given, in order (then 200), and keeps every body."""

    def __init__(self, statuses: list[int]):
        self.statuses, self.bodies, self.lock = list(statuses), [], threading.Lock()

    def __call__(self, h) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length", 0)))
        with self.lock:
            status = self.statuses.pop(0) if self.statuses else 200
            self.bodies.append((status, json.loads(body)))
        respond(h, status, b"{}", "application/json")


def test_webhook_retries_then_delivers_once(world):
    d, _ = world
    hook = Hook([503, 500])
    with TestServer({"/hook": hook}) as srv:
        run_cli("saved", "add", "colombia", "--route", "EC>CO", "--webhook", f"{srv.base}/hook", data_dir=d)
        new = add_posts(d, _rows("b", 2, day=21))
        _, got = _alerts(d, "--peek")
        assert got["webhooks"] == {"delivered": 2, "failed": {}}
        assert [s for s, _ in hook.bodies] == [503, 500, 200]  # two retries, then delivered
        body = hook.bodies[-1][1]
        assert body["saved_search"]["name"] == "colombia"
        assert sorted(a["post_id"] for a in body["alerts"]) == sorted(new)
        assert "route_guide" not in json.dumps(body)  # the same privacy as search results
        _alerts(d)
        assert len(hook.bodies) == 3  # delivered alerts are not posted again


def test_webhook_down_keeps_alerts_for_the_next_run(world):
    d, _ = world
    hook = Hook([500] * 4)
    with TestServer({"/hook": hook}) as srv:
        run_cli("saved", "add", "colombia", "--route", "EC>CO", "--webhook", f"{srv.base}/hook", data_dir=d)
        new = add_posts(d, _rows("b", 2, day=21))
        cp, got = _alerts(d)
        assert got["webhooks"]["delivered"] == 0 and got["webhooks"]["failed"]["colombia"].startswith("E934 ")
        assert "E934" in cp.stderr and len(hook.bodies) == 4  # one try and three retries
        assert _ids(got) == sorted(("colombia", p) for p in new)  # still listed on the command line
        _, again = _alerts(d)
        assert again["webhooks"] == {"delivered": 2, "failed": {}} and again["count"] == 0
        assert sorted(a["post_id"] for a in hook.bodies[-1][1]["alerts"]) == sorted(new)


@pytest.mark.parametrize(("args", "code"), [
    (["saved", "add", "bad/name", "x"], "E930"),
    (["saved", "add", "ok", "x", "--webhook", "ftp://example.org/x"], "E933"),
    (["saved", "rm", "nothing"], "E932"),
    (["alerts", "--name", "nothing"], "E932"),
    (["saved", "add", "ok", "x", "--country", "Narnia"], "E908"),
    (["saved", "frobnicate"], "E903"),
])
def test_refusals_are_coded(world, args, code):
    d, _ = world
    cp = run_cli(*args, data_dir=d, check=False)
    assert cp.returncode == 2 and cp.stderr.strip().startswith(code + " "), cp.stderr


def test_duplicate_name_is_refused(world):
    d, _ = world
    run_cli("saved", "add", "colombia", "--route", "EC>CO", data_dir=d)
    cp = run_cli("saved", "add", "colombia", "x", data_dir=d, check=False)
    assert cp.returncode == 2 and cp.stderr.startswith("E931 ")


def test_a_run_checks_the_saved_searches(world):
    """What `routewatch run` does after its stages (cli._alerts_after_run): a report row "alerts" with the new
    matches; a webhook that is down is a failure E934 of the run, and the alerts wait for the next run."""
    from routewatch.cli import _alerts_after_run
    from routewatch.core.catalog import Catalog
    from routewatch.settings import load_settings

    d, _ = world
    s = load_settings(d)
    with Catalog(d / "catalog.sqlite") as cat:
        assert _alerts_after_run(s, cat) == []  # no saved search: no row
    run_cli("saved", "add", "colombia", "--route", "EC>CO", "--webhook", "http://127.0.0.1:9/hook", data_dir=d)
    new = add_posts(d, _rows("b", 3, day=21))
    with Catalog(d / "catalog.sqlite") as cat:
        cat.start_run("run")
        rep, = _alerts_after_run(s, cat)
        assert (rep.stage, rep.done, rep.failed, rep.extra["new"]) == ("alerts", 3, 1, {"colombia": 3})
        assert [(f.stage, f.item_id, f.code) for f in cat.failures("alerts")] == [("alerts", "colombia", "E934")]
    _, got = _alerts(d, "--no-check")
    assert _ids(got) == sorted(("colombia", p) for p in new)


def test_webhook_tries_come_from_the_alerts_settings(world):
    d, _ = world
    hook = Hook([500] * 10)
    with TestServer({"/hook": hook}) as srv:
        run_cli("saved", "add", "colombia", "--route", "EC>CO", "--webhook", f"{srv.base}/hook", data_dir=d)
        add_posts(d, _rows("b", 1, day=21))
        env = {**os.environ, "ROUTEWATCH_ALERTS__WEBHOOK_ATTEMPTS": "2", "ROUTEWATCH_ALERTS__WEBHOOK_WAIT": "0"}
        _, got = _alerts(d, env=env)
        assert got["webhooks"]["failed"]["colombia"].startswith("E934 ") and len(hook.bodies) == 2
