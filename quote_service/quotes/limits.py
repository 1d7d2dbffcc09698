"""Admission control for the quote path: a per-client rate limit and a concurrency cap.

Both are in-process and cost a few dict operations — nothing on the hot path waits on Redis.
The rate limit is a token bucket per client identity refilled at RATE_LIMIT_PER_MINUTE/60
per second, with a burst of one minute's allowance. It is enforced per process: with W worker
processes (or instances) a client can reach up to W times the limit — size the setting for that.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable

from quote_service.errors import Overloaded, RateLimited

_MAX_TRACKED_CLIENTS = 100_000


class RateLimiter:
    """Token buckets keyed by client identity (least recently seen evicted beyond a bound).

    A plain dict keeps them in the order last seen (a bucket taken is popped and put back at the
    end), so the first is the least recently seen: cheaper than an OrderedDict's linked list."""

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._buckets: dict[Hashable, tuple[float, float]] = {}

    def reset(self) -> None:
        """Forget every client's bucket."""
        self._buckets.clear()

    def check(self, client: Hashable, *, now: float | None = None) -> None:
        """Take one token for `client`, or raise RateLimited with a Retry-After."""
        moment = time.monotonic() if now is None else now
        buckets = self._buckets
        bucket = buckets.pop(client, None)
        if bucket is None:  # a client not seen (or evicted): a full bucket
            tokens = self._burst
            if len(buckets) >= _MAX_TRACKED_CLIENTS:
                del buckets[next(iter(buckets))]
        else:
            tokens = bucket[0] + (moment - bucket[1]) * self._rate
            if tokens > self._burst:  # min() without the call
                tokens = self._burst
        if tokens < 1.0:
            buckets[client] = (tokens, moment)
            wait = math.ceil((1.0 - tokens) / self._rate)
            raise RateLimited(f"Rate limit of {int(self._burst)} requests per minute exceeded", retry_after=wait)
        buckets[client] = (tokens - 1.0, moment)


class ConcurrencyGate:
    """At most `limit` quotes in flight; beyond it, refuse at once (no queue to grow).

    Two integers: the quote path counts `in_flight` up and down itself (inline, no context
    manager), refusing with `refusal()` at the limit; `with gate:` does the same for others."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def refusal(self) -> Overloaded:
        return Overloaded(f"Too many quotes in flight ({self.limit}); retry shortly", retry_after=1)

    def __enter__(self) -> ConcurrencyGate:
        if self.in_flight >= self.limit:
            raise self.refusal()
        self.in_flight += 1
        return self

    def __exit__(self, *_: object) -> None:
        self.in_flight -= 1
