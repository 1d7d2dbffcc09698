"""Login attempt limits per username and per client address, shared by every process via Redis.

Each login attempt is counted *before* its password is checked (so 64 concurrent guesses cannot
all slip under the limit), in two fixed windows that start at the first counted attempt:

    qs:login:u:<username, lower-cased>   attempts on one account
    qs:login:a:<client address>          attempts from one address

An attempt over either limit is refused with 429 RATE_LIMITED and `Retry-After` (the seconds
left in that window) without any password work. A successful login is not held against anyone:
it clears its username's window and gives its address's attempt back; an attempt that failed for
the server's own reasons (a store down) gives both back. Failed guesses stay counted, and so do
attempts answered 503 because password checking was saturated (auth/gate.py): a client that
keeps hammering a busy server runs out of attempts as a guesser does.

If Redis cannot be reached the limits are skipped (logins keep working; the CPU bound of
`auth/gate.py` still holds), and a warning is logged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import structlog
from redis import exceptions as redis_exceptions
from redis.asyncio import Redis

from quote_service.errors import RateLimited

log = structlog.get_logger("quote_service.auth.throttle")

# KEYS: the windows to count in; ARGV[1]: window length in ms. Returns, per key, the count
# including this attempt and the milliseconds left in its window.
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local left = redis.call('PTTL', key)
  if left < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    left = tonumber(ARGV[1])
  end
  out[#out + 1] = count
  out[#out + 1] = left
end
return out
"""
# Give an attempt back: KEYS[i] is decremented (never below zero, never creating a key), or
# deleted when ARGV[i] is 'clear'.
_GIVE_BACK = """
for i, key in ipairs(KEYS) do
  if ARGV[i] == 'clear' then
    redis.call('DEL', key)
  elseif tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
return 0
"""
_REDIS_DOWN = (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError, OSError)


@dataclass(frozen=True)
class Attempt:
    """One counted login attempt: its keys, and whether either window already held attempts."""

    username_key: str
    address_key: str
    counted: bool
    suspect: bool


class LoginThrottle:
    """Counts login attempts per username and per address; refuses those over a limit."""

    def __init__(self, redis: Redis, *, per_username: int, per_address: int, window_seconds: int) -> None:
        self.per_username = per_username
        self.per_address = per_address
        self.window_ms = window_seconds * 1000
        self._count = redis.register_script(_COUNT)
        self._give_back = redis.register_script(_GIVE_BACK)

    async def begin(self, username: str, address: str) -> Attempt:
        """Count an attempt, or raise RateLimited when its username or address is over the limit."""
        username_key, address_key = f"qs:login:u:{username.lower()}", f"qs:login:a:{address}"
        try:
            by_user, user_ms, by_address, address_ms = await self._count(
                keys=[username_key, address_key], args=[self.window_ms]
            )
        except _REDIS_DOWN as exc:
            log.warning("login_throttle_unavailable", error=type(exc).__name__)
            return Attempt(username_key, address_key, counted=False, suspect=False)
        waits = []
        if by_user > self.per_username:
            waits.append(user_ms)
        if by_address > self.per_address:
            waits.append(address_ms)
        if waits:
            raise RateLimited(
                "Too many login attempts for this account or from this address; retry later",
                retry_after=max(1, math.ceil(max(waits) / 1000)),
            )
        return Attempt(username_key, address_key, counted=True, suspect=by_user > 1 or by_address > 1)

    async def succeeded(self, attempt: Attempt) -> None:
        """A correct password: clear the account's window, give the address its attempt back."""
        await self._release(attempt, username="clear")

    async def not_judged(self, attempt: Attempt) -> None:
        """The attempt never reached a verdict (a store failed): give both back."""
        await self._release(attempt, username="decrement")

    async def _release(self, attempt: Attempt, *, username: str) -> None:
        if not attempt.counted:
            return
        try:
            await self._give_back(keys=[attempt.username_key, attempt.address_key], args=[username, "decrement"])
        except _REDIS_DOWN as exc:
            log.warning("login_throttle_unavailable", error=type(exc).__name__)
