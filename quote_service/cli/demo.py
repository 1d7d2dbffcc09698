"""`seed-demo`: a small, realistic catalog, a typical pricing configuration and two demo
accounts — enough for a first quote that shows every part of the breakdown — then two weeks of
history, a competitor market (demo_market.py) and recent activity (demo_activity.py), so the
dashboard has moves, decisions and signals to show (docs/demo.md). Safe to run again."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.analytics.rollups import hour_of
from quote_service.audit.writer import actor_document, audited
from quote_service.auth import repository as auth_repository
from quote_service.auth.schemas import Principal, UserCreate, UserRole
from quote_service.auth.service import AuthService
from quote_service.catalog import service as catalog
from quote_service.catalog.schemas import ProductCreate
from quote_service.cli.demo_activity import Activity, seed_activity
from quote_service.cli.demo_market import seed_market
from quote_service.cli.demo_offers import seed_offers
from quote_service.cli.demo_payouts import seed_payouts
from quote_service.cli.demo_shipping import seed_shipping_profiles
from quote_service.cli.demo_taxes import seed_taxes
from quote_service.cli.generate import Summary, generate
from quote_service.clock import utcnow
from quote_service.commissions import service as commissions
from quote_service.commissions.schemas import CommissionRateInput
from quote_service.config import Settings
from quote_service.coupons import service as coupons
from quote_service.coupons.schemas import CouponCreate
from quote_service.flags import repository as flags_repository
from quote_service.flags import service as flags
from quote_service.flags.schemas import FeatureFlagCreate
from quote_service.flash_sales.schemas import FlashSaleCreate, FlashSaleItemIn
from quote_service.flash_sales.service import FlashSales
from quote_service.orders import refunds
from quote_service.orders.schemas import CancelCreate, RefundCreate, RefundLineIn
from quote_service.payouts.schemas import PayoutRun
from quote_service.price_lists.demo import seed_price_lists
from quote_service.promotions import service as promotions
from quote_service.promotions.schemas import PromotionInput
from quote_service.rules import service as rules
from quote_service.rules.schemas import PricingRuleCreate
from quote_service.validation import decode_hook

# Public passwords, for development only: in production seed-demo refuses, or with --force
# generates passwords (random_credentials) and prints them once.
DEMO_ADMIN = ("demo-admin", "quote-service-admin")
DEMO_USER = ("demo-shopper", "quote-service-shopper")
DEMO_SELLER = ("demo-seller", "quote-service-seller")
DEMO_SELLER_ID = "seller-bosphorus"
"""The seller the demo's seller login acts for (docs/sellers.md)."""
DEMO_CURRENCY = "TRY"
FIRST_QUOTE_SKUS = ("DEMO-ELEC-002", "DEMO-BOOK-001")
"""The charger and the book the README's first quote prices, with its exact amounts."""
WALKTHROUGH_SKUS = (*FIRST_QUOTE_SKUS, "DEMO-ELEC-006", "DEMO-FASH-004", "DEMO-FASH-005", "DEMO-FASH-006")
"""Those, the HDMI cable docs/repricing.md takes 45 of its 50 units from at 89.90, and the scarf, sneakers
and sun hats docs/shipping.md ships to Ankara: the demo's own activity and `simulate` leave their prices
and stock alone, so the walkthroughs stay right."""
# Cost is 80 % of the list price, and so is the floor (min_price): a 25 % margin lies inside the
# decision engine's default margin band (MIN_MARGIN 5 % to MAX_MARGIN 30 %), so decisions follow
# the market rather than the band; no price goes below cost; the flash sale's 20 % off is the floor.
_COST_SHARE = Decimal("0.80")

