"""Politeness across workers: two OS processes crawling (scrapy) or fetching (yt-dlp) from one local server share
one per-domain budget in PostgreSQL. The server counts requests in flight and the gaps between request starts;
a 429 seen by one process stops the other; a killed process's slot comes free within its lease."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.catalog.pg_helpers import create_database, drop_database
from tests.conftest import CLI
from tests.httpserver import TestServer, respond

pytestmark = pytest.mark.pg
REPO = Path(__file__).resolve().parents[1]
ROBOTS = b"User-agent: *\nAllow: /\n"


def page(n: int) -> bytes:
    return (f"<html><head><meta property='og:description' content='cruzamos el Darien {n}'>"
            f"</head><body>{n}</body></html>").encode()


class Recorder:
    """Every request's start and end per path; the most requests in flight at once (robots.txt included)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.starts: list[tuple[float, str]] = []

    def enter(self, path: str) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.starts.append((time.monotonic(), path))

    def leave(self) -> None:
        with self.lock:
            self.now -= 1

    def pages(self) -> list[tuple[float, str]]:
        return sorted(s for s in self.starts if s[1].startswith(("/a/", "/b/")))


def serve(rec: Recorder, seconds: float, answer=None, together: int = 2) -> TestServer:
    """robots.txt is answered once `together` processes asked for it, so the crawls start together (a process
    asks for nothing else of the host before its robots.txt; each holds one slot for it)."""
    robots: list[str] = []
    both = threading.Event()

    def any_path(h):
        rec.enter(h.path)
        try:
            if h.path == "/robots.txt":
                robots.append(h.path)
                if len(robots) >= together:
                    both.set()
                both.wait(90)
                respond(h, 200, ROBOTS, "text/plain")
                return
            time.sleep(seconds)
            special = answer(h.path) if answer else None
            if special is not None:
                respond(h, *special)
            else:
                respond(h, 200, page(hash(h.path) % 1000))
        finally:
            rec.leave()

    return TestServer({"*": any_path})


@pytest.fixture(scope="module")
def pg_url():
    dsn = create_database("politeness")
    yield dsn
    drop_database(dsn)


