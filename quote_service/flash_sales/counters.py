"""A sale's live counters in Redis, and the Lua scripts that change them atomically.

Every key of one sale carries the hash tag `{fs:<sale id>}`, so a sale lives in one Redis
Cluster slot and each script touches one slot. The sale hash holds, in one key (a flush or an
eviction removes all of it or none of it, never half):

    gen              token of the build that wrote the hash (an undo applies only to its own build)
    status           stored status: scheduled | active | ended
    starts, ends     the window, epoch milliseconds
    s:<item>         units left
    l:<item>         per-customer limit
    b:<item>:<c>     units customer <c> bought

where <item> is the item's slot (`pricing.flash.slot`): the product's id for an item selling its default
offer, `<product>/<offer>` for an item naming one offer.

Idempotency markers are separate keys in the same slot: `P|<hash>` while a purchase is being
written to the ledger, `D|<hash>|<purchase json>` once it is durable, `R|<hash>|<code>|<detail>`
for REFUSAL_MARKER_SECONDS after the script refused it (a double submit gets one answer).

Holds: every reservation the purchase script grants is also recorded in the sale's `holds`
hash (field: the hold's token; value: JSON {p: item slot, c: customer, q: units, g: the build it
took them from, t: when, epoch ms, m: its marker key}) until the ledger settles it (`settle`)
or its units go back (`undo`). Both remove the hold, and an undo gives units back only when it
removed it, so each hold's units come back at most once — whether the request's own undo does
it or the hold reconciler, for a hold whose undo failed (migrations/0036).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import msgspec

from quote_service.cache.redis import RedisClient
from quote_service.pricing.flash import SaleStatus

# Each script is registered once (EVALSHA; redis-py reloads it after a SCRIPT FLUSH or restart).
_PURCHASE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'MISSING'} end
local prior = redis.call('GET', KEYS[2])
if prior then return {'REPLAY', prior} end
local product, customer = ARGV[1], ARGV[2]
local function refuse(code, detail, bought)
  redis.call('HINCRBY', KEYS[3], code, 1)
  if tonumber(ARGV[8]) > 0 then  -- the key answers this refusal again for ARGV[8] seconds
    redis.call('SET', KEYS[2], 'R|' .. string.sub(ARGV[5], 3) .. '|' .. code .. '|' .. detail, 'EX', ARGV[8])
  end
  return {code, detail, bought}
end
local bought_field = 'b:' .. product .. ':' .. customer
local sale = redis.call('HMGET', KEYS[1], 'status', 'starts', 'ends', 'gen',
                        's:' .. product, 'l:' .. product, bought_field)
local now, quantity = tonumber(ARGV[4]), tonumber(ARGV[3])
local status = sale[1]
if status == 'ended' or now >= tonumber(sale[3]) or (status ~= 'active' and now < tonumber(sale[2])) then
  return refuse('SALE_NOT_ACTIVE', '', '0')
end
if not sale[5] then return {'NOT_IN_SALE'} end
local left, limit, bought = tonumber(sale[5]), tonumber(sale[6]), tonumber(sale[7] or '0')
if left < quantity then
  return refuse('SOLD_OUT', tostring(left), tostring(bought))
end
if bought + quantity > limit then
  return refuse('PURCHASE_LIMIT_EXCEEDED', tostring(limit - bought), tostring(bought))
end
redis.call('HINCRBY', KEYS[1], 's:' .. product, -quantity)
redis.call('HINCRBY', KEYS[1], bought_field, quantity)
redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[6])
redis.call('HINCRBY', KEYS[3], 'RESERVED', 1)
redis.call('HSET', KEYS[4], ARGV[7], cjson.encode({p = product, c = customer, q = quantity, g = sale[4],
                                                   t = now, m = KEYS[2]}))
return {'OK', sale[4], tostring(left - quantity), tostring(bought + quantity)}
"""