_SELLERS = ("seller-anatolia", "seller-bosphorus", "seller-cappadocia")
_STOCK = (50, 75, 60, 85, 40)
"""Each product's stock by its place in its category: all well between the `demo-inventory` rule's
thresholds (<= 10, >= 100), so an order, its cancel or a flash sale's allocation moves no price.
The activity (demo_activity.py) crosses them on purpose; the HDMI cable keeps its 50 units
(docs/repricing.md)."""
_CATALOG: dict[str, list[tuple[str, str]]] = {
    "electronics": [
        ("Wireless Earbuds", "899.90"),
        ("USB-C Charger 65W", "449.00"),
        ("Bluetooth Speaker", "1299.00"),
        ("Smartwatch Band", "149.50"),
        ("Power Bank 20000mAh", "749.00"),
        ("HDMI Cable 2m", "89.90"),
        ("Mechanical Keyboard", "2199.00"),
        ("Wireless Mouse", "399.00"),
        ("Webcam 1080p", "1099.00"),
        ("Phone Case", "25.50"),
    ],
    "books": [
        ("Istanbul: Memories and the City", "245.00"),
        ("The Museum of Innocence", "310.00"),
        ("Snow", "275.00"),
        ("My Name Is Red", "290.00"),
        ("The Bastard of Istanbul", "260.00"),
        ("Turkish Cookbook", "420.00"),
        ("Learn Turkish in 30 Days", "185.00"),
        ("World Atlas", "650.00"),
        ("Notebook A5", "45.00"),
        ("Fountain Pen", "320.00"),
    ],
    "home": [
        ("Turkish Tea Glass Set", "189.00"),
        ("Copper Coffee Pot", "349.00"),
        ("Cotton Bath Towel", "229.00"),
        ("Kilim Cushion Cover", "159.00"),
        ("Ceramic Bowl", "99.00"),
        ("Olive Wood Cutting Board", "279.00"),
        ("Desk Lamp", "549.00"),
        ("Wall Clock", "399.00"),
        ("Scented Candle", "119.00"),
        ("Storage Basket", "139.00"),
    ],
    "fashion": [
        ("Linen Shirt", "599.00"),
        ("Denim Jacket", "1499.00"),
        ("Leather Belt", "349.00"),
        ("Wool Scarf", "279.00"),
        ("Canvas Sneakers", "899.00"),
        ("Sun Hat", "199.00"),
        ("Silk Tie", "259.00"),
        ("Cotton Socks 3-pack", "99.00"),
        ("Rain Jacket", "1199.00"),
        ("Tote Bag", "229.00"),
    ],
    "grocery": [
        ("Turkish Delight 500g", "189.00"),
        ("Hazelnuts 1kg", "459.00"),
        ("Black Tea 1kg", "299.00"),
        ("Olive Oil 1L", "389.00"),
        ("Dried Apricots 500g", "219.00"),
        ("Pistachios 500g", "549.00"),
        ("Honey 850g", "349.00"),
        ("Ground Coffee 250g", "179.00"),
        ("Sumac 100g", "59.00"),
        ("Pomegranate Molasses", "89.00"),
    ],
}


