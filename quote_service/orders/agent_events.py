"""ACP order events of an agent's orders (docs/agents.md#order-events).

An order an agent key's quote made (its `agent`) is announced to that agent's webhook URL, when it
registered one, as the Agentic Commerce Protocol's `order_create` and `order_update` events
(`{type, data: {type: order, checkout_session_id, permalink_url, status, refunds}}`, amounts in
minor units), written to the webhook outbox in the order's own transaction: exactly once per change,
retried until delivered, signed `Merchant-Signature` (webhooks/signing.py). Statuses are ACP's:
`created` when placed, then `confirmed` (refunds listed) or `canceled`. `data.sequence` numbers the
events of all resources in commit order, as every webhook event's does (docs/webhooks.md). An
order no agent made costs nothing here: its `agent` is absent and nothing is read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec
from msgspec import UNSET

from quote_service.db.pool import Connection
from quote_service.orders.schemas import Order
from quote_service.pricing.money import to_minor
from quote_service.structs import Frozen
from quote_service.webhooks import repository as webhooks

EventType = Literal["order_create", "order_update"]
OrderStatus = Literal["created", "confirmed", "canceled", "shipped", "fulfilled"]


class AcpRefund(Frozen):
    type: Literal["original_payment", "store_credit"]
    amount: int
    """In the currency's minor units."""


class AcpOrder(Frozen):
    type: Literal["order"]
    checkout_session_id: str
    """The checkout session the order completed; the order's own id for one placed otherwise."""
    permalink_url: str
    status: OrderStatus
    refunds: list[AcpRefund]
    sequence: int


class AcpOrderEvent(Frozen):
    type: EventType
    data: AcpOrder


_ENCODER = msgspec.json.Encoder()


def permalink(order: Order) -> str:
    """Where the order is read (GET, with the key that placed it)."""
    return f"/api/v1/orders/{order.id}"


def minor(amount: Decimal, currency: str) -> int:
    """`amount` in `currency`'s minor units (ISO 4217 digits), exactly (`money.to_minor`, as sessions show them)."""
    return to_minor([amount], currency)[0]


async def announce(conn: Connection, order: Order, event_type: EventType) -> None:
    """Write the agent's event of `order` (placed: `order_create`; refunded or cancelled:
    `order_update`) in `conn`'s transaction, while it holds the order's row; nothing for an order
    no agent made, or whose agent has no webhook URL."""
    if order.agent is UNSET:
        return
    status: OrderStatus = "created" if event_type == "order_create" else "confirmed"
    if order.status == "cancelled":
        status = "canceled"
    refunded = minor(order.refunded_amount, order.currency)
    sequence: int = await conn.fetchval("SELECT nextval('webhook_event_sequence')")
    event = AcpOrderEvent(
        type=event_type,
        data=AcpOrder(
            type="order",
            checkout_session_id=order.checkout_session_id or str(order.id),
            permalink_url=permalink(order),
            status=status,
            refunds=[AcpRefund(type="original_payment", amount=refunded)] if refunded else [],
            sequence=sequence,
        ),
    )
    body = _ENCODER.encode(event).decode()
    await webhooks.emit_to_agent(conn, agent_key_id=order.agent.key_id, event_type=event_type, body=body)
