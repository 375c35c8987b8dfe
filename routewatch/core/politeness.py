"""The per-domain request budget shared by every process of one monitor (crawl and fetch workers).

In: a PostgreSQL DSN (`crawl.shared_budget_url`, set by the settings from a PostgreSQL `catalog.url`), the
domain's concurrency and delay.  Out: slots — at most `concurrency` requests in flight per domain across all
processes, request starts at least `delay` apart, and a pause ("Retry-After: 30" seen by one worker stops all).
A slot is a lease renewed by its holder; a killed process's slots expire within `lease` seconds. The database
clock decides every time, so workers on several machines agree. Without a DSN, `LocalBudget` grants at once
(the process's own limits, scrapy's settings, are the only ones, as before).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Protocol
from urllib.parse import urlsplit

from routewatch.core.errors import Code, RouteWatchError

POLL_SECONDS = 0.05  # how often a waiting request asks again when every slot of its domain is taken
# One advisory lock key (ASCII "RWPL") so two processes creating the tables at once do not collide.
SCHEMA_LOCK_KEY = 0x5257504C
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS polite_domains (domain TEXT PRIMARY KEY,"
    " next_at TIMESTAMPTZ NOT NULL DEFAULT '1970-01-01Z', paused_until TIMESTAMPTZ NOT NULL DEFAULT '1970-01-01Z')",
    "CREATE UNLOGGED TABLE IF NOT EXISTS polite_slots (token TEXT PRIMARY KEY, domain TEXT NOT NULL,"
    " holder TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL)",
    "CREATE INDEX IF NOT EXISTS polite_slots_domain ON polite_slots (domain)",
)


def domain_of(url: str) -> str:
    """The budget's key for a URL: its host name, lower case, without port (as scrapy's download slots)."""
    return (urlsplit(url).hostname or "").lower()


class Budget(Protocol):
    """What a request path asks of the budget; `LocalBudget` and `SharedBudget` answer it."""

    shared: bool

    def acquire(self, domain: str, sleep: Callable[[float], None] = time.sleep) -> str: ...
    async def acquire_async(self, domain: str) -> str: ...
    def release(self, token: str) -> None: ...
    def pause(self, domain: str, seconds: float) -> None: ...
    def close(self) -> None: ...


class LocalBudget:
    """No budget beyond the process's own limits (SQLite catalog: one machine, one crawl at a time)."""

    shared = False

    def acquire(self, domain: str, sleep: Callable[[float], None] = time.sleep) -> str:
        return ""

    async def acquire_async(self, domain: str) -> str:
        return ""

    def release(self, token: str) -> None:
        pass

    def pause(self, domain: str, seconds: float) -> None:
        pass

    def close(self) -> None:
        pass