_SINCE = "2020-01-01T00:00:00Z"
# A typical configuration: commission in its three components (category rates, a seller's
# negotiated book rate overriding the category's, a seller's per-unit fee on top, a logistics
# provider's share of the delivery fee) and two named fees on the demo seller's groceries (a payment fee on
# what the customer pays, a platform fee per order: docs/commission.md), delivery by distance in Istanbul, express and
# small-basket fees for Turkey, a lower book tax, quantity and loyalty discounts, flags (one with
# an A/B split) and a welcome coupon.
DEMO_FEE_RATES: list[dict[str, Any]] = [
    # docs/commission.md: the demo seller's groceries pay named fees besides their commission (nothing else
    # does: the README's first quote and the cost budget's demo basket read as before)
    {
        "component": "payment_fee",
        "seller_id": DEMO_SELLER_ID,
        "category_id": "grocery",
        "commission_type": "PERCENTAGE",
        "rate": "2.5",
        "base": "gross",
        "currency": "TRY",
        "effective_from": _SINCE,
    },
    {
        "component": "platform_fee",
        "seller_id": DEMO_SELLER_ID,
        "category_id": "grocery",
        "commission_type": "FLAT",
        "rate": "0.99",
        "per": "order",
        "currency": "TRY",
        "effective_from": _SINCE,
    },
]
DEMO_RATES: list[dict[str, Any]] = [
    {
        "category_id": "electronics",
        "commission_type": "PERCENTAGE",
        "rate": "12",
        "currency": "TRY",
        "effective_from": _SINCE,
    },
    {
        "category_id": "books",
        "commission_type": "TIERED",
        "currency": "TRY",
        "effective_from": _SINCE,
        "tiers": [{"up_to": "500.00", "rate": "10"}, {"up_to": None, "rate": "6"}],
    },
    {
        # seller + category: the category component, where it beats the books rate by specificity
        "seller_id": "seller-anatolia",
        "category_id": "books",
        "commission_type": "PERCENTAGE",
        "rate": "8",
        "currency": "TRY",
        "effective_from": _SINCE,
    },
    {
        # seller only: the seller component, added to whatever category commission the item pays
        "seller_id": "seller-anatolia",
        "commission_type": "FLAT",
        "rate": "1.50",
        "currency": "TRY",
        "effective_from": _SINCE,
    },
    {
        "logistics_provider": "fastship",
        "commission_type": "PERCENTAGE",
        "rate": "5",
        "currency": "TRY",
        "effective_from": _SINCE,
    },
    *DEMO_FEE_RATES,
]
DEMO_RULES: list[dict[str, Any]] = [
    {
        "name": "demo-istanbul-delivery",
        "type": "DELIVERY_FEE",
        "region": "Istanbul",
        "effective_from": _SINCE,
        "configuration": {"base_fee": "12.00", "per_km": "1.50", "max_fee": "40.00"},
    },
    {
        "name": "demo-tr-express",
        "type": "EXPRESS_FEE",
        "region": "TR",
        "effective_from": _SINCE,
        "configuration": {"multiplier": "1.8"},
    },
    {
        "name": "demo-tr-small-basket",
        "type": "SMALL_BASKET",
        "region": "TR",
        "effective_from": _SINCE,
        "configuration": {"threshold": "100.00", "fee": "7.50"},
    },
    {
        "name": "demo-books-tax",
        "type": "TAX_RATE",
        "category_id": "books",
        "effective_from": _SINCE,
        "configuration": {"rate": "8"},
    },
    {
        "name": "demo-bulk-discount",
        "type": "QUANTITY_TIER",
        "effective_from": _SINCE,
        "configuration": {"tiers": [{"min_quantity": 3, "adjust_percent": "-5"}]},
    },
    {
        "name": "demo-loyalty",
        "type": "USER_TIER",
        "priority": 1,
        "effective_from": _SINCE,
        "configuration": {"tiers": {"gold": "-3", "silver": "-1"}},
    },
    {
        # The original inventory repricer's global rule: scarce stock costs more, a glut less.
        "name": "demo-inventory",
        "type": "INVENTORY_LEVEL",
        "effective_from": _SINCE,
        "configuration": {
            "low_threshold": 10,
            "low_adjust_percent": "10",
            "high_threshold": 100,
            "high_adjust_percent": "-10",
            "cooldown_hours": 24,
        },
    },
]
DEMO_FLAGS: list[dict[str, Any]] = [
    {"key": "dynamic_pricing", "name": "Dynamic pricing", "type": "BOOLEAN", "value": True},
    {
        "key": "checkout_banner",
        "name": "Checkout banner A/B test",
        "type": "STRING",
        "value": "control",
        "rollout": {
            "variants": [
                {"key": "control", "weight": 50, "value": "control"},
                {"key": "savings", "weight": 50, "value": "savings"},
            ],
            # The generated history converts the non-control arm a little better, so the
            # guardrail keeps the demo experiment running (docs/experiments.md).
            "guardrail": {"max_drop_percent": 20, "min_exposures": 1000},
        },
    },
]
# The demo's history (analytics, the experiment's figures): `generate-data` with these sizes.
DEMO_HISTORY = {"products": 20, "days": 14, "quotes_per_day": 800, "seed": 2026}
DEMO_COUPONS: list[dict[str, Any]] = [
    {"code": "WELCOME10", "type": "PERCENTAGE", "value": "10", "max_discount": "150.00", "currency": "TRY",
     "valid_from": _SINCE},
    {"code": "FREESHIP", "type": "FREE_DELIVERY", "min_subtotal": "300.00", "currency": "TRY", "valid_from": _SINCE},
    # docs/promotions.md#reduced-lines: 10 % off the lines at their own price, none off a line a price list,
    # a price rule, a flash price or a promotion already lowered.
    {"code": "FULLPRICE10", "type": "PERCENTAGE", "value": "10", "currency": "TRY", "valid_from": _SINCE,
     "on_reduced_lines": "skip"},
]  # fmt: skip


