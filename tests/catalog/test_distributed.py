"""Distributed mode (issue 17): procrastinate workers on the PostgreSQL catalog give what one process gives.

Real PostgreSQL ($ROUTEWATCH_PG_URL), real Elasticsearch ($ROUTEWATCH_ES_URL), the real demo platform and real
`routewatch worker` processes. Compared with the session's single-process SQLite demo (`demo_run`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pg_helpers import create_database, drop_database
from test_demo_on_pg import es_url, what_the_pipeline_made

from routewatch.core.catalog import Catalog
from tests.conftest import run_cli, write_demo_config

pytestmark = [pytest.mark.pg]

FAST = {"ROUTEWATCH_DISTRIBUTED__HEARTBEAT_SECONDS": "0.5", "ROUTEWATCH_DISTRIBUTED__STALLED_SECONDS": "3",
        "ROUTEWATCH_DISTRIBUTED__STALL_CHECK_SECONDS": "1", "ROUTEWATCH_DISTRIBUTED__TRANSCRIBE_WAIT_SECONDS": "0.5"}


@pytest.fixture
def pg_env(tmp_path):
    """A fresh catalog database and Elasticsearch index name; dropped afterwards."""
    es, name, dsn = es_url(), f"rwtest-dist-{uuid.uuid4().hex[:8]}", create_database("dist")
    env = {"ROUTEWATCH_CATALOG_URL": dsn, "ROUTEWATCH_INDEX_BACKEND": "elasticsearch", "ROUTEWATCH_ES_URL": es,
           "ROUTEWATCH_INDEX__ES_INDEX": name, **FAST}
    yield env
    drop_database(dsn)
    from elasticsearch import Elasticsearch

    client = Elasticsearch(es, request_timeout=30)
    client.indices.delete(index=f"{name}-0*", ignore_unavailable=True, allow_no_indices=True)
    client.options(ignore_status=404).indices.delete_index_template(name=f"{name}-template")
    client.close()


def _pipeline(env: dict, data: Path, monkeypatch):
    from routewatch.distributed.tasks import open_pipeline
    from routewatch.settings import load_settings

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    data.mkdir(parents=True, exist_ok=True)
    return open_pipeline(load_settings(data))


def test_the_same_post_twice_while_queued_is_one_job(pg_env, tmp_path, monkeypatch):
    p = _pipeline(pg_env, tmp_path / "data", monkeypatch)
    with p.app.open():
        assert p.defer("extract", "p01", post_id="p01") is True
        assert p.defer("extract", "p01", post_id="p01") is False  # AlreadyEnqueued, swallowed
        assert p.defer("extract", "p02", post_id="p02") is True
        assert p.defer("fetch", "p01", post_id="p01") is True  # another stage: its own job
        jobs = list(p.app.job_manager.list_jobs())
        assert sorted((j.queue, j.task_kwargs["post_id"]) for j in jobs) == [
            ("extract", "p01"), ("extract", "p02"), ("fetch", "p01")]
        assert {j.queueing_lock for j in jobs} == {"extract:p01", "extract:p02", "fetch:p01"}


def test_scheduled_monitoring_is_a_periodic_task_enqueueing_each_source_once(pg_env, tmp_path, monkeypatch):
    cfg = tmp_path / "rw.toml"
    cfg.write_text('[[sources]]\nname = "a"\nurls = ["https://t.me/s/a"]\n[[sources]]\nname = "b"\n'
                   'urls = ["https://t.me/s/b"]\n[distributed]\nevery_minutes = 15\n', encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "routewatch.toml").write_text(cfg.read_text(), encoding="utf-8")
    p = _pipeline(pg_env, tmp_path / "data", monkeypatch)
    crons = {t.task.name: t.cron for t in p.app.periodic_registry.periodic_tasks.values()}
    assert crons == {"rw.reconcile": "*/1 * * * *", "rw.monitor": "*/15 * * * *"}
    with p.app.open():
        p._monitor_periodic(0)
        p._monitor_periodic(0)  # the next tick while the first crawls still wait: no second job
        jobs = list(p.app.job_manager.list_jobs(queue="crawl"))
    assert sorted((j.task_name, j.task_kwargs["source"]) for j in jobs) == [("rw.crawl", "a"), ("rw.crawl", "b")]


def test_the_sweep_retries_a_dead_workers_job_or_closes_it_when_its_key_waits_again(pg_env, tmp_path, monkeypatch):
    import asyncio

    import psycopg

    from routewatch.distributed.worker import retry_stalled

    p = _pipeline(pg_env, tmp_path / "data", monkeypatch)  # stalled_seconds = 3 (FAST)

    async def take_two() -> list:
        async with p.app.open_async():
            jm = p.app.job_manager
            wid = await jm.register_worker()
            return [await jm.fetch_job(queues=["extract"], worker_id=wid) for _ in range(2)]

    async def sweep() -> tuple[list[int], dict]:
        async with p.app.open_async():
            with psycopg.connect(pg_env["ROUTEWATCH_CATALOG_URL"], autocommit=True) as c:
                c.execute("UPDATE procrastinate_workers SET last_heartbeat = NOW() - INTERVAL '10 seconds'")
            retried = await retry_stalled(p)  # the worker is silent for 10 s > stalled_seconds 3: dead
            return retried, {j.queueing_lock: (j.status, j.attempts)
                             for j in await p.app.job_manager.list_jobs_async(queue="extract") if j.id in ids}

    with p.app.open():
        p.defer("extract", "p01", post_id="p01")
        p.defer("extract", "p02", post_id="p02")
    running = asyncio.run(take_two())
    assert sorted(j.queueing_lock for j in running) == ["extract:p01", "extract:p02"]
    ids = {j.id for j in running}
    with p.app.open():
        assert p.defer("extract", "p02", post_id="p02") is True  # p02 waits again (a reconcile) while it runs
    retried, by_lock = asyncio.run(sweep())
    assert by_lock["extract:p01"] == ("todo", 1)  # back in its queue, one attempt more
    assert by_lock["extract:p02"] == ("aborted", 1)  # closed: the waiting p02 job does its work
    assert len(retried) == 1
    with p.app.open():
        waiting = list(p.app.job_manager.list_jobs(queue="extract", status="todo"))
    assert sorted(j.queueing_lock for j in waiting) == ["extract:p01", "extract:p02"]


def test_a_worker_refuses_an_sqlite_catalog(tmp_path):
    cp = run_cli("worker", data_dir=tmp_path / "data", check=False, timeout=60)
    assert cp.returncode != 0
    assert "E970" in cp.stderr and "PostgreSQL" in cp.stderr


# ---- the demo on two workers ----------------------------------------------------------------------------------
def _worker(env: dict, cfg: Path, data: Path, log: Path, queues: str | None = None,
            extra: dict | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "routewatch", "worker", "--config", str(cfg), "--data-dir", str(data)]
    if queues:
        cmd += ["--queues", queues]
    return subprocess.Popen(cmd, env={**os.environ, **env, **(extra or {})}, stdout=subprocess.DEVNULL,
                            stderr=log.open("ab"))


def _stop(procs: list[subprocess.Popen]) -> None:
    for pr in procs:
        if pr.poll() is None:
            pr.send_signal(signal.SIGTERM)
    for pr in procs:
        try:
            pr.wait(30)
        except subprocess.TimeoutExpired:
            pr.kill()
            pr.wait(10)


def _index_docs(env: dict) -> dict[str, int]:
    """Post id → number of Elasticsearch documents with it (the index's post documents)."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(env["ROUTEWATCH_ES_URL"], request_timeout=30)
    try:
        name = env["ROUTEWATCH_INDEX__ES_INDEX"]
        client.indices.refresh(index=f"{name}-0*")
        res = client.search(index=name, size=1000, query={"match_all": {}}, source=False)
        out: dict[str, int] = {}
        for h in res["hits"]["hits"]:
            out[h["_id"]] = out.get(h["_id"], 0) + 1
        return out
    finally:
        client.close()


DUPLICATES = {
    "post_transcripts": "SELECT post_id, COUNT(*) FROM post_transcripts GROUP BY post_id HAVING COUNT(*) > 1",
    "transcripts": "SELECT audio_sha256, model, COUNT(*) FROM transcripts GROUP BY 1, 2 HAVING COUNT(*) > 1",
    "extractions": "SELECT post_id, COUNT(*) FROM extractions GROUP BY post_id HAVING COUNT(*) > 1",
    "units": "SELECT post_id, kind, COUNT(*) FROM units GROUP BY 1, 2 HAVING COUNT(*) > 1 AND kind != 'comment'",
    "media": "SELECT post_id, COUNT(*) FROM media GROUP BY post_id HAVING COUNT(*) > 1",
    "onscreen": "SELECT media_sha256, model, COUNT(*) FROM onscreen GROUP BY 1, 2 HAVING COUNT(*) > 1",
}


def _assert_same_as_sqlite_demo(demo_run, env: dict) -> None:
    sqlite_dir, summary = demo_run
    dsn = env["ROUTEWATCH_CATALOG_URL"]
    with Catalog(sqlite_dir / "catalog.sqlite", write=False) as a, Catalog(dsn=dsn, write=False) as b:
        assert what_the_pipeline_made(b) == what_the_pipeline_made(a)
        assert b.stage_counts() == a.stage_counts()
        for table, sql in DUPLICATES.items():
            assert list(b.db.execute(sql)) == [], table
        posts = sorted(p.post_id for p in b.posts())
    docs = _index_docs(env)
    assert sorted(docs) == posts and set(docs.values()) == {1}
    assert len(docs) == summary["index_documents"]


def cat_pending(env: dict, stage: str) -> list[str]:
    after = {"transcribe": "fetch", "index": "extract"}[stage]
    with Catalog(dsn=env["ROUTEWATCH_CATALOG_URL"], write=False) as cat:
        return cat.pending(stage, after=after, after_status=("done", "failed", "skipped") if stage == "index" else ("done",))


def _run_wait(env: dict, cfg: Path, data: Path) -> dict:
    import json

    cp = run_cli("run", "--config", str(cfg), "--json", "--wait", "1500", data_dir=data, env=env, timeout=1600)
    return json.loads(cp.stdout)


def _parallel_transcription(env: dict) -> list[tuple[int, int, float]]:
    """The pairs of transcription chunks run by different workers at once: (job, job, seconds of overlap)."""
    from routewatch.core.pgdb import job_intervals

    chunks = [j for j in job_intervals(env["ROUTEWATCH_CATALOG_URL"], "rw.transcribe") if j["args"].get("post_ids")]
    posts = [pid for j in chunks for pid in j["args"]["post_ids"]]
    assert len(posts) == len(set(posts)) and max(len(j["args"]["post_ids"]) for j in chunks) <= 4, chunks
    print("transcription chunks (job, worker, posts, started, finished):",
          [(j["id"], j["worker"], len(j["args"]["post_ids"]), round(j["started"], 2), round(j["finished"], 2))
           for j in chunks])
    return [(a["id"], b["id"], round(min(a["finished"], b["finished"]) - max(a["started"], b["started"]), 2))
            for a in chunks for b in chunks if a["id"] < b["id"] and a["worker"] is not None
            and b["worker"] is not None and a["worker"] != b["worker"]
            and a["started"] < b["finished"] and b["started"] < a["finished"]]


@pytest.mark.slow
@pytest.mark.es
def test_demo_on_two_workers_matches_the_single_process_sqlite_demo(demo_run, demo_server, pg_env, tmp_path):
    """Chunks of 4 posts: transcription runs on both workers at once (model runs in parallel, saves in catalog
    order), and the copies p03, p10, p28 still share the earliest one's transcript as in the SQLite run."""
    cfg, data = write_demo_config(tmp_path / "rw.toml", demo_server), tmp_path / "data"
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    pg_env = {**pg_env, "ROUTEWATCH_TRANSCRIBE__BATCH_SIZE": "4"}
    workers = [_worker(pg_env, cfg, data, log) for log in logs]
    try:
        result = _run_wait(pg_env, cfg, data)
        assert sorted(result["enqueued"]["crawl"]) == sorted(
            ["telegram:zouxian_notes", "telegram:ruta_norte", "feed:demo", "seeds:demo"])
        assert all(v["failed"] == 0 and v["stalled"] == 0 for v in result["queues"].values()), result["queues"]
        assert all(pr.poll() is None for pr in workers), [log.read_text()[-2000:] for log in logs]
        _assert_same_as_sqlite_demo(demo_run, pg_env)
        status = __import__("json").loads(run_cli("status", "--config", str(cfg), "--json", data_dir=data,
                                                  env=pg_env).stdout)
        assert len([w for w in status["distributed"]["workers"] if w["alive"]]) == 2
        assert status["distributed"]["queues"]["transcribe"]["pending"] == 0
        assert status["distributed"]["queues"]["index"]["succeeded"] >= 1
        overlaps = _parallel_transcription(pg_env)
        print("overlapping chunks on two workers (job, job, seconds):", overlaps)
        assert overlaps, "no two transcription chunks ran at once on different workers"
    finally:
        _stop(workers)


def _killed_then_recovered(demo_run, demo_server, pg_env, tmp_path, monkeypatch, queue: str, failpoint: str) -> None:
    """Worker A serves `queue` and SIGKILLs itself at `failpoint`; worker B serves every other queue. B's sweep
    puts A's job back in its queue once A's heartbeat is `stalled_seconds` old; a restarted worker finishes it."""
    cfg, data = write_demo_config(tmp_path / "rw.toml", demo_server), tmp_path / "data"
    others = ",".join(q for q in ("crawl", "fetch", "transcribe", "ocr", "extract", "index") if q != queue)
    a = _worker(pg_env, cfg, data, tmp_path / "a.log", queue, {"ROUTEWATCH_FAILPOINT": failpoint})
    b = _worker(pg_env, cfg, data, tmp_path / "b.log", others)
    procs = [a, b]
    try:
        run_cli("run", "--config", str(cfg), "--json", data_dir=data, env=pg_env, timeout=120)
        assert a.wait(900) == -signal.SIGKILL, (tmp_path / "a.log").read_text()[-2000:]
        from routewatch.distributed.tasks import open_pipeline
        from routewatch.settings import load_settings

        for k, v in pg_env.items():
            monkeypatch.setenv(k, v)
        p = open_pipeline(load_settings(data, cfg))
        with p.app.open():
            jm = p.app.job_manager
            dead = list(jm.list_jobs(queue=queue, status="doing"))
            assert len(dead) == 1, dead  # the job A was running when it died
            with Catalog(dsn=pg_env["ROUTEWATCH_CATALOG_URL"], write=False) as cat:
                counts = cat.stage_counts()
            done, left = counts.get(queue, {}).get("done", 0), len(cat_pending(pg_env, queue))
            assert done >= 1 and left >= 1, (done, left)  # killed in the middle of the stage
            deadline = time.monotonic() + 60
            while True:  # B's sweep: the dead worker's job goes back to its queue (or yields to one waiting there)
                job = next(iter(jm.list_jobs(id=dead[0].id)))
                if job.status != "doing":
                    break
                assert time.monotonic() < deadline, "the stalled job was not retried"
                time.sleep(0.5)
            waiting = list(jm.list_jobs(queue=queue, status="todo"))
            if job.status == "todo":
                assert job.attempts == 1
            else:
                assert job.status == "aborted" and job.queueing_lock in {j.queueing_lock for j in waiting}
        procs.append(_worker(pg_env, cfg, data, tmp_path / "c.log"))  # the restarted worker
        _run_wait(pg_env, cfg, data)
        _assert_same_as_sqlite_demo(demo_run, pg_env)
    finally:
        _stop(procs)


@pytest.mark.slow
@pytest.mark.es
def test_sigkill_of_a_worker_mid_transcription_is_retried(demo_run, demo_server, pg_env, tmp_path, monkeypatch):
    _killed_then_recovered(demo_run, demo_server, pg_env, tmp_path, monkeypatch, "transcribe", "transcribe:3:after")


@pytest.mark.slow
@pytest.mark.es
def test_sigkill_of_a_worker_mid_indexing_is_retried(demo_run, demo_server, pg_env, tmp_path, monkeypatch):
    _killed_then_recovered(demo_run, demo_server, pg_env, tmp_path, monkeypatch, "index", "index:4:before")
