"""SQL for an order's shipments: written with the order, read with it, and given back by refunds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UnsetType

from quote_service.db.pool import Connection
from quote_service.pricing.quote import SellerTotals, Shipment

COLUMNS = (
    "order_id, position, seller_id, product_ids, goods, options, selected, delivery_fee, free_delivery_remaining, "
    "logistics_commission, seller_goods, seller_discount, seller_tax, seller_tax_included, seller_commission, "
    "seller_commission_tax, seller_payout, seller_platform_contribution, seller_tax_exempted, refund_id"
)


async def insert_shipments(
    conn: Connection,
    *,
    order_id: UUID,
    shipments: Sequence[Shipment],
    sellers: Sequence[SellerTotals],
    first: int = 0,
    edit_id: UUID | None = None,
    refunded: Mapping[str | None, UUID] | None = None,
) -> None:
    """The quote's shipments in its order, each with its seller's totals (the quote lists both per seller);
    an edit writes them from position `first`, with its id, and `refunded`: the sellers whose fee a refund
    gave back already (their shipment stays given back: the row carries that refund's id, marked
    `refund_carried`, for the refund gave back the fee of an earlier row, never this one's; migration 0840)."""
    given = refunded or {}
    await conn.executemany(
        f"""INSERT INTO order_shipments ({COLUMNS}, edit_id, refund_carried)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                    $21, $20::uuid IS NOT NULL)""",
        [
            (
                order_id,
                first + position,
                shipment.seller_id,
                shipment.product_ids,
                shipment.goods,
                msgspec.to_builtins(shipment.options),
                shipment.selected,
                shipment.delivery_fee,
                shipment.free_delivery_remaining,
                shipment.logistics_commission,
                seller.goods,
                seller.discount,
                seller.tax,
                seller.tax_included,
                seller.commission,
                seller.commission_tax,
                seller.payout,
                None if isinstance(seller.platform_contribution, UnsetType) else seller.platform_contribution,
                None if isinstance(seller.tax_exempted, UnsetType) else seller.tax_exempted,
                given.get(shipment.seller_id),
                edit_id,
            )
            for position, (shipment, seller) in enumerate(zip(shipments, sellers, strict=True))
        ],
    )


async def shipments_of(conn: Connection, *, order_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """The live shipments of these orders (an edit retires those it replaces), by order and position."""
    return await conn.fetch(
        f"""SELECT {COLUMNS} FROM order_shipments WHERE order_id = any($1::uuid[]) AND retired_by IS NULL
            ORDER BY order_id, position""",
        list(order_ids),
    )


async def give_back(conn: Connection, *, order_id: UUID, positions: Sequence[int], refund_id: UUID) -> None:
    """Mark these shipments' fees refunded by `refund_id` (under the order's row lock)."""
    await conn.execute(
        "UPDATE order_shipments SET refund_id = $3 WHERE order_id = $1 AND position = any($2::integer[])",
        order_id,
        list(positions),
        refund_id,
    )


async def sellers_refunded(conn: Connection, *, refund_ids: Sequence[UUID]) -> dict[UUID, list[str | None]]:
    """The sellers whose shipment fee each refund gave back, in shipment order (the rows it gave back: a row an
    edit wrote later carries its id too, `refund_carried`)."""
    rows = await conn.fetch(
        """SELECT refund_id, seller_id FROM order_shipments WHERE refund_id = any($1::uuid[]) AND NOT refund_carried
           ORDER BY refund_id, position""",
        list(refund_ids),
    )
    found: dict[UUID, list[str | None]] = {}
    for row in rows:
        found.setdefault(row["refund_id"], []).append(row["seller_id"])
    return found


def fees(row: asyncpg.Record) -> tuple[Decimal, Decimal]:
    """A shipment row's (delivery fee, logistics commission)."""
    return row["delivery_fee"], row["logistics_commission"]