def random_credentials() -> tuple[tuple[str, str], tuple[str, str]]:
    """The demo admin's and shopper's usernames with fresh random passwords (128 bits each)."""
    return (DEMO_ADMIN[0], secrets.token_urlsafe(16)), (DEMO_USER[0], secrets.token_urlsafe(16))


def random_seller_credentials() -> tuple[str, str]:
    """The demo seller's username with a fresh random password (128 bits)."""
    return DEMO_SELLER[0], secrets.token_urlsafe(16)


@dataclass(frozen=True)
class DemoSummary:
    users_created: tuple[str, ...]
    """Usernames of the demo accounts this run created (existing ones keep their password)."""
    products_created: int
    products_total: int
    configuration_created: bool
    history: Summary | None = None
    """The generated history (quotes, orders, flash sales) when this run wrote it."""
    activity: Activity = field(default_factory=Activity)
    """The recent price moves, campaign and decisions this run made (cli/demo_activity.py)."""
    payouts: PayoutRun | None = None
    """The payout run over the history (cli/demo_payouts.py) when this run made it."""


async def seed_demo(
    settings: Settings,
    pool: asyncpg.Pool,
    *,
    admin: tuple[str, str] = DEMO_ADMIN,
    user: tuple[str, str] = DEMO_USER,
    seller: tuple[str, str] = DEMO_SELLER,
) -> DemoSummary:
    """Create the demo accounts (with these credentials) and catalog where they are missing; the
    seller login acts for DEMO_SELLER_ID."""
    auth = AuthService(settings, pool)
    users_created: list[str] = []
    accounts: tuple[tuple[tuple[str, str], UserRole], ...] = ((admin, "admin"), (user, "user"), (seller, "seller"))
    for (username, password), role in accounts:
        async with pool.acquire() as conn:
            exists = await auth_repository.get_user_by_username(conn, username=username)
        if exists is None:
            tier = "gold" if role == "user" else None
            await auth.create_user(
                UserCreate(
                    username=username,
                    password=password,
                    role=role,
                    tier=tier,
                    segment="demo" if role != "seller" else None,
                    seller_id=DEMO_SELLER_ID if role == "seller" else None,
                )
            )
            users_created.append(username)
    async with pool.acquire() as conn:
        existing = {r["sku"] for r in await conn.fetch("SELECT sku FROM products WHERE sku LIKE 'DEMO-%'")}
    created = 0
    total = 0
    for category, items in _CATALOG.items():
        for index, (name, price) in enumerate(items):
            total += 1
            sku = f"DEMO-{category[:4].upper()}-{index + 1:03d}"
            if sku in existing:
                continue
            base = Decimal(price)
            product = ProductCreate(
                sku=sku,
                name=name,
                category_id=category,
                seller_id=_SELLERS[index % len(_SELLERS)],
                currency=DEMO_CURRENCY,
                base_price=base,
                current_price=base,
                min_price=(base * _COST_SHARE).quantize(Decimal("0.01")),
                cost_price=(base * _COST_SHARE).quantize(Decimal("0.01")),
                stock=_STOCK[index % len(_STOCK)],
                tags=[category, "demo"],
                weight=Decimal("0.5") + Decimal(index) / 10,
            )
            await catalog.create_product(
                pool, product, actor="seed-demo", prices_include_tax=settings.catalog_prices_include_tax
            )
            created += 1
    configured = await _seed_configuration(pool)
    await seed_price_lists(pool)
    await seed_promotions(pool)
    await seed_shipping_profiles(pool)
    await seed_offers(pool)
    await seed_market(pool, now=utcnow(), window_hours=settings.market_window_hours)
    history = await seed_history(pool, now=utcnow())
    if history is not None:
        await seed_refunds(pool, admin=admin[0])
    activity = await seed_activity(settings, pool, now=utcnow())
    await seed_taxes(pool)
    payouts = await seed_payouts(pool, now=utcnow())
    return DemoSummary(
        users_created=tuple(users_created),
        products_created=created,
        products_total=total,
        configuration_created=configured,
        history=history,
        activity=activity,
        payouts=payouts,
    )


