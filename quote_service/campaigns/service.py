"""Campaigns: creation, reads, the end, and the hourly moves (one transaction per campaign-hour).

Locks, always in this order: the product's row, then the campaign's. Orders take the product's
row first and the campaign's through the sales trigger, so the two never deadlock. An hour is
applied only while its campaign's row is locked and `hours_elapsed` says it is the next one:
however many schedulers tick at once, each campaign-hour moves the price exactly once, and
hours missed while no process ran are applied one by one, in order.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg
import structlog

from quote_service.campaigns import repository
from quote_service.campaigns.schemas import Campaign, CampaignCreate
from quote_service.catalog import repository as catalog
from quote_service.clock import utcnow
from quote_service.db.pool import Connection, Pool
from quote_service.db.replica import ReadPools
from quote_service.db.rows import found, row_as
from quote_service.errors import Conflict, DuplicateKey, FieldError, ValidationFailed
from quote_service.pagination import Page, page_of
from quote_service.pricing.campaigns import HourMove, hour_move, hours_due
from quote_service.pricing.money import plain, round_money

log = structlog.get_logger("quote_service.campaigns")

MAX_DURATION_HOURS = 720
_MAX_TARGET = 2_147_483_647
# A name is the last segment of the campaign's URL (/api/v1/campaigns/{name}): letters and digits
# of any script, `-`, `_`, `.` and `~` survive every client and proxy; a slash, `?`, `#`, `%`, a
# backslash, spaces and control characters do not (a slash, even sent as %2F, reaches the router
# as a slash, so the campaign could be created but never read or ended).
_URL_SAFE_NAME = re.compile(r"[\w.~-]{1,100}")
NAME_RULE = "must be 1-100 letters, digits, '-', '_', '.' or '~' (it is a URL path segment), not only dots"
PricesMoved = Callable[[Iterable[UUID]], Awaitable[object]]


def campaign_from_row(row: asyncpg.Record) -> Campaign:
    """A campaign as the API shows it: money with the currency's digits."""
    currency = row["currency"]
    sales: int = row["total_sales"]
    turnover: Decimal = row["turnover"]
    return row_as(
        Campaign,
        row,
        price_manipulation_limit=plain(row["price_manipulation_limit"]),
        total_sales=sales,
        turnover=round_money(turnover, currency),
        average_item_price=round_money(turnover / sales, currency) if sales else None,
        base_price=round_money(row["base_price"], currency),
        current_price=round_money(row["current_price"], currency),
    )


def check_campaign(data: CampaignCreate) -> None:
    """Raise 422 naming every out-of-range field."""
    errors: list[FieldError] = []
    if not url_safe_name(data.name):
        errors.append(FieldError("name", NAME_RULE))
    if not 1 <= data.duration_hours <= MAX_DURATION_HOURS:
        errors.append(FieldError("duration_hours", f"must be between 1 and {MAX_DURATION_HOURS}"))
    limit = data.price_manipulation_limit
    if not (limit.is_finite() and 0 < limit < 100):
        errors.append(FieldError("price_manipulation_limit", "must be a percentage greater than 0 and below 100"))
    if not 0 < data.target_sales_count <= _MAX_TARGET:
        errors.append(FieldError("target_sales_count", f"must be between 1 and {_MAX_TARGET}"))
    if errors:
        raise ValidationFailed(
            "Invalid campaign: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
        )


def url_safe_name(name: str) -> bool:
    """True when `name` survives as a URL path segment (see `_URL_SAFE_NAME`); `.` and `..` do not."""
    return _URL_SAFE_NAME.fullmatch(name) is not None and name.strip(".") != ""


