"""The events a subscription can receive, and `emit`: the outbox write (docs/webhooks.md#events).

`emit(conn, type, data)` writes the event in the transaction `conn` is in, through the SQL
function `webhook_emit` (migrations/0300), which the database's own triggers call too for the
events they report. Call it inside the change's transaction: a change that rolls back then
sends nothing, and a committed one is delivered, whatever happens to the process afterwards.

Order: `webhook_emit` puts `sequence` into every event's data (migrations/0610), numbered when
the event is written. Call `emit` while the transaction holds the row lock of the resource the
event reports (an order's row, locked by a refund or cancel before anything else; a new order's
own row): that lock is what makes a resource's numbers increase in the order its changes commit.
"""

from __future__ import annotations

from typing import Literal, get_args

import msgspec

from quote_service.db.pool import Connection

EventType = Literal[
    "order.created",
    "order.cancelled",
    "order.refunded",
    "order.edited",
    "product.price_changed",
    "offer.updated",
    "flash_sale.sold_out",
    "experiment.rolled_back",
    "reservation.expired",
    "config.changed",
    "webhook.disabled",
    "flag.potentially_stale",
    "payout.created",
    "payout.paid",
    "payout.failed",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
"""The types a subscription may name: every event the service writes (`emit` takes no other, and
the database's `webhook_emit` calls name no other: tests/unit/webhooks/test_event_types.py)."""
ALL_EVENTS = "*"
"""In a subscription's `events`: every type, those added later included."""
TEST_EVENT = "webhook.test"
"""The test ping's type (POST /webhooks/{id}/test): sent on request, never subscribed to."""
SENT_TYPES: tuple[str, ...] = (*EVENT_TYPES, TEST_EVENT)
"""Every type a receiver can get: each receiver in the docs handles every one of them."""

_ENCODER = msgspec.json.Encoder()


async def wanted(conn: Connection, event_type: EventType) -> bool:
    """Whether `emit` would write an event of `event_type` now (a subscription, active or not, names it):
    a caller whose payload costs reads to build asks first. As racy as `emit`'s own look: a subscription
    committed after it sees the changes committed after that."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM webhooks WHERE events && ARRAY[$1, '*'])", event_type
    )
    return found


async def emit(conn: Connection, event_type: EventType, data: object) -> None:
    """Write event `event_type` with payload `data` (anything msgspec encodes) for every active
    subscription that wants it, in `conn`'s current transaction; nothing when none does."""
    await conn.execute("SELECT webhook_emit($1, $2)", event_type, _ENCODER.encode(data).decode())
