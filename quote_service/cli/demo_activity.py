"""seed-demo's recent activity: what a shop that has been trading for a while shows on the dashboard.

Every price move goes through the services an admin's request or a background loop uses, so
through the one price-move path (never written into price history directly):
- inventory repricing: a market weekend takes the cutting boards down to 8 units (`low_stock`,
  +10 %, and a `low_inventory` signal); a supplier delivery takes the hazelnuts up to 115
  (`high_stock`, -10 %);
- a campaign on the denim jacket that started 3 h 50 min before seeding: the campaign clock
  applies its three elapsed hours now, and its fourth falls ten minutes after `make run` starts;
- a manual move: the tea's supplier raised prices, so its price goes up 7 %;
- decisions for the products with market data (cli/demo_market.py): one applied (the keyboard,
  whose competitors all charge more), the others proposed, for the dashboard's Apply button.

Each step first looks for what it made before, so seed-demo stays safe to repeat. The products
that the README's first quote and the docs' examples price exactly are left alone
(`demo.WALKTHROUGH_SKUS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

import asyncpg

from quote_service.cache.redis import create_redis
from quote_service.campaigns.schemas import CampaignCreate
from quote_service.campaigns.service import Campaigns
from quote_service.catalog import service as catalog
from quote_service.catalog.schemas import ManualPrice, StockAdjust
from quote_service.config import Settings
from quote_service.errors import Conflict, InsufficientStock
from quote_service.intelligence.service import Intelligence
from quote_service.intelligence.signal_rules import SignalEvaluator

ACTOR = "seed-demo"
STOCK_CHANGES: tuple[tuple[str, int, str], ...] = (
    ("DEMO-HOME-006", 8, "demo: sold at the weekend market"),  # 50 -> 8: low_stock
    ("DEMO-GROC-002", 115, "demo: supplier delivery"),  # 75 -> 115: high_stock
)
"""(sku, the stock it is brought to, the stock movement's reason)."""
MANUAL_SKU, MANUAL_RAISE, MANUAL_REASON = "DEMO-GROC-003", Decimal("1.07"), "demo: the supplier raised its prices"
CAMPAIGN_NAME, CAMPAIGN_SKU = "demo-denim-days", "DEMO-FASH-002"
CAMPAIGN_AGE = timedelta(hours=3, minutes=50)
"""Three hours applied at seeding; the fourth ten minutes later, under the running server."""
APPLIED_DECISION_SKUS = ("DEMO-ELEC-007",)
PROPOSED_DECISION_SKUS = ("DEMO-ELEC-001", "DEMO-HOME-001", "DEMO-FASH-001")


@dataclass
class Activity:
    """What this run added (nothing when seed-demo ran before)."""

    stock_changes: int = 0
    manual_moves: int = 0
    campaign_hours: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    """Decisions made by status (applied, proposed, skipped)."""

    def describe(self) -> str:
        parts = []
        if self.stock_changes:
            parts.append(f"{self.stock_changes} stock changes (inventory repricing)")
        if self.campaign_hours:
            parts.append(f"campaign {CAMPAIGN_NAME} {self.campaign_hours} hours in")
        if self.manual_moves:
            parts.append(f"{self.manual_moves} manual price move")
        if self.decisions:
            parts.append("decisions " + ", ".join(f"{n} {status}" for status, n in sorted(self.decisions.items())))
        return "; ".join(parts) or "already present"


async def seed_activity(settings: Settings, pool: asyncpg.Pool, *, now: datetime) -> Activity:
    """Make the demo's recent price moves, campaign and decisions where they are missing."""
    skus = [sku for sku, _, _ in STOCK_CHANGES]
    skus += [MANUAL_SKU, CAMPAIGN_SKU, *APPLIED_DECISION_SKUS, *PROPOSED_DECISION_SKUS]
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT sku, id FROM products WHERE sku = any($1::text[])", skus)
    ids: dict[str, UUID] = {row["sku"]: row["id"] for row in rows}
    activity = Activity()
    activity.stock_changes = await _change_stock(pool, ids, window_hours=settings.market_window_hours)
    activity.campaign_hours = await _start_campaign(pool, ids.get(CAMPAIGN_SKU), now=now)
    activity.manual_moves = await _move_by_hand(settings, pool, ids.get(MANUAL_SKU))
    activity.decisions = await _decide(settings, pool, ids)
    return activity


async def _change_stock(pool: asyncpg.Pool, ids: dict[str, UUID], *, window_hours: int) -> int:
    """Bring each product's stock to its target (the repricing trigger moves its price), and
    judge its low_inventory signal as the demand job would a moment later."""
    signals = SignalEvaluator(pool, window_hours=window_hours)
    changed = 0
    for sku, target, reason in STOCK_CHANGES:
        product_id = ids.get(sku)
        if product_id is None or await _found(
            pool, "SELECT 1 FROM stock_movements WHERE product_id = $1 AND reason = $2", product_id, reason
        ):
            continue
        current = await catalog.get_product(pool, product_id)
        if current.stock == target:
            continue
        try:
            level = await catalog.adjust_stock(
                pool, product_id, StockAdjust(delta=target - current.stock, reason=reason), actor=ACTOR
            )
        except InsufficientStock:  # units held for shoppers' quotes: not the demo's to take
            continue
        async with pool.acquire() as conn:
            await signals.stock_seen(conn, product_id, level.stock)
        changed += 1
    return changed


async def _start_campaign(pool: asyncpg.Pool, product_id: UUID | None, *, now: datetime) -> int:
    """Start the demo campaign CAMPAIGN_AGE ago and let the campaign clock catch up; its hours."""
    if product_id is None or await _found(pool, "SELECT 1 FROM campaigns WHERE name = $1", CAMPAIGN_NAME):
        return 0
    started = now - CAMPAIGN_AGE
    campaign = CampaignCreate(
        name=CAMPAIGN_NAME,
        product_id=product_id,
        duration_hours=24,
        price_manipulation_limit=Decimal(20),
        target_sales_count=240,
    )
    try:
        await Campaigns(pool, clock=lambda: started).create(campaign, actor=ACTOR)
    except Conflict:  # the jacket already has a campaign of its own
        return 0
    applied = await Campaigns(pool, clock=lambda: now).tick()
    return sum(1 for name, _ in applied if name == CAMPAIGN_NAME)


async def _move_by_hand(settings: Settings, pool: asyncpg.Pool, product_id: UUID | None) -> int:
    """The manual move, as PUT /products/{id}/price makes it (floor and move limit checked)."""
    if product_id is None or await _found(
        pool,
        "SELECT 1 FROM price_history WHERE product_id = $1 AND source = 'manual' AND reason = $2",
        product_id,
        MANUAL_REASON,
    ):
        return 0
    current = await catalog.get_product(pool, product_id)
    price = (current.current_price * MANUAL_RAISE).quantize(Decimal("0.01"), ROUND_HALF_UP)
    limit = Decimal(str(settings.max_price_change_percent))
    await catalog.set_price(
        pool, product_id, ManualPrice(price=price, reason=MANUAL_REASON), actor=ACTOR, max_change_percent=limit
    )
    return 1


async def _decide(settings: Settings, pool: asyncpg.Pool, ids: dict[str, UUID]) -> dict[str, int]:
    """Decision runs for the demo's market products that have none by seed-demo yet."""
    redis = create_redis(settings.redis_url or "", cluster=settings.redis_cluster)  # unused by decisions
    try:
        intelligence = Intelligence(settings, pool, redis)
        made: dict[str, int] = {}
        for skus, auto_apply in ((APPLIED_DECISION_SKUS, True), (PROPOSED_DECISION_SKUS, False)):
            fresh = await _undecided(pool, [ids[sku] for sku in skus if sku in ids])
            if not fresh:
                continue
            for decision in await intelligence.run_decisions(fresh, dry_run=False, auto_apply=auto_apply, actor=ACTOR):
                made[decision.status] = made.get(decision.status, 0) + 1
        return made
    finally:
        await redis.aclose()


async def _undecided(pool: asyncpg.Pool, product_ids: Sequence[UUID]) -> list[UUID]:
    async with pool.acquire() as conn:
        decided = {
            row["product_id"]
            for row in await conn.fetch(
                """SELECT DISTINCT product_id FROM pricing_decisions
                   WHERE product_id = any($1::uuid[]) AND created_by = $2""",
                list(product_ids),
                ACTOR,
            )
        }
    return [product_id for product_id in product_ids if product_id not in decided]


async def _found(pool: asyncpg.Pool, query: str, *args: object) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval(query, *args))
