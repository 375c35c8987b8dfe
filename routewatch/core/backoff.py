"""The one back-off rule for a server that says "not now" (HTTP 429 / 503, an API's rate-limit error).

In: the answer's `Retry-After` (seconds or an HTTP date, as str or bytes), the retry number, the base and the
longest wait.  Out: seconds to wait — the server's Retry-After when it gives one, else base·2^n (1 s, 2 s,
4 s … for base 1), never more than the longest wait. `retrying` drives a retry loop with it (tenacity).
Used by the scrapy middleware (crawlers/run.py) and the TikTok Research client; sleeps only through the
`sleep` it is given.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base


def retry_after_seconds(value: str | bytes | None) -> float | None:
    """A Retry-After header's wait in seconds (delta-seconds or an HTTP date; a date past is 0); None when
    there is none or it is unreadable."""
    if not value:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff_seconds(retry_after: str | bytes | None, retry: int, base: float, max_wait: float) -> float:
    """The wait before retry number `retry` (0 = the first retry)."""
    told = retry_after_seconds(retry_after)
    wait = told if told is not None else base * (2 ** retry)
    return min(wait, max_wait)


class RateLimited(Exception):  # noqa: N818 - reads as the server's state, like scrapy's IgnoreRequest
    """Raised inside a `retrying` loop for an answer that says "not now"; carries its Retry-After."""

    def __init__(self, reason: str, retry_after: str | bytes | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _WaitRetryAfter(wait_base):
    def __init__(self, base: float, max_wait: float):
        self.base, self.max_wait = base, max_wait

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        told = exc.retry_after if isinstance(exc, RateLimited) else None
        return backoff_seconds(told, retry_state.attempt_number - 1, self.base, self.max_wait)


def retrying(retries: int, base: float, max_wait: float, sleep: Callable[[float], None]) -> Retrying:
    """A tenacity loop: a `RateLimited` attempt is tried again up to `retries` times after `backoff_seconds`;
    the last one's `RateLimited` is raised. Any other exception ends the loop at once."""
    return Retrying(stop=stop_after_attempt(retries + 1), wait=_WaitRetryAfter(base, max_wait),
                    retry=retry_if_exception_type(RateLimited), sleep=sleep, reraise=True)