async def seed_history(pool: asyncpg.Pool, *, now: datetime) -> Summary | None:
    """Two weeks of quotes, orders and flash sales (`generate-data`, a fixed seed) so analytics
    and the checkout_banner experiment show figures; once (None when already there).

    The demo experiment is dated from the start of that history: its figures cover every
    generated quote (an experiment counts the quotes since its flag was created)."""
    seed = DEMO_HISTORY["seed"]
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM products WHERE sku LIKE $1 LIMIT 1", f"GEN-{seed}-%"):
            return None
    summary = await generate(
        pool,
        products=DEMO_HISTORY["products"],
        days=DEMO_HISTORY["days"],
        quotes_per_day=DEMO_HISTORY["quotes_per_day"],
        seed=seed,
        now=now,
        progress=False,
    )
    async with pool.acquire() as conn, conn.transaction():
        reason = "seed-demo: the demo experiment covers the generated history"
        await flags_repository.explain_change(conn, reason=reason)
        await conn.execute(
            "UPDATE feature_flags SET created_at = LEAST(created_at, $2), updated_by = 'seed-demo', updated_at = now()"
            " WHERE key = $1",
            "checkout_banner",
            hour_of(now) - timedelta(days=DEMO_HISTORY["days"]),
        )
    return summary


async def seed_refunds(pool: asyncpg.Pool, *, admin: str) -> None:
    """Undo two of the history's latest orders as the demo admin: one unit of one refunded, one
    cancelled, so orders, reports, statements and the dashboard show what a refund does."""
    async with pool.acquire() as conn:
        user = await auth_repository.get_user_by_username(conn, username=admin)
        latest = await conn.fetch(
            "SELECT o.id, (SELECT product_id FROM order_lines WHERE order_id = o.id ORDER BY position LIMIT 1)"
            " AS product_id FROM orders o WHERE o.status = 'confirmed' ORDER BY o.created_at DESC LIMIT 2"
        )
    if user is None or len(latest) < 2:
        return
    who = Principal(id=user["id"], name=admin, role="admin", kind="user")
    one = RefundCreate(lines=[RefundLineIn(product_id=latest[0]["product_id"], quantity=1)], reason="demo: damaged")
    await refunds.refund(pool, latest[0]["id"], one, principal=who, actor="seed-demo", idempotency_key="demo-refund")
    changed = CancelCreate(reason="demo: changed my mind")
    await refunds.cancel(pool, None, latest[1]["id"], changed, principal=who, actor="seed-demo",
                         idempotency_key="demo-cancel", now=utcnow(), window=timedelta(0))  # fmt: skip


