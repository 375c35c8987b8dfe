"""Bounded local load on the web API: 50 concurrent clients against search and trends on a
100k-post index (ROUTEWATCH_LOAD_SECONDS, default 30 s): no errors, p95 reported; and the API's
rate limit answering 429 with its code when configured."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.client import HTTPConnection
from pathlib import Path

import pytest

from index.sqlite_fts import SqliteIndex
from routewatch.bench import percentile, synthetic_docs
from routewatch.core.catalog import Catalog

pytestmark = pytest.mark.slow

N_POSTS = 100_000
CLIENTS = 50
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

PATHS = [
    "/api/search?" + urllib.parse.urlencode({"q": "厄瓜多尔"}),
    "/api/search?" + urllib.parse.urlencode({"q": "Darien", "country": "PA"}),
    "/api/search?" + urllib.parse.urlencode({"q": "走线", "route": "EC>CO>PA"}),
    "/api/search?" + urllib.parse.urlencode({"q": "policía", "since": "2025-03-01", "until": "2025-12-31"}),
    "/api/trends?field=country&by=week",
    "/api/trends?field=leg&by=week",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def big_index(tmp_path_factory):
    d = tmp_path_factory.mktemp("load") / "data"
    Catalog(d / "catalog.sqlite").close()
    idx = SqliteIndex(d / "catalog.sqlite")
    batch = []
    for doc in synthetic_docs(0, N_POSTS):
        batch.append(doc)
        if len(batch) == 5000:
            idx.upsert(batch)
            batch = []
    idx.upsert(batch)
    assert idx.count() == N_POSTS
    idx.close()
    return d


def start_server(data: Path, rate: int, workers: int = 1):
    port = free_port()
    env = {**os.environ, "ROUTEWATCH_WEB__RATE_LIMIT_PER_MINUTE": str(rate)}
    proc = subprocess.Popen([sys.executable, "-m", "routewatch", "serve", "--port", str(port), "--data-dir", str(data),
                             "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            c = HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/api/status")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    pytest.fail("the web server did not start: " + proc.stderr.read().decode()[-1000:])


def stop_server(proc) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:  # open keep-alive connections can hold a graceful shutdown
        proc.kill()
        proc.wait(20)


def test_fifty_clients_no_errors(big_index):
    seconds = float(os.environ.get("ROUTEWATCH_LOAD_SECONDS", "30"))
    workers = int(os.environ.get("ROUTEWATCH_LOAD_WORKERS", "2"))  # one per core of the test machine
    proc, port = start_server(big_index, rate=0, workers=workers)
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        conn = HTTPConnection("127.0.0.1", port, timeout=60)
        i = k
        while time.monotonic() < stop:
            path = PATHS[i % len(PATHS)]
            i += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                ok = r.status == 200 and json.loads(body) is not None
            except Exception as e:  # noqa: BLE001 - any failure is an error to count
                ok = False
                body = repr(e).encode()
                conn = HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                lat.append((time.perf_counter() - t0) * 1000)
                if not ok:
                    errors.append(f"{path}: {body[:200]!r}")

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 120)
    finally:
        stop_server(proc)
    report = {"clients": CLIENTS, "workers": workers, "seconds": seconds, "posts": N_POSTS, "requests": len(lat), "errors": len(errors),
              "rps": round(len(lat) / seconds, 1), "p50_ms": round(percentile(lat, 50), 1),
              "p95_ms": round(percentile(lat, 95), 1), "max_ms": round(max(lat), 1)}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(report, indent=2))
    print("load:", report)
    assert errors == [], errors[:5]
    assert len(lat) >= CLIENTS


@pytest.mark.parametrize("workers", [1, 2])
def test_rate_limit_answers_429_with_code(big_index, workers):
    # 30 a minute: the 31st call within the minute is refused, whichever worker process answers it
    proc, port = start_server(big_index, rate=30, workers=workers)
    try:
        codes = []
        for _ in range(60):
            c = HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/api/trends?field=country&by=week")
            r = c.getresponse()
            body = r.read()
            codes.append(r.status)
            if r.status == 429:
                assert json.loads(body)["error"]["code"] == "E905"
                assert r.getheader("Retry-After")
                break
        assert 429 in codes
        assert codes.count(200) <= 30
    finally:
        stop_server(proc)