# Give back what one hold took, once: only when this call removes the hold (KEYS[4], field
# ARGV[6]; the request's undo and the reconciler may both try), and only into the build it took
# it from (after a flush and a rebuild from the ledger, the units were never counted as taken).
# The attempt it counted as RESERVED is counted again under its real outcome (ARGV[5]).
_UNDO = """
if redis.call('HDEL', KEYS[4], ARGV[6]) == 0 then return 0 end
local marker = redis.call('GET', KEYS[2])
if marker and string.sub(marker, 1, 2) == 'P|' then redis.call('DEL', KEYS[2]) end
if tonumber(redis.call('HGET', KEYS[3], 'RESERVED') or '0') > 0 then
  redis.call('HINCRBY', KEYS[3], 'RESERVED', -1)
  redis.call('HINCRBY', KEYS[3], ARGV[5], 1)
end
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 's:' .. ARGV[2], tonumber(ARGV[4]))
redis.call('HINCRBY', KEYS[1], 'b:' .. ARGV[2] .. ':' .. ARGV[3], -tonumber(ARGV[4]))
return 1
"""

# The ledger settled a hold: forget it, and store the purchase's marker (ARGV[1], kept ARGV[2]
# seconds) or, with an empty ARGV[1], drop the marker (an order's hold).
_SETTLE = """
redis.call('HDEL', KEYS[1], ARGV[3])
if ARGV[1] == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
end
return 1
"""

# Write a whole sale hash (and the durable purchases' markers) in one step. Mode 'missing'
# writes only when the hash is absent (a rebuild); 'replace' overwrites it (reconcile, edits).
_BUILD = """
if ARGV[1] == 'missing' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
local pairs_count = tonumber(ARGV[3])
for i = 0, pairs_count - 1 do
  redis.call('HSET', KEYS[1], ARGV[4 + 2 * i], ARGV[5 + 2 * i])
end
local first_marker = 4 + 2 * pairs_count
for k = 2, #KEYS do
  redis.call('SET', KEYS[k], ARGV[first_marker + k - 2], 'EX', ARGV[2])
end
return 1
"""

# Record the stored status where the hash exists (never create a partial hash).
_SET_FIELDS = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


RELEASED = "RELEASED"
"""Attempt outcome: units taken at Redis, then given back (the order did not commit, or the
purchase could not be recorded)."""


def sale_key(sale_id: UUID) -> str:
    return f"qs:{{fs:{sale_id}}}:sale"


def marker_key(sale_id: UUID, principal_id: UUID, idempotency_key: str) -> str:
    return f"qs:{{fs:{sale_id}}}:idem:{principal_id}:{idempotency_key}"


def attempts_key(sale_id: UUID) -> str:
    return f"qs:{{fs:{sale_id}}}:attempts"


def viewers_key(sale_id: UUID) -> str:
    return f"qs:{{fs:{sale_id}}}:viewers"


def holds_key(sale_id: UUID) -> str:
    return f"qs:{{fs:{sale_id}}}:holds"


def rebuild_lock_key(sale_id: UUID) -> str:
    return f"qs:{{fs:{sale_id}}}:rebuild"


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class Hold(msgspec.Struct, frozen=True):
    """Units a reservation took in Redis that the ledger has not settled yet (the holds hash)."""

    p: str
    """the item's slot (`pricing.flash.slot`: the product's id, or `<product>/<offer>`)"""
    c: str
    """customer"""
    q: int
    """units"""
    g: str
    """the build (`gen`) the units were taken from"""
    t: int
    """when, epoch milliseconds"""
    m: str
    """the reservation's idempotency marker key"""


_HOLD = msgspec.json.Decoder(Hold)


@dataclass(frozen=True, slots=True)
class Reservation:
    """The script's answer: `outcome` OK (units taken, under `hold`) or why not."""

    outcome: str
    hold: str = ""
    gen: str = ""
    detail: str = ""
    bought: int = 0
    """Units the customer already held (on SOLD_OUT and PURCHASE_LIMIT_EXCEEDED)."""


