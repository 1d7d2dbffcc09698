"""SQL of the seller routes that no domain answers already."""

from __future__ import annotations

from quote_service.db.pool import Connection


async def product_counts(conn: Connection, *, seller_id: str) -> tuple[int, int]:
    """How many products the seller has, and how many of them are active."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, count(*) FILTER (WHERE is_active) AS active FROM products WHERE seller_id = $1",
        seller_id,
    )
    assert row is not None
    return int(row["n"]), int(row["active"])
