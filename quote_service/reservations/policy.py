"""How much one customer may hold, and whose hold a reserving quote may take over (pure: no I/O).

A customer holds at most MAX_HELD_UNITS_PER_PRODUCT units of a product and MAX_ACTIVE_RESERVATIONS
live reservations, across all its quotes, whoever asks (a shopper, or a service key stating its
customer_id): `check_limits`. A reserving quote may take over (`replaces_quote_id`) only its
caller's own live reservation for the same customer: `check_replaceable`.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from quote_service.auth.policy import Maker, acts_for
from quote_service.auth.schemas import Principal
from quote_service.errors import Conflict, FieldError, HoldLimitExceeded, invalid

_REPLACES = "replaces_quote_id"


def check_limits(
    positions: dict[UUID, int],
    wanted: dict[UUID, int],
    live: int,
    own: dict[UUID, int],
    max_units_per_product: int,
    max_reservations: int,
    *,
    offers: frozenset[UUID] = frozenset(),
) -> None:
    """Refuse a new reservation of `wanted` for a customer that has `live` live reservations
    holding `own` units per product, beyond either cap: one detail per bad line
    (`items[i].quantity`), and `reserve_stock` for the number of reservations. The ids in `offers` are
    offers' (docs/offers.md): capped per offer as a product is."""
    problems = [
        FieldError(
            f"items[{positions[pid]}].quantity",
            f"{'offer' if pid in offers else 'product'} {pid}: {quantity} wanted and {own.get(pid, 0)} already held"
            f" for this customer, who may hold at most {max_units_per_product} units of a "
            + ("product's offer" if pid in offers else "product"),
        )
        for pid, quantity in wanted.items()
        if own.get(pid, 0) + quantity > max_units_per_product
    ]
    if live >= max_reservations:
        problems.append(
            FieldError(
                "reserve_stock",
                f"this customer already has {live} live reservations, the most it may have "
                "(order or release one, or move one to this quote with replaces_quote_id)",
            )
        )
    if problems:
        raise HoldLimitExceeded("hold limit exceeded: " + "; ".join(p.message for p in problems), details=problems)


def check_replaceable(
    row: asyncpg.Record | None, replaces: UUID, caller: Principal, customer_id: str, now: datetime
) -> None:
    """Refuse, naming `replaces_quote_id`, to move a hold that is not the caller's live reservation
    for `customer_id`: unknown, not reserved or another caller's quote → 422 (alike: another
    caller's quote does not exist for this one), another customer's → 422, ordered → 409
    QUOTE_ALREADY_ORDERED, expired → 409 QUOTE_EXPIRED, released or replaced already → 409 CONFLICT."""
    if row is None or not acts_for(caller, maker(row)):
        raise invalid(_REPLACES, f"quote {replaces} holds no stock reservation of yours")
    if row["customer_id"] != customer_id:
        raise invalid(_REPLACES, f"quote {replaces} holds stock for customer {row['customer_id']}, not {customer_id}")
    status = status_at(row, now)
    if status == "consumed":
        message = f"quote {replaces} has been ordered: its units are sold"
        raise Conflict(message, code="QUOTE_ALREADY_ORDERED", details=[FieldError(_REPLACES, message)])
    if status == "expired":
        message = f"the hold of quote {replaces} has expired: leave replaces_quote_id out to hold anew"
        raise Conflict(message, code="QUOTE_EXPIRED", details=[FieldError(_REPLACES, message)])
    if status != "held":
        message = (
            f"the hold of quote {replaces} was released: leave replaces_quote_id out to hold anew"
            if status == "released"
            else f"the hold of quote {replaces} has already moved to quote {row['replaced_by']}"
        )
        raise Conflict(message, details=[FieldError(_REPLACES, message)])


def maker(row: asyncpg.Record) -> Maker:
    """Who made the reservation's quote."""
    return row["principal_kind"], row["principal_id"]


def status_at(row: asyncpg.Record, now: datetime) -> str:
    """The reservation's status at `now`: a held one past its expiry reads expired at once."""
    status: str = row["status"]
    return "expired" if status == "held" and row["expires_at"] <= now else status
