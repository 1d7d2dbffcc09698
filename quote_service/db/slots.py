"""Once per slot across processes: a loop's pass of a time slot goes to one process.

Time is cut into slots of a loop's interval (aligned on the epoch). Each process's pass asks
`take_slot`; PostgreSQL (`loop_slots`, migration 0035) lets exactly one caller per slot
through — durable, so a Redis restart or a failover cannot hand the same slot out twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from quote_service.db.pool import Pool

_TAKE = """
INSERT INTO loop_slots (loop, slot_start) VALUES ($1, $2)
ON CONFLICT (loop) DO UPDATE SET slot_start = excluded.slot_start, taken_at = now()
    WHERE loop_slots.slot_start < excluded.slot_start
RETURNING true
"""


def slot_start(moment: datetime, seconds: float) -> datetime:
    """The start of the `seconds`-long slot that holds `moment`."""
    timestamp = moment.timestamp()
    return datetime.fromtimestamp(timestamp - timestamp % seconds, UTC)


async def take_slot(pool: Pool, loop: str, start: datetime) -> bool:
    """True when this caller is the first to take `loop`'s slot starting at `start` (and no
    later slot was taken before it)."""
    return bool(await pool.fetchval(_TAKE, loop, start))
