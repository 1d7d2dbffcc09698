"""Failed-login limits per username and per client address, shared by every process via Redis.

Failed logins are counted in two fixed windows that start at the first failure:

    qs:login:fail:u:<username, lower-cased>   failures on one account
    qs:login:fail:a:<client address>          failures from one address

Before any password work, an attempt whose username or address has reached its limit is refused
with 429 RATE_LIMITED and `Retry-After` (the seconds left in that window). Only wrong passwords
count: a success clears its account's window (not its address's: one valid account must not
launder an address's guesses), and an attempt the server could not judge (503 while password
checking is saturated, a store down) counts for nothing. The check and the count are separate
steps, so attempts already in flight when a limit is reached still finish: at most the number
a process lets check at once (auth/gate.py) beyond the limit.

Every attempt is also noted (`qs:login:seen:u:...`, `qs:login:seen:a:...`, same window) to tell
auth/gate.py which attempts are suspect: those whose account or address has a failure in the
window, or SUSPECT_AFTER_ATTEMPTS attempts since its last success. A guessing flood is suspect
after its first few attempts; a person signing in, even after a retry or two, is not, and
auth/gate.py serves them first.

If Redis cannot be reached, or refuses writes (full, read-only), the limits are skipped (logins
keep working; the CPU bound of auth/gate.py still holds) and a warning is logged.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import cast

import structlog
from redis import exceptions as redis_exceptions

from quote_service.cache.redis import RedisClient, is_cluster, run_each, write_refused
from quote_service.errors import RateLimited

log = structlog.get_logger("quote_service.auth.throttle")

# KEYS: ARGV[2] failure windows, then the seen windows; ARGV[1]: window length in ms. Notes the
# attempt as seen; returns per failure window the failures and the milliseconds left (or -2),
# then per seen window the attempts seen before this one. Every window is independent: on a
# Redis Cluster (each key its own slot) the script runs once per key.
_BEGIN = """
local out = {}
local failures = tonumber(ARGV[2])
for i = 1, failures do
  out[#out + 1] = tonumber(redis.call('GET', KEYS[i]) or '0')
  out[#out + 1] = redis.call('PTTL', KEYS[i])
end
for i = failures + 1, #KEYS do
  out[#out + 1] = redis.call('INCR', KEYS[i]) - 1
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
return out
"""
# KEYS: the windows to count a failure in; ARGV[1]: window length in ms.
_FAIL = """
for i, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[1]) end
end
return 0
"""
SUSPECT_AFTER_ATTEMPTS = 3
_REDIS_DOWN = (
    redis_exceptions.ConnectionError,
    redis_exceptions.TimeoutError,
    redis_exceptions.ClusterError,  # CLUSTERDOWN, MASTERDOWN, and redirects past the client's TTL
    redis_exceptions.TryAgainError,
    redis_exceptions.SlotNotCoveredError,
    OSError,
)


def _unavailable(exc: BaseException) -> bool:
    """Redis away, or refusing writes (full, read-only): the limits are skipped, logins go on."""
    return isinstance(exc, _REDIS_DOWN) or write_refused(exc)


@dataclass(frozen=True)
class Attempt:
    """One login attempt: its account and address, and whether either looks like guessing."""

    account: str
    address: str
    suspect: bool


class LoginThrottle:
    """Counts failed logins per username and per address; refuses attempts over a limit."""

    def __init__(self, redis: RedisClient, *, per_username: int, per_address: int, window_seconds: int) -> None:
        self.per_username = per_username
        self.per_address = per_address
        self.window_ms = window_seconds * 1000
        self._redis = redis
        self._begin = redis.register_script(_BEGIN)
        self._fail = redis.register_script(_FAIL)

    async def begin(self, username: str, address: str) -> Attempt:
        """Note an attempt; raise RateLimited when its username or address is over the limit."""
        account = username.lower()
        keys = [f"qs:login:fail:u:{account}", f"qs:login:fail:a:{address}"]
        keys += [f"qs:login:seen:u:{account}", f"qs:login:seen:a:{address}"]
        try:
            by_user, user_ms, by_address, address_ms, seen_user, seen_address = await self._begin_all(keys)
        except Exception as exc:
            if not _unavailable(exc):
                raise
            log.warning("login_throttle_unavailable", error=type(exc).__name__)
            return Attempt(account, address, suspect=False)
        waits = []
        if by_user >= self.per_username:
            waits.append(user_ms)
        if by_address >= self.per_address:
            waits.append(address_ms)
        if waits:
            raise RateLimited(
                "Too many failed logins for this account or from this address; retry later",
                retry_after=max(1, math.ceil(max(waits) / 1000)),
            )
        suspect = by_user > 0 or by_address > 0 or max(seen_user, seen_address) >= SUSPECT_AFTER_ATTEMPTS
        return Attempt(account, address, suspect=suspect)

    async def _begin_all(self, keys: list[str]) -> list[int]:
        """`_BEGIN` over the two failure windows and the two seen windows."""
        if not is_cluster(self._redis):
            return cast(list[int], await self._begin(keys=keys, args=[self.window_ms, 2]))
        calls = [([key], [self.window_ms, 1 if n < 2 else 0]) for n, key in enumerate(keys)]
        return [value for answer in await run_each(self._redis, self._begin, calls) for value in answer]

    async def failed(self, attempt: Attempt) -> None:
        """A wrong password: count it in both failure windows."""
        keys = [f"qs:login:fail:u:{attempt.account}", f"qs:login:fail:a:{attempt.address}"]
        if is_cluster(self._redis):
            await self._guarded(run_each(self._redis, self._fail, [([key], [self.window_ms]) for key in keys]))
        else:
            await self._guarded(self._fail(keys=keys, args=[self.window_ms]))

    async def succeeded(self, attempt: Attempt) -> None:
        """A correct password: clear the account's failures, and the attempt's suspicion."""
        keys = [f"qs:login:fail:u:{attempt.account}", f"qs:login:seen:u:{attempt.account}"]
        await self._guarded(self._redis.delete(*keys, f"qs:login:seen:a:{attempt.address}"))

    async def _guarded(self, command: Awaitable[object]) -> None:
        try:
            await command
        except Exception as exc:
            if not _unavailable(exc):
                raise
            log.warning("login_throttle_unavailable", error=type(exc).__name__)