class SharedBudget:
    """Slots, delay and pauses per domain in two PostgreSQL tables (`polite_domains`, `polite_slots`).

    `try_acquire` is one transaction holding the domain's row lock: expired leases are dropped, then a slot is
    granted when fewer than `concurrency` are held and the domain's `next_at` / `paused_until` have passed, and
    `next_at` moves to now + delay. A thread renews this process's leases every lease / 3 seconds.
    """

    shared = True

    def __init__(self, dsn: str, concurrency: int, delay: float, lease: float = 30.0):
        import psycopg

        self.concurrency, self.delay, self.lease = int(concurrency), float(delay), float(lease)
        self.holder = f"{uuid.uuid4().hex[:12]}"
        self._psycopg = psycopg
        self._dsn = dsn
        self._conn = self._connect()
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._stop = threading.Event()
        with self._lock, self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK_KEY])
            for stmt in SCHEMA:
                self._conn.execute(stmt)
        self._renewer = threading.Thread(target=self._renew_loop, name="politeness-lease", daemon=True)
        self._renewer.start()

    def _connect(self):  # noqa: ANN202 - a psycopg.Connection
        try:
            return self._psycopg.connect(self._dsn, autocommit=True, connect_timeout=10,
                                         application_name="routewatch-politeness")
        except self._psycopg.Error as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise RouteWatchError(Code.E980, f"cannot reach the shared politeness budget (crawl.shared_budget_url): "
                                             f"{first}") from None

    # ---- the one transaction ---------------------------------------------------------------------------
    def try_acquire(self, domain: str) -> tuple[str, float]:
        """(token, 0) when a slot is granted, else ("", seconds to wait before asking again)."""
        token = f"{self.holder}:{uuid.uuid4().hex[:12]}"
        c = self._conn
        with self._lock, c.transaction():
            c.execute("INSERT INTO polite_domains (domain) VALUES (%s) ON CONFLICT DO NOTHING", [domain])
            wait = c.execute("SELECT EXTRACT(EPOCH FROM GREATEST(next_at, paused_until) - clock_timestamp()) "
                             "FROM polite_domains WHERE domain = %s FOR UPDATE", [domain]).fetchone()[0]
            wait = float(wait or 0)
            if wait > 0:
                return "", wait
            c.execute("DELETE FROM polite_slots WHERE domain = %s AND expires_at <= clock_timestamp()", [domain])
            held = c.execute("SELECT COUNT(*) FROM polite_slots WHERE domain = %s", [domain]).fetchone()[0]
            if held >= self.concurrency:
                return "", POLL_SECONDS
            c.execute("INSERT INTO polite_slots (token, domain, holder, expires_at) VALUES "
                      "(%s, %s, %s, clock_timestamp() + make_interval(secs => %s))",
                      [token, domain, self.holder, self.lease])
            c.execute("UPDATE polite_domains SET next_at = clock_timestamp() + make_interval(secs => %s) "
                      "WHERE domain = %s", [self.delay, domain])
            self._held.add(token)
        return token, 0.0

    def acquire(self, domain: str, sleep: Callable[[float], None] = time.sleep) -> str:
        """Wait (sleeping through `sleep`) until the domain grants a slot; returns its token."""
        while True:
            token, wait = self.try_acquire(domain)
            if token:
                return token
            sleep(min(max(wait, 0.005), self.lease / 3))

    async def acquire_async(self, domain: str) -> str:
        """As `acquire`, for an event loop: the database call in a thread, the wait by `asyncio.sleep`."""
        while True:
            token, wait = await asyncio.to_thread(self.try_acquire, domain)
            if token:
                return token
            await asyncio.sleep(min(max(wait, 0.005), self.lease / 3))

    def release(self, token: str) -> None:
        if not token:
            return
        with self._lock:
            self._held.discard(token)
            self._conn.execute("DELETE FROM polite_slots WHERE token = %s", [token])

    def pause(self, domain: str, seconds: float) -> None:
        """No request to the domain from any process for `seconds` (a later pause never shortens one)."""
        if seconds <= 0:
            return
        with self._lock:
            self._conn.execute("INSERT INTO polite_domains (domain) VALUES (%s) ON CONFLICT DO NOTHING", [domain])
            self._conn.execute("UPDATE polite_domains SET paused_until = GREATEST(paused_until, clock_timestamp() + "
                               "make_interval(secs => %s)) WHERE domain = %s", [float(seconds), domain])

    # ---- leases ----------------------------------------------------------------------------------------
    def _renew_loop(self) -> None:
        conn = None
        while not self._stop.wait(self.lease / 3):
            with self._lock:
                held = sorted(self._held)
            if not held:
                continue
            try:
                conn = conn or self._connect()
                conn.execute("UPDATE polite_slots SET expires_at = clock_timestamp() + make_interval(secs => %s) "
                             "WHERE token = ANY(%s)", [self.lease, held])
            except (RouteWatchError, self._psycopg.Error):
                conn = None  # the server is away: try again next round; the leases may lapse meanwhile
        if conn is not None:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._held:
                self._conn.execute("DELETE FROM polite_slots WHERE token = ANY(%s)", [sorted(self._held)])
                self._held.clear()
            self._conn.close()


_BUDGETS: dict[tuple[int, str, int, float, float], SharedBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_for(url: str, concurrency: int, delay: float, lease: float = 30.0) -> Budget:
    """The budget a request path uses: shared through PostgreSQL when a DSN is given, else the local one.
    One `SharedBudget` (one connection, one lease thread) per process and setting, however many fetchers ask."""
    if not url:
        return LocalBudget()
    key = (os.getpid(), url, int(concurrency), float(delay), float(lease))
    with _BUDGETS_LOCK:
        if key not in _BUDGETS:
            _BUDGETS[key] = SharedBudget(url, concurrency, delay, lease)
        return _BUDGETS[key]


@contextlib.contextmanager
def held(budget: Budget, url: str, sleep: Callable[[float], None] = time.sleep) -> Iterator[str]:
    """One request's slot of the domain of `url`, released when the block ends (however it ends)."""
    token = budget.acquire(domain_of(url), sleep)
    try:
        yield token
    finally:
        budget.release(token)
