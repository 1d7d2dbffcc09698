"""Values in Redis that only ever move to a newer version: the quote path's caches of counts
PostgreSQL keeps (a customer's coupon uses, its units of a product under a per-customer limit).

A key holds `<value>:<version>`: the value (text without a colon at its end) and the version of
PostgreSQL's data it was read from, a number every committed change of that data moves on by one.
Every write is a compare-and-set that moves a key only to a newer version, so writers that race (an
order publishing what it read, a cancel publishing after its commit, a repair) leave the newest
value whatever order their writes arrive in. A value without a version (written before versions)
is older than any.
"""

from __future__ import annotations

from collections.abc import Mapping

from quote_service.cache.redis import RedisClient, is_cluster, run_each

# KEYS[i] a key; ARGV[2i-1], ARGV[2i] its value and that value's version.
_PUBLISH = """
local written = 0
for i, key in ipairs(KEYS) do
  local value, version = ARGV[2 * i - 1], tonumber(ARGV[2 * i])
  local held = redis.call('GET', key)
  local known = -1
  if held then
    known = tonumber(string.match(held, ':(%d+)$') or '-1')
  end
  if version > known then
    redis.call('SET', key, value .. ':' .. ARGV[2 * i])
    written = written + 1
  end
end
return written
"""


async def write_newer(redis: RedisClient, values: Mapping[str, tuple[str | int, int]]) -> int:
    """Move each key to its (value, version) where it holds an older version; how many it wrote."""
    if not values:
        return 0
    calls = [([key], [value, version]) for key, (value, version) in values.items()]
    # register_script only hashes locally; Redis loads the script once, on first use.
    script = redis.register_script(_PUBLISH)
    if is_cluster(redis):  # the keys are independent: one call per key (its own slot)
        return sum(await run_each(redis, script, calls))
    written: int = await script(keys=[keys[0] for keys, _ in calls], args=[arg for _, args in calls for arg in args])
    return written


def value_of(held: bytes) -> bytes:
    """The value a key holds without its version (`<value>:<version>`, or a bare value)."""
    value, colon, version = held.rpartition(b":")
    return value if colon and version.isdigit() else held