async def _seed_configuration(pool: asyncpg.Pool) -> bool:
    """Create the demo configuration once (its first rule's name marks it as done)."""
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM pricing_rules WHERE name = $1", DEMO_RULES[0]["name"]):
            return False
    # The demo's configuration goes into the audit log like an admin's (docs/governance.md).
    pool = audited(pool, actor_document(kind="system", actor_id=None, name="seed-demo"), None)
    for rate in DEMO_RATES:
        await commissions.create_rate(
            pool, msgspec.convert(rate, CommissionRateInput, dec_hook=decode_hook), actor="seed-demo"
        )
    for rule in DEMO_RULES:
        await rules.create_rule(pool, msgspec.convert(rule, PricingRuleCreate, dec_hook=decode_hook), actor="seed-demo")
    for flag in DEMO_FLAGS:
        await flags.create_flag(pool, msgspec.convert(flag, FeatureFlagCreate, dec_hook=decode_hook), actor="seed-demo")
    for coupon in DEMO_COUPONS:
        await coupons.create_coupon(
            pool, msgspec.convert(coupon, CouponCreate, dec_hook=decode_hook), actor="seed-demo"
        )
    return True


DEMO_PROMOTIONS: list[dict[str, Any]] = [
    {
        "name": "Grocery: buy 2, get 1 free",
        "kind": "BUY_X_GET_Y",
        "config": {
            "buy": {"quantity": 2, "category_ids": ["grocery"]},
            "get": {"quantity": 1, "category_ids": ["grocery"], "percent_off": 100},
        },
        "conditions": {"currency": DEMO_CURRENCY},
        "starts_at": _SINCE,
    },
    {
        "name": "5 % off baskets from 3000.00",
        "kind": "PERCENT_OFF",
        "config": {"percent": "5", "max_discount": "250.00"},
        "conditions": {"currency": DEMO_CURRENCY, "min_subtotal": "3000.00"},
        "starts_at": _SINCE,
    },
    {
        "name": "Home week: 10 % off, paid by the platform",
        "kind": "PERCENT_OFF",
        "config": {"percent": "10"},
        "conditions": {"currency": DEMO_CURRENCY, "category_ids": ["home"]},
        "starts_at": _SINCE,
        "funded_by": "platform",
        # Above the newsletter's spend tiers: it always stacks first (equal priorities stack by
        # id, which differs from one seed to the next), so docs/promotions.md's figures hold.
        "priority": 1,
    },
    # The merchandisers' kinds (docs/promotions.md#merchandisers-promotions), for quotes on the
    # newsletter channel only: every other demo quote stays as it was.
    {
        "name": "Newsletter: any 3 books for 750.00",
        "kind": "FIXED_PRICE_BUNDLE",
        "config": {"category_ids": ["books"], "quantity": 3, "price": "750.00", "currency": DEMO_CURRENCY},
        "conditions": {"channels": ["newsletter"]},
        "starts_at": _SINCE,
    },
    {
        "name": "Newsletter: home spend 500 get 40, spend 1000 get 100",
        "kind": "SPEND_TIERS",
        "config": {
            "tiers": [{"min_subtotal": "500.00", "amount": "40.00"}, {"min_subtotal": "1000.00", "amount": "100.00"}],
            "currency": DEMO_CURRENCY,
        },
        "conditions": {"channels": ["newsletter"], "category_ids": ["home"]},
        "starts_at": _SINCE,
    },
    {
        "name": "Newsletter: 8 % off fashion",
        "kind": "PERCENT_OFF",
        "config": {"percent": "8"},
        "conditions": {"channels": ["newsletter"], "category_ids": ["fashion"], "currency": DEMO_CURRENCY},
        "group": "newsletter-fashion",
        "starts_at": _SINCE,
    },
    {
        "name": "Newsletter: 100.00 off fashion, 1000.00 budget",
        "kind": "AMOUNT_OFF",
        "config": {"amount": "100.00", "currency": DEMO_CURRENCY, "distribution": "even"},
        "conditions": {"channels": ["newsletter"], "category_ids": ["fashion"]},
        "group": "newsletter-fashion",
        "budget": {"amount": "1000.00", "currency": DEMO_CURRENCY},
        "starts_at": _SINCE,
    },
    {
        "name": "Newsletter: buy 2 electronics, the dearest third 15 % off",
        "kind": "BUY_X_GET_Y",
        "config": {
            "buy": {"quantity": 2, "category_ids": ["electronics"]},
            "get": {"quantity": 1, "category_ids": ["electronics"], "percent_off": "15"},
            "selection": "most_expensive",
        },
        "conditions": {"channels": ["newsletter"], "currency": DEMO_CURRENCY},
        "per_customer_limit": 1,
        "starts_at": _SINCE,
    },
    {  # docs/promotions.md#partial-free-delivery, for quotes on the app channel only
        "name": "App: half delivery, at most 15.00 a parcel",
        "kind": "FREE_DELIVERY",
        "config": {"percent": "50", "max": "15.00", "currency": DEMO_CURRENCY},
        "conditions": {"channels": ["demo-app"]},
        "starts_at": _SINCE,
    },
]
"""A buy-2-get-1, a basket-threshold and a platform-funded home-goods promotion (docs/promotions.md;
docs/orders-and-refunds.md#who-funds-a-discount: an order of home goods shows a platform
contribution in its seller's statement); none touches the README's first quote (no grocery, no
home goods, under 3000.00). Then a bundle, spend tiers, a group of two (one with a budget, spread
evenly) and a most-expensive buy-X-get-Y with a per-customer limit, on the newsletter channel only; half
the delivery off (at most 15.00 a parcel) on the demo-app channel only."""