@dataclass(frozen=True, slots=True)
class SaleCounters:
    """A whole sale hash as the ledger says it should be."""

    status: SaleStatus
    starts_at: datetime
    ends_at: datetime
    remaining: dict[str, int]
    """By item slot (`pricing.flash.slot`), as `limits` and `bought`."""
    limits: dict[str, int]
    bought: dict[tuple[str, str], int]

    def fields(self, gen: str) -> list[str]:
        flat = ["gen", gen, "status", self.status, "starts", str(millis(self.starts_at))]
        flat += ["ends", str(millis(self.ends_at))]
        for product, left in self.remaining.items():
            flat += [f"s:{product}", str(left), f"l:{product}", str(self.limits[product])]
        for (product, customer), count in self.bought.items():
            flat += [f"b:{product}:{customer}", str(count)]
        return flat


class Counters:
    """The scripts of one Redis client, registered once."""

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis
        self._purchase = redis.register_script(_PURCHASE)
        self._undo = redis.register_script(_UNDO)
        self._settle = redis.register_script(_SETTLE)
        self._build = redis.register_script(_BUILD)
        self._set_fields = redis.register_script(_SET_FIELDS)
        self._release = redis.register_script(_RELEASE_LOCK)

    async def reserve(
        self,
        *,
        sale_id: UUID,
        slot: str,
        customer_id: str,
        quantity: int,
        now: datetime,
        marker: str,
        marker_value: str,
        marker_ttl: int,
        refusal_ttl: int = 0,
    ) -> Reservation | bytes:
        """Take `quantity` units for the customer under a new hold, or say why not (and keep the
        refusal under `marker` for `refusal_ttl` seconds when that is not 0); bytes = an existing
        marker."""
        hold = uuid.uuid4().hex
        reply = cast(
            list[bytes],
            await self._purchase(
                keys=[sale_key(sale_id), marker, attempts_key(sale_id), holds_key(sale_id)],
                args=[slot, customer_id, quantity, millis(now), marker_value, marker_ttl, hold,
                      refusal_ttl],
            ),
        )  # fmt: skip
        outcome = reply[0].decode()
        if outcome == "REPLAY":
            return reply[1]
        if outcome == "OK":
            return Reservation("OK", hold=hold, gen=reply[1].decode(), detail=reply[2].decode())
        return Reservation(
            outcome,
            detail=reply[1].decode() if len(reply) > 1 else "",
            bought=int(reply[2]) if len(reply) > 2 else 0,
        )

    async def undo(
        self,
        *,
        sale_id: UUID,
        hold: str,
        gen: str,
        slot: str,
        customer_id: str,
        quantity: int,
        marker: str,
        outcome: str = RELEASED,
    ) -> bool:
        """Give a hold's units back (to the build it came from) unless someone already did;
        True when this call gave them back.

        The attempt moves from RESERVED to `outcome` in the sale's attempt counts: RESERVED
        counts only reservations that became purchases (or orders) or are still being written.
        """
        done = await self._undo(
            keys=[sale_key(sale_id), marker, attempts_key(sale_id), holds_key(sale_id)],
            args=[gen, slot, customer_id, quantity, outcome, hold],
        )
        return bool(done)

    async def settle(self, sale_id: UUID, hold: str, marker: str, value: str | None, ttl: int = 86_400) -> None:
        """The ledger holds the hold's purchase: forget the hold; store the purchase's marker
        `value` (or drop the marker: None)."""
        await self._settle(keys=[holds_key(sale_id), marker], args=[value or "", ttl, hold])

    async def holds(self, sale_id: UUID) -> dict[str, Hold]:
        """The sale's unsettled holds by token."""
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(holds_key(sale_id)))
        return {token.decode(): _HOLD.decode(value) for token, value in raw.items()}

    async def build(
        self,
        sale_id: UUID,
        counters: SaleCounters,
        *,
        replace: bool,
        markers: Sequence[tuple[str, str]] = (),
        marker_ttl: int = 86_400,
    ) -> bool:
        """Write the sale hash (and markers); with replace=False only when it is missing."""
        fields = counters.fields(uuid.uuid4().hex)
        args: list[Any] = ["replace" if replace else "missing", marker_ttl, len(fields) // 2, *fields]
        args += [value for _, value in markers]
        written = await self._build(keys=[sale_key(sale_id), *(key for key, _ in markers)], args=args)
        return bool(written)

    async def set_fields(self, sale_id: UUID, fields: dict[str, str]) -> bool:
        """Change plain fields (status, window) of an existing hash; False when it is missing."""
        flat = [part for pair in fields.items() for part in pair]
        return bool(await self._set_fields(keys=[sale_key(sale_id)], args=flat))

    async def read(self, sale_id: UUID) -> dict[str, int] | None:
        """The whole hash as numbers (None when missing); for reconcile and tests."""
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(sale_key(sale_id)))
        if not raw:
            return None
        return {k.decode(): int(v) for k, v in raw.items() if k not in (b"gen", b"status")}

    async def remaining(self, sale_id: UUID, slots: Iterable[str]) -> list[int | None] | None:
        """Units left per item slot (None for an unknown one); None when the hash is missing."""
        fields = ["gen", *(f"s:{slot}" for slot in slots)]
        values = cast(list[bytes | None], await self.redis.hmget(sale_key(sale_id), fields))
        if values[0] is None:
            return None
        return [int(v) if v is not None else None for v in values[1:]]

    async def customer_view(
        self, sale_id: UUID, slots: Sequence[str], customer_id: str
    ) -> list[tuple[int, int]] | None:
        """(units left, units this customer bought) per item slot; None when the hash is missing."""
        fields = ["gen"]
        for slot in slots:
            fields += [f"s:{slot}", f"b:{slot}:{customer_id}"]
        values = cast(list[bytes | None], await self.redis.hmget(sale_key(sale_id), fields))
        if values[0] is None:
            return None
        return [(int(values[1 + 2 * i] or 0), int(values[2 + 2 * i] or 0)) for i in range(len(slots))]

    async def acquire_rebuild(self, sale_id: UUID, token: str, *, seconds: float) -> bool:
        """The cross-process rebuild lock (one rebuild of a sale at a time)."""
        return bool(await self.redis.set(rebuild_lock_key(sale_id), token, nx=True, px=int(seconds * 1000)))

    async def release_rebuild(self, sale_id: UUID, token: str) -> None:
        await self._release(keys=[rebuild_lock_key(sale_id)], args=[token])

    async def exists(self, sale_id: UUID) -> bool:
        return bool(await self.redis.exists(sale_key(sale_id)))

    async def forget(self, sale_id: UUID) -> None:
        """Delete the sale hash alone (rebuilt from the ledger on demand); its holds stay."""
        await self.redis.delete(sale_key(sale_id))

    async def delete(self, sale_id: UUID) -> None:
        await self.redis.delete(sale_key(sale_id), attempts_key(sale_id), viewers_key(sale_id), holds_key(sale_id))

    async def add_viewer(self, sale_id: UUID, viewer: str) -> None:
        await self.redis.pfadd(viewers_key(sale_id), viewer)

    async def viewers(self, sale_id: UUID) -> int:
        return int(await self.redis.pfcount(viewers_key(sale_id)))

    async def attempts(self, sale_id: UUID) -> dict[str, int]:
        raw = cast(dict[bytes, bytes], await self.redis.hgetall(attempts_key(sale_id)))
        return {k.decode(): int(v) for k, v in raw.items()}

    async def store_marker(self, marker: str, value: str, ttl: int) -> None:
        await self.redis.set(marker, value, ex=ttl)