def start_crawl(srv: TestServer, tmp: Path, prefix: str, n: int, budget_url: str, **crawl: object) -> subprocess.Popen:
    """`routewatch crawl --url …` of n pages under /<prefix>/ in its own OS process and data dir."""
    env = {**os.environ, "ROUTEWATCH_ALLOW_HOSTS": srv.hostport, "ROUTEWATCH_CRAWL__SHARED_BUDGET_URL": budget_url,
           "ROUTEWATCH_CRAWL__AUTOTHROTTLE": "false", "ROUTEWATCH_CRAWL__MAX_PAGES_PER_SOURCE": "100",
           **{f"ROUTEWATCH_CRAWL__{k.upper()}": str(v) for k, v in crawl.items()}}
    urls = [a for i in range(n) for a in ("--url", f"{srv.base}/{prefix}/{i}")]
    return subprocess.Popen([*CLI, "crawl", *urls, "--json", "--data-dir", str(tmp / prefix)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(*procs: subprocess.Popen) -> None:
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]


def overlap(rec: Recorder) -> bool:
    """Whether the two processes' page requests were running at the same time (else the test proves nothing)."""
    a = [t for t, p in rec.pages() if p.startswith("/a/")]
    b = [t for t, p in rec.pages() if p.startswith("/b/")]
    return bool(a and b) and min(a[-1], b[-1]) > max(a[0], b[0])


def test_two_crawlers_keep_one_domain_budget(pg_url, tmp_path):
    rec = Recorder()
    with serve(rec, 0.6) as srv:
        procs = [start_crawl(srv, tmp_path, p, 6, pg_url, concurrency_per_domain=2, download_delay=0.25) for p in "ab"]
        finish(*procs)
    starts = rec.pages()
    assert len(starts) == 12
    assert overlap(rec)
    assert rec.peak == 2  # both slots used, never a third request in flight
    gaps = [b[0] - a[0] for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.25 - 0.02  # request starts of both processes at least the delay apart


def test_without_shared_budget_each_crawler_counts_alone(tmp_path):
    # the control: the same two crawls with per-process limits only put more than 2 requests in flight on the
    # server (2 per process by design; scrapy 2.19 with no delay lets a domain's whole queue out at once)
    rec = Recorder()
    with serve(rec, 1.5) as srv:
        procs = [start_crawl(srv, tmp_path, p, 8, "", concurrency_per_domain=2) for p in "ab"]
        finish(*procs)
    assert rec.peak >= 4


def test_retry_after_seen_by_one_crawler_pauses_the_other(pg_url, tmp_path):
    rec = Recorder()
    told: list[float] = []

    def answer(path: str):
        seen = {p[:3] for _, p in rec.pages()}
        if not told and {"/a/", "/b/"} <= seen and path.startswith(("/a/", "/b/")):
            told.append(time.monotonic())
            return 429, b"slow down", "text/plain", {"Retry-After": "3"}
        return None

    with serve(rec, 0.3, answer) as srv:
        procs = [start_crawl(srv, tmp_path, p, 8, pg_url, concurrency_per_domain=2) for p in "ab"]
        finish(*procs)
    assert len(told) == 1
    t429 = told[0]
    # from the moment the 429 is answered, the pause takes a few milliseconds to be written: 0.3 s of grace
    during = [p for t, p in rec.pages() if t429 + 0.3 < t < t429 + 3 - 0.05]
    after = {p[:3] for t, p in rec.pages() if t >= t429 + 3 - 0.05}
    assert during == []  # neither process started a request while the domain was paused
    assert after == {"/a/", "/b/"}  # and both went on afterwards
    assert len(rec.pages()) == 17  # 16 pages and the one retried after the 429


FETCH_CHILD = """
import sys
from routewatch import pipeline
from routewatch.core.catalog import Catalog
from routewatch.settings import load_settings
from tests.conftest import make_post

data, base, n, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = load_settings(data)
import pathlib, time
here = pathlib.Path(data).parent
(here / f"ready-{prefix}").touch()
t0 = time.monotonic()
while len(list(here.glob("ready-*"))) < 2 and time.monotonic() - t0 < 90:  # both processes fetch together
    time.sleep(0.02)
cat = Catalog(s.data_dir / "catalog.sqlite")
for i in range(n):
    post = make_post(platform="web", platform_id=f"{prefix}{i}", media_url=f"{base}/{prefix}/{i}.mp4")
    cat.upsert_post(post)
    cat.set_status(post.post_id, "crawl", "done")
rep = pipeline.stage_fetch(pipeline.Context(settings=s, catalog=cat))
print(rep.done, rep.failed)
"""


def test_two_fetchers_keep_one_domain_budget(pg_url, tmp_path):
    rec = Recorder()

    def media(path: str):
        return 200, b"\x00" * 4000, "video/mp4"

    with serve(rec, 0.5, media) as srv:
        env = {**os.environ, "ROUTEWATCH_ALLOW_HOSTS": srv.hostport, "ROUTEWATCH_CRAWL__SHARED_BUDGET_URL": pg_url,
               "ROUTEWATCH_CRAWL__CONCURRENCY_PER_DOMAIN": "1", "PYTHONPATH": str(REPO)}
        procs = [subprocess.Popen([sys.executable, "-c", FETCH_CHILD, str(tmp_path / p), srv.base, "3", p], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO) for p in "ab"]
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=180)
            assert p.returncode == 0, err[-2000:]
            outs.append(out.split())
    assert outs == [["3", "0"], ["3", "0"]]
    assert overlap(rec)
    assert rec.peak == 1  # one download at a time from the domain, across both processes


HOLDER = """
import sys, time
from routewatch.core.politeness import SharedBudget
b = SharedBudget(sys.argv[1], concurrency=1, delay=0, lease=float(sys.argv[2]))
b.acquire("example.org")
print("held", flush=True)
time.sleep(600)
"""


def test_a_killed_process_frees_its_slot_within_the_lease(pg_url):
    from routewatch.core.politeness import SharedBudget

    lease = 3.0
    child = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url, str(lease)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    try:
        assert child.stdout.readline().strip() == "held"
        time.sleep(lease)  # past one lease: the living holder renewed it
        mine = SharedBudget(pg_url, concurrency=1, delay=0, lease=lease)
        assert mine.try_acquire("example.org")[0] == ""  # still held by the living process
        os.kill(child.pid, signal.SIGKILL)
        killed = time.monotonic()
        token = mine.acquire("example.org")
        freed = time.monotonic() - killed
        mine.release(token)
        mine.close()
    finally:
        child.kill()
        child.wait()
    assert token
    assert freed <= lease + 0.5


def test_a_postgresql_catalog_shares_its_budget_and_sqlite_does_not(tmp_path):
    from crawlers.run import scrapy_settings
    from routewatch.settings import load_settings

    dsn = "postgresql://rw@db.example:5432/routewatch"
    pg = load_settings(tmp_path, catalog={"url": dsn}, index={"backend": "elasticsearch"})
    assert pg.crawl.shared_budget_url == dsn
    assert scrapy_settings(pg.crawl)["DOWNLOAD_DELAY"] == 0.0  # the shared budget keeps the delay
    lite = load_settings(tmp_path)
    assert lite.crawl.shared_budget_url == ""
    assert scrapy_settings(lite.crawl)["CONCURRENT_REQUESTS_PER_DOMAIN"] == 1


def test_research_api_429_pauses_its_host_for_every_worker(pg_url, tmp_path):
    import psycopg

    from crawlers.tiktok_research import TikTokResearchClient, collect
    from routewatch.core.catalog import Catalog
    from routewatch.settings import load_settings
    from tests.crawlers.test_tiktok_research import DATA, QUERY

    script = [(429, "rate_limit.json"), (200, "query_page2.json")]
    told: list[float] = []
    queries: list[float] = []

    def api(h):
        h.rfile.read(int(h.headers.get("Content-Length") or 0))
        if h.path.startswith("/v2/oauth/token/"):
            respond(h, 200, (DATA / "token.json").read_bytes(), "application/json")
            return
        queries.append(time.monotonic())
        status, name = script.pop(0)
        if status == 429:
            told.append(time.time())
        respond(h, status, (DATA / name).read_bytes(), "application/json")

    waits: list[float] = []
    with TestServer({"*": api}) as srv:
        crawl = load_settings(tmp_path / "data", crawl={
            "tiktok_research_client_key": "k", "tiktok_research_client_secret": "s",
            "tiktok_research_backoff_seconds": 1.5, "origins": {"tiktok_research": srv.base},
            "allow_hosts": [srv.hostport], "shared_budget_url": pg_url}).crawl
        cat = Catalog(tmp_path / "catalog.sqlite")
        rep = collect(QUERY, cat, crawl, max_count=3, client=TikTokResearchClient(crawl, sleep=waits.append))
        cat.close()
    assert (rep.stopped, rep.imported) == ("", 2)
    assert waits == [1.5]  # the client's own back-off sleep is a no-op here ...
    assert queries[1] - queries[0] >= 1.5 - 0.05  # ... yet the retry waited: the shared pause held it
    with psycopg.connect(pg_url) as c:
        until = c.execute("SELECT EXTRACT(EPOCH FROM paused_until) FROM polite_domains WHERE domain = '127.0.0.1'"
                          ).fetchone()[0]
    assert abs(float(until) - (told[0] + 1.5)) < 0.5  # the pause every other worker reads
