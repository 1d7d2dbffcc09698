"""Market intelligence orchestration: ingest, the market view, signals, decisions, elasticity.

Reads what the pure functions in `pricing/market.py` and `pricing/elasticity.py` need, calls
them, stores and returns the results. Prices move only through the catalog's price-move path
(`move_price`, source `decision`, the decision id as ref).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.cache.redis import RedisClient
from quote_service.catalog import repository as catalog
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.pool import Connection, Pool
from quote_service.db.replica import ReadPools
from quote_service.db.rows import found, row_as
from quote_service.errors import Conflict, FieldError, NotFound, ValidationFailed
from quote_service.intelligence import intake, repository, signals
from quote_service.intelligence.schemas import (
    MAX_OBSERVATIONS,
    CompetitorPrice,
    Decision,
    Elasticity,
    IngestResult,
    Market,
    MarketCompetitor,
    Signal,
)
from quote_service.pricing import market
from quote_service.pricing.elasticity import METHOD, ElasticityFit, fit_elasticity
from quote_service.pricing.money import quantum, round_money

PricesMoved = Callable[[Iterable[UUID]], Awaitable[object]]
DEMAND_DAYS = 7


class PriceChanged(Conflict):
    code = "PRICE_CHANGED"


class Intelligence:
    def __init__(
        self,
        settings: Settings,
        pool: Pool,
        redis: RedisClient,
        *,
        clock: Callable[[], datetime] = utcnow,
        prices_moved: PricesMoved | None = None,
        reads: ReadPools | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.reads = reads or ReadPools(pool)
        """For the market view and the elasticity fit (stale-tolerant reads, docs/deployment.md)."""
        self.redis = redis
        self.clock = clock
        self.prices_moved = prices_moved
        self.params = market.DecisionParams(
            min_margin=Decimal(str(settings.min_margin)),
            max_margin=Decimal(str(settings.max_margin)),
            max_change_percent=Decimal(str(settings.max_price_change_percent)),
            min_change_percent=Decimal(str(settings.min_price_change_percent)),
        )

    # --- ingestion -------------------------------------------------------------------------

    async def ingest(self, observations: Sequence[object]) -> IngestResult:
        """Check each observation; the accepted ones are durable before this returns (intake.py)."""
        if not 1 <= len(observations) <= MAX_OBSERVATIONS:
            message = f"must hold 1 to {MAX_OBSERVATIONS} items"
            raise ValidationFailed(f"observations {message}", details=[FieldError("observations", message)])
        return await intake.accept(
            self.pool,
            self.redis,
            enumerate(observations),
            now=self.clock(),
            replay_after=self.settings.ingest_replay_after_seconds,
        )

    # --- reads -----------------------------------------------------------------------------

    async def market(self, product_id: UUID) -> Market:
        now = self.clock()
        hours = self.settings.market_window_hours
        async with self.reads.for_read().acquire() as conn:
            products = await repository.products_for_market(conn, [product_id])
            if not products:
                raise NotFound("product not found")
            product = products[0]
            latest = await repository.latest_per_competitor(
                conn, product_ids=[product_id], since=now - timedelta(hours=hours), until=now
            )
        currency = product["currency"].strip()
        summary = market.summarize(
            round_money(product["current_price"], currency),
            [
                market.Observation(competitor=r["competitor"], price=r["price"], observed_at=r["observed_at"])
                for r in latest
            ],
            quantum(currency),
        )

        def money(value: Decimal | None) -> str | None:
            return None if value is None else str(round_money(value, currency))

        return Market(
            product_id=product_id,
            currency=currency,
            our_price=str(summary.our_price),
            competitors=[
                MarketCompetitor(
                    competitor=o.competitor, price=str(round_money(o.price, currency)), observed_at=o.observed_at
                )
                for o in summary.competitors
            ],
            mean=money(summary.mean),
            min=money(summary.min),
            max=money(summary.max),
            stddev=money(summary.stddev),
            our_rank=summary.our_rank,
            window_hours=hours,
        )

    async def elasticity(self, product_id: UUID) -> Elasticity:
        days = self.settings.elasticity_window_days
        async with self.reads.for_read().acquire() as conn:
            if not await repository.products_for_market(conn, [product_id]):
                raise NotFound("product not found")
            fit = await self._fit(conn, product_id)
        return Elasticity(
            product_id=product_id,
            elasticity=fit.elasticity,
            r_squared=fit.r_squared,
            points=fit.points,
            distinct_prices=fit.distinct_prices,
            method=METHOD,
            window_days=days,
            reason=fit.reason,
        )

    async def _fit(self, conn: Connection, product_id: UUID) -> ElasticityFit:
        since = self.clock() - timedelta(days=self.settings.elasticity_window_days)
        return fit_elasticity(await repository.daily_price_units(conn, product_id=product_id, since=since))

    async def signal(self, signal_id: UUID) -> Signal:
        async with self.pool.acquire() as conn:
            row = await signals.get_signal(conn, signal_id=signal_id)
        return signal_of(found(row, "signal"))

    async def decision(self, decision_id: UUID) -> Decision:
        async with self.pool.acquire() as conn:
            row = await repository.get_decision(conn, decision_id)
        return decision_of(found(row, "decision"))

    async def acknowledge(self, signal_id: UUID, actor: str) -> Signal:
        async with self.pool.acquire() as conn:
            row = await signals.acknowledge_signal(conn, signal_id=signal_id, actor=actor)
        return signal_of(found(row, "signal"))

    # --- decisions -------------------------------------------------------------------------

    async def run_decisions(
        self, product_ids: Sequence[UUID] | None, *, dry_run: bool, auto_apply: bool, actor: str
    ) -> list[Decision]:
        """One decision per product. A dry run stores nothing and moves nothing."""
        async with self.pool.acquire() as conn:
            if product_ids is None:
                ids = await repository.active_product_ids(conn)
            else:
                ids = list(dict.fromkeys(product_ids))
                found = {row["id"] for row in await repository.products_for_market(conn, ids)}
                missing = [str(i) for i in ids if i not in found]
                if missing:
                    raise NotFound(f"unknown product ids: {', '.join(missing[:10])}")
        decisions: list[Decision] = []
        moved: list[UUID] = []
        for product_id in ids:
            decision = await self._decide(product_id, dry_run=dry_run, auto_apply=auto_apply, actor=actor)
            if decision is not None:
                decisions.append(decision)
                if decision.status == "applied":
                    moved.append(product_id)
        await self._tell(moved)
        return decisions

    async def _decide(self, product_id: UUID, *, dry_run: bool, auto_apply: bool, actor: str) -> Decision | None:
        now = self.clock()
        window = timedelta(hours=self.settings.market_window_hours)
        async with self.pool.acquire() as conn:
            products = await repository.products_for_market(conn, [product_id])
            if not products:
                return None
            product = products[0]
            currency = product["currency"].strip()
            latest = await repository.latest_per_competitor(
                conn, product_ids=[product_id], since=now - window, until=now
            )
            summary = market.summarize(
                product["current_price"],
                [
                    market.Observation(competitor=r["competitor"], price=r["price"], observed_at=r["observed_at"])
                    for r in latest
                ],
                Decimal("0.0001"),
            )
            quotes, orders = await repository.demand(
                conn, product_id=product_id, since=now - timedelta(days=DEMAND_DAYS)
            )
            fit = await self._fit(conn, product_id)
            inputs = market.DecisionInputs(
                current_price=product["current_price"],
                cost_price=product["cost_price"],
                min_price=product["min_price"],
                quantum=quantum(currency),
                competitor_mean=summary.mean,
                competitor_min=summary.min,
                competitor_stddev=summary.stddev,
                competitors=len(latest),
                quotes=quotes,
                orders=orders,
                stock=product["stock"],
                elasticity=fit,
            )
            outcome = market.decide(inputs, self.params)
            stored_inputs: dict[str, Any] = {
                "competitor_mean": _text(summary.mean),
                "competitor_min": _text(summary.min),
                "competitor_stddev": _text(summary.stddev),
                "competitors": len(latest),
                "conversion_rate": outcome.conversion_rate,
                "quotes": quotes,
                "orders": orders,
                "stock": product["stock"],
                "elasticity": fit.elasticity,
                "elasticity_r_squared": fit.r_squared,
                "elasticity_distinct_prices": fit.distinct_prices,
                "cost_price": str(round_money(product["cost_price"], currency)),
            }
            values: dict[str, Any] = {
                "id": uuid.uuid4(),
                "product_id": product_id,
                "old_price": product["current_price"],
                "recommended_price": outcome.recommended_price,
                "change_percent": outcome.change_percent,
                "reasons": outcome.reasons,
                "guardrails": outcome.guardrails,
                "confidence": outcome.confidence,
                "inputs": stored_inputs,
                "status": outcome.status,
                "created_by": actor,
            }
            if dry_run:
                return Decision(
                    id=values["id"],
                    product_id=product_id,
                    old_price=str(round_money(product["current_price"], currency)),
                    recommended_price=str(outcome.recommended_price),
                    change_percent=str(outcome.change_percent),
                    reasons=outcome.reasons,
                    confidence=outcome.confidence,
                    inputs=stored_inputs,
                    guardrails=outcome.guardrails,
                    status=outcome.status,
                    dry_run=True,
                    created_at=now,
                    applied_at=None,
                )
            async with conn.transaction():
                row = await repository.insert_decision(conn, values)
                if auto_apply and outcome.status == "proposed":
                    row = await self._apply_locked(conn, row, actor=actor)
            return decision_of(row)

    async def apply(self, decision_id: UUID, actor: str) -> Decision:
        """Apply a proposed decision; if the price moved since it was made: 409 PRICE_CHANGED and
        the decision becomes `rejected` (its inputs are stale: run a new one)."""
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    row = await repository.get_decision(conn, decision_id, for_update=True)
                    row = found(row, "decision")
                    if row["status"] != "proposed":
                        raise Conflict(f"decision is {row['status']}; only a proposed decision can be applied")
                    row = await self._apply_locked(conn, row, actor=actor)
            except PriceChanged:
                await repository.mark_rejected(conn, decision_id)
                raise
        await self._tell([row["product_id"]])
        return decision_of(row)

    async def _apply_locked(self, conn: Connection, row: asyncpg.Record, *, actor: str) -> asyncpg.Record:
        current = await conn.fetchval("SELECT current_price FROM products WHERE id = $1 FOR UPDATE", row["product_id"])
        if current != row["old_price"]:
            raise PriceChanged(
                f"the price moved from {row['old_price']} to {current} since the decision; run a new decision"
            )
        await catalog.move_price(
            conn,
            product_id=row["product_id"],
            new_price=row["recommended_price"],
            source="decision",
            reason="decision: " + ", ".join([*row["reasons"], *row["guardrails"]] or ["market"]),
            actor=actor,
            ref_id=row["id"],
        )
        return await repository.mark_applied(conn, row["id"], actor)

    async def _tell(self, product_ids: list[UUID]) -> None:
        if product_ids and self.prices_moved is not None:
            await self.prices_moved(product_ids)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def signal_of(row: asyncpg.Record) -> Signal:
    return row_as(Signal, row)


def decision_of(row: asyncpg.Record) -> Decision:
    currency = row["currency"]
    return row_as(
        Decision,
        row,
        old_price=str(round_money(row["old_price"], currency)),
        recommended_price=str(round_money(row["recommended_price"], currency)),
        change_percent=str(row["change_percent"]),
        reasons=list(row["reasons"]),
        guardrails=list(row["guardrails"]),
        dry_run=False,
    )


def observation_of(row: asyncpg.Record) -> CompetitorPrice:
    currency = row["currency"].strip()
    return row_as(
        CompetitorPrice,
        row,
        price=str(round_money(row["price"], currency)),
        currency=currency,
    )
