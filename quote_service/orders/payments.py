"""Payments of the money an order's edits made due (docs/orders-and-refunds.md#money-due-and-payments).

An edit's positive difference is owed (`balance_due`) until a payment settles it: `record` takes one, in one
transaction under the order's row lock (where refunds, cancels and edit commits of the order queue too), after
claiming its Idempotency-Key as a refund does (db/idempotency.py): the same key with the same body answers the
first answer again, byte for byte, with another body (or for another order) 409 IDEMPOTENCY_CONFLICT. A
payment of more than is due, of nothing, or with more digits than the order's currency has is 422 naming `amount`.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from uuid import UUID

import msgspec

from quote_service import ids
from quote_service.auth.schemas import Principal
from quote_service.db import idempotency
from quote_service.db.pool import Pool
from quote_service.errors import NotFound, invalid
from quote_service.orders import payment_repository as repository
from quote_service.orders import refund_repository
from quote_service.orders.schemas import Payment, PaymentCreate
from quote_service.orders.service import can_see, payment_of
from quote_service.pricing.money import MAX_AMOUNT, ZERO, fits_minor_units, minor_units, round_money

_ENCODER = msgspec.json.Encoder()


def request_hash(order_id: UUID, data: PaymentCreate) -> bytes:
    """Fingerprint of a request: the same key for another order or amount is a conflict."""
    return hashlib.sha256(_ENCODER.encode([str(order_id), "payment", data])).digest()


async def record(
    pool: Pool,
    order_id: UUID,
    data: PaymentCreate,
    *,
    principal: Principal,
    actor: str,
    idempotency_key: str,
    reply: idempotency.Reply,
) -> tuple[Payment, bool]:
    """Record a payment of the order's balance due, its answer kept for the key (`reply`); returns (the
    payment, True when the key's payment is on record without a kept answer)."""
    fingerprint = request_hash(order_id, data)
    async with (
        pool.acquire() as conn,
        idempotency.claimed(
            conn,
            scope="order_payment",
            principal_id=principal.id,
            key=idempotency_key,
            fingerprint=fingerprint,
            reply=reply,
        ) as claim,
    ):
        existing = await repository.get_payment_by_key(conn, principal_id=principal.id, idempotency_key=idempotency_key)
        if existing is not None:
            idempotency.same_request(bytes(existing["request_hash"]), fingerprint)
            return payment_of(existing), True
        async with conn.transaction():
            order = await refund_repository.lock_order(conn, order_id=order_id)
            if order is None or not can_see(principal, order):
                raise NotFound(f"order {order_id} not found")
            amount = _checked(data.amount, order["currency"], order["balance_due"])
            row = await repository.insert_payment(
                conn,
                fields={
                    "id": ids.uuid4(),
                    "order_id": order_id,
                    "currency": order["currency"],
                    "amount": amount,
                    "balance_due": order["balance_due"] - amount,
                    "principal_id": principal.id,
                    "idempotency_key": idempotency_key,
                    "request_hash": fingerprint,
                    "created_by": actor,
                },
            )
            made = payment_of(row)
            await claim.keep(made)
    return made, False


def _checked(amount: Decimal, currency: str, due: Decimal) -> Decimal:
    """`amount` as a payment of an order owing `due` in `currency` takes it (else 422 naming `amount`)."""
    if not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT:
        raise invalid("amount", "must be an amount greater than 0")
    if not fits_minor_units(amount, currency):
        raise invalid("amount", f"has more decimals than {currency} allows ({minor_units(currency)})")
    if amount > due:
        owed = round_money(due, currency) if due > ZERO else "nothing"
        raise invalid("amount", f"is more than the order's balance due ({owed} {currency})")
    return amount
