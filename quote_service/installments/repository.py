"""SQL for installment plans: their columns (db/config_rows.py writes the rows), the list, and the
active plans a quote with a card reads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.config_rows import ConfigTable
from quote_service.db.keyset import fetch_keyset
from quote_service.db.pool import Connection
from quote_service.pricing.installments import InstallmentPlan, PlanOption

COLUMNS = (
    "id, name, bin_prefixes, currency, min_total, options, is_active, created_by, updated_by, created_at, updated_at"
)
WRITABLE = ("name", "bin_prefixes", "currency", "min_total", "options", "is_active")
TABLE = ConfigTable("installment_plans", "installment plan", COLUMNS, WRITABLE)


async def list_plans(
    conn: Connection, *, currency: str | None, is_active: bool | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """Plans oldest first after the (created_at, id) `after`."""
    where = [("currency = {}", currency), ("is_active = {}", is_active)]
    return await fetch_keyset(conn, f"SELECT {COLUMNS} FROM installment_plans", where, after, limit)


def option_fields(option: dict[str, Any]) -> dict[str, Any]:
    """A stored option (an element of `installment_plans.options`) as its fields: the rates as decimals."""
    commission = option["seller_commission_rate"]
    return {
        "count": option["count"],
        "rate": Decimal(option["rate"]),
        "funded_by": option["funded_by"],
        "seller_commission_rate": None if commission is None else Decimal(commission),
    }


async def active_plans(conn: Connection, *, currency: str) -> list[InstallmentPlan]:
    """The active plans in `currency`, oldest first, as the quote path reads them."""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM installment_plans WHERE is_active AND currency = $1 ORDER BY created_at, id", currency
    )
    return [
        InstallmentPlan(
            id=row["id"],
            bin_prefixes=tuple(row["bin_prefixes"]),
            currency=row["currency"].strip(),
            min_total=row["min_total"],
            options=tuple(PlanOption(**option_fields(o)) for o in row["options"]),
        )
        for row in rows
    ]
