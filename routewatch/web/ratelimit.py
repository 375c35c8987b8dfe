"""A token bucket per client IP for the web API and pages (setting `web.rate_limit_per_minute`).

In: a client key (the IP) per request.  Out: allowed, or the seconds until one token is back (the
Retry-After of the 429). Memory is bounded: the least recently seen clients are forgotten first.
Never blocks or sleeps.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBucket:
    def __init__(self, per_minute: int, *, burst: int | None = None, max_clients: int = 10000,
                 clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0  # tokens per second
        self.capacity = float(burst if burst is not None else per_minute)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[bool, int]:
        """(allowed, retry_after_seconds)."""
        if self.rate <= 0:
            return True, 0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                allowed, wait = True, 0
            else:
                self._buckets[key] = (tokens, now)
                allowed, wait = False, max(1, math.ceil((1.0 - tokens) / self.rate))
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return allowed, wait