class Campaigns:
    """Campaign operations for the HTTP edge, the scheduler and campaign-script; one per process.

    `clock` is the service clock (simulated by campaign-script and tests); `prices_moved` is
    told, after the commit, which products' prices a campaign moved (the catalog's cache
    invalidation).
    """

    def __init__(
        self,
        pool: Pool,
        *,
        clock: Callable[[], datetime] = utcnow,
        prices_moved: PricesMoved | None = None,
        reads: ReadPools | None = None,
    ) -> None:
        self.pool = pool
        self.reads = reads or ReadPools(pool)
        """For the campaign list (a stale-tolerant read, docs/deployment.md)."""
        self.clock = clock
        self._prices_moved = prices_moved

    async def create(self, data: CampaignCreate, *, actor: str, pool: Pool | None = None) -> Campaign:
        """Start a campaign now at the product's current price (409 CAMPAIGN_OVERLAP while another runs).

        `pool`: the audited pool of an admin's write (audit/admin.py), else the process's.
        """
        check_campaign(data)
        now = self.clock()
        async with (pool or self.pool).acquire() as conn, conn.transaction():
            product = await repository.lock_product(conn, product_id=data.product_id)
            if product is None:
                raise ValidationFailed(
                    f"product {data.product_id} not found",
                    details=[FieldError("product_id", "no such product")],
                )
            try:
                await repository.insert_campaign(
                    conn,
                    fields={
                        "name": data.name,
                        "product_id": data.product_id,
                        "status": "active",
                        "duration_hours": data.duration_hours,
                        "price_manipulation_limit": data.price_manipulation_limit,
                        "target_sales": data.target_sales_count,
                        "base_price": product["current_price"],
                        "started_at": now,
                        "ends_at": now + timedelta(hours=data.duration_hours),
                        "created_by": actor,
                    },
                )
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == repository.ONE_ACTIVE_PER_PRODUCT:
                    raise Conflict(
                        f"product {data.product_id} already has an active campaign", code="CAMPAIGN_OVERLAP"
                    ) from exc
                raise DuplicateKey(f"a campaign named {data.name!r} already exists") from exc
            row = await repository.get_campaign(conn, name=data.name)
        assert row is not None
        return campaign_from_row(row)

    async def get(self, name: str) -> Campaign:
        async with self.pool.acquire() as conn:
            row = await repository.get_campaign(conn, name=name)
        return campaign_from_row(found(row, f"campaign {name!r}"))

    async def page(self, *, status: str | None, before: tuple[datetime, UUID] | None, limit: int) -> Page[Campaign]:
        async with self.reads.for_read().acquire() as conn:
            rows = await repository.list_campaigns(conn, status=status, before=before, limit=limit)
        return page_of(rows, "campaigns", limit=limit, key=lambda r: (r["created_at"], r["id"]), item=campaign_from_row)

    async def end(self, name: str, *, actor: str, pool: Pool | None = None) -> Campaign:
        """End an active campaign now; the price returns to its base_price (`pool` as for `create`)."""
        now = self.clock()
        async with (pool or self.pool).acquire() as conn:
            product_id = await repository.product_of(conn, name=name)
            product_id = found(product_id, f"campaign {name!r}")
            async with conn.transaction():
                await repository.lock_product(conn, product_id=product_id)
                row = await repository.lock_campaign(conn, name=name)
                assert row is not None
                if row["status"] != "active":
                    raise Conflict(f"campaign {name!r} has already ended", code="CAMPAIGN_NOT_ACTIVE")
                await self._move(conn, row, row["base_price"], reason=f"campaign {name} ended early", actor=actor)
                await repository.end_campaign(conn, campaign_id=row["id"], ended_at=now)
            await self._tell([product_id])
        return await self.get(name)

    async def tick(self) -> list[tuple[str, HourMove]]:
        """Apply every due campaign-hour, in order per campaign; returns the hours this call applied."""
        now = self.clock()
        async with self.pool.acquire() as conn:
            due = await repository.due(conn, now=now)
        applied: list[tuple[str, HourMove]] = []
        for campaign_id in due:
            while (step := await self._apply_next_hour(campaign_id, now)) is not None:
                applied.append(step)
        return applied

    async def _apply_next_hour(self, campaign_id: UUID, now: datetime) -> tuple[str, HourMove] | None:
        """One campaign-hour in its own transaction; None when none is due (or another process took it)."""
        async with self.pool.acquire() as conn:
            product_id = await repository.product_of(conn, campaign_id=campaign_id)
            if product_id is None:
                return None
            async with conn.transaction():
                await repository.lock_product(conn, product_id=product_id)
                row = await repository.lock_campaign(conn, campaign_id=campaign_id)
                if row is None or row["status"] != "active":
                    return None
                due = hours_due(
                    started_at=row["started_at"],
                    hours_elapsed=row["hours_elapsed"],
                    duration_hours=row["duration_hours"],
                    now=now,
                )
                if not due:
                    return None
                move = hour_move(
                    hour=due[0],
                    duration_hours=row["duration_hours"],
                    price=row["current_price"],
                    base_price=row["base_price"],
                    min_price=row["min_price"],
                    limit_percent=row["price_manipulation_limit"],
                    target_sales=row["target_sales"],
                    total_sales=row["total_sales"],
                    currency=row["currency"],
                )
                name = row["name"]
                reason = (
                    f"campaign {name} ended"
                    if move.ended
                    else f"campaign {name}: hour {move.hour} of {row['duration_hours']}, demand {move.demand}"
                )
                moved = await self._move(conn, row, move.price, reason=reason, actor="campaign-scheduler")
                ended_at = row["started_at"] + timedelta(hours=move.hour) if move.ended else None
                await repository.record_hour(conn, campaign_id=campaign_id, hour=move.hour, ended_at=ended_at)
        if moved:
            await self._tell([product_id])
        log.info("campaign_hour", campaign=name, hour=move.hour, price=str(move.price), ended=move.ended)
        return name, move

    async def _move(self, conn: Connection, row: asyncpg.Record, price: Decimal, *, reason: str, actor: str) -> bool:
        """Move the campaign's product to `price` through the one price path; False when it is already there."""
        if price == row["current_price"]:
            return False
        await catalog.move_price(
            conn,
            product_id=row["product_id"],
            new_price=price,
            source="campaign",
            reason=reason,
            actor=actor,
            ref_id=row["id"],
        )
        return True

    async def _tell(self, product_ids: list[UUID]) -> None:
        if self._prices_moved is not None:
            await self._prices_moved(product_ids)