async def seed_promotions(pool: asyncpg.Pool) -> int:
    """Create the demo promotions missing by name; how many were created."""
    async with pool.acquire() as conn:
        existing = {row["name"] for row in await conn.fetch("SELECT name FROM promotions")}
    missing = [p for p in DEMO_PROMOTIONS if p["name"] not in existing]
    for body in missing:
        await promotions.create_promotion(
            pool, msgspec.convert(body, PromotionInput, dec_hook=decode_hook), actor="seed-demo"
        )
    return len(missing)


DEMO_SALE_NAME = "Demo flash sale"
DEMO_SALE_SKUS = ("DEMO-ELEC-001", "DEMO-ELEC-003", "DEMO-HOME-002")


async def seed_flash_sale(sales: FlashSales, *, now: datetime) -> tuple[UUID, datetime] | None:
    """A one-hour sale of three demo products starting a minute from `now` (20 units each, 2 per
    customer, 20 % off, never below min_price: the products' prices may have moved since they
    were listed); none when a demo sale has not ended yet. Returns (id, starts_at)."""
    async with sales.pool.acquire() as conn:
        if await conn.fetchval(
            "SELECT 1 FROM flash_sales WHERE name = $1 AND status <> 'ended' AND ends_at > $2", DEMO_SALE_NAME, now
        ):
            return None
        products = await conn.fetch(
            "SELECT id, current_price, min_price FROM products WHERE sku = any($1::text[]) ORDER BY sku",
            list(DEMO_SALE_SKUS),
        )
    starts_at = now + timedelta(minutes=1)
    sale = await sales.create(
        FlashSaleCreate(
            name=DEMO_SALE_NAME,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
            items=[
                FlashSaleItemIn(
                    product_id=row["id"],
                    flash_price=max(
                        (row["current_price"] * Decimal("0.80")).quantize(Decimal("0.01")),
                        row["min_price"].quantize(Decimal("0.01"), ROUND_CEILING),
                    ),
                    allocated_stock=20,
                    per_user_limit=2,
                )
                for row in products
            ],
        ),
        actor="seed-demo",
    )
    return sale.id, starts_at
