"""Signals as data arrives: reads what a rule needs, calls the pure rule, raises or resolves.

- observations (the stream consumer): competitor_undercut, competitor_price_drop /
  competitor_price_increase, price_anomaly — for the products of the batch only;
- stock (intelligence.demand, from the products it sees change): low_inventory;
- quotes (intelligence.demand, from the hourly counts it just updated): demand_surge.
A rule that no longer holds resolves the live signal of its type (for the product).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from quote_service.db.pool import Connection, Pool
from quote_service.intelligence import repository, signals
from quote_service.intelligence.schemas import ObservationRecord
from quote_service.pricing import market

log = structlog.get_logger("quote_service.intelligence")

MEAN_MOVE_TYPES = ("competitor_price_drop", "competitor_price_increase")


class SignalEvaluator:
    def __init__(self, pool: Pool, *, window_hours: int) -> None:
        self.pool = pool
        self.window = timedelta(hours=window_hours)

    async def observations_arrived(self, records: Sequence[ObservationRecord], *, now: datetime) -> None:
        product_ids = sorted({r.product_id for r in records})
        async with self.pool.acquire() as conn:
            products = {row["id"]: row for row in await repository.products_for_market(conn, product_ids)}
            current = await repository.latest_per_competitor(
                conn, product_ids=product_ids, since=now - self.window, until=now
            )
            previous = await repository.latest_per_competitor(
                conn, product_ids=product_ids, since=now - 2 * self.window, until=now - self.window
            )
            # Only what changes is written: resolving where a signal is live, raising where none is (or
            # the severity changed).
            live = await signals.live_signals(conn, product_ids)
            for product_id in product_ids:
                product = products.get(product_id)
                if product is None:
                    continue
                latest = [
                    market.Observation(competitor=r["competitor"], price=r["price"], observed_at=r["observed_at"])
                    for r in current
                    if r["product_id"] == product_id
                ]
                before = [r["price"] for r in previous if r["product_id"] == product_id]
                await self._apply(
                    conn,
                    product_id,
                    "competitor_undercut",
                    market.competitor_undercut(product["current_price"], latest),
                )
                move = market.competitor_mean_move([o.price for o in latest], before)
                for kind in MEAN_MOVE_TYPES:
                    found = move if move is not None and move.type == kind else None
                    await self._apply(conn, product_id, kind, found, live=live)
            # One query for the batch: each (product, competitor)'s recent prices, enough to give
            # every observation of the batch its own previous 30.
            per_pair: dict[tuple[UUID, str], int] = {}
            for record in records:
                if record.product_id in products:
                    key = (record.product_id, record.competitor)
                    per_pair[key] = per_pair.get(key, 0) + 1
            histories = await repository.recent_histories(
                conn, pairs=list(per_pair), limit=market.ANOMALY_HISTORY + max(per_pair.values(), default=0)
            )
            for record in records:
                if record.product_id not in products:
                    continue
                past = histories.get((record.product_id, record.competitor), [])
                history = [price for at, price in past if at < record.observed_at][-market.ANOMALY_HISTORY :]
                found = market.price_anomaly(
                    market.Observation(
                        competitor=record.competitor, price=record.price, observed_at=record.observed_at
                    ),
                    history,
                )
                if found is not None:
                    # An anomaly is an event, not a state: it is raised, never auto-resolved.
                    await self._raise(conn, record.product_id, found)

    async def stock_seen(self, conn: Connection, product_id: UUID, stock: int) -> None:
        await self._apply(conn, product_id, "low_inventory", market.low_inventory(stock))

    async def demand_seen(self, conn: Connection, product_id: UUID, *, last_hour: int, last_week: int) -> None:
        await self._apply(conn, product_id, "demand_surge", market.demand_surge(last_hour, last_week))

    async def _apply(
        self,
        conn: Connection,
        product_id: UUID,
        kind: str,
        found: market.SignalFinding | None,
        *,
        live: dict[tuple[UUID, str], str] | None = None,
    ) -> None:
        if found is None:
            if live is None or (product_id, kind) in live:
                await signals.resolve_signal(conn, type=kind, product_id=product_id)
        elif live is None or live.get((product_id, kind)) != found.severity:
            # A live signal of the same severity keeps the details it was raised (or last
            # escalated) with: rewriting it for every observation batch costs a statement each.
            await self._raise(conn, product_id, found)

    async def _raise(self, conn: Connection, product_id: UUID, found: market.SignalFinding) -> None:
        raised = await signals.raise_signal(
            conn, type=found.type, product_id=product_id, severity=found.severity, details=found.details
        )
        if raised.created:
            log.info("signal_raised", type=found.type, product_id=str(product_id), severity=found.severity)
