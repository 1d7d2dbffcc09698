"""`quote-service seed-demo` (and `serve --demo`): the demo catalog, accounts, history and flash
sale (the data itself: cli/demo.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from uuid import UUID

from quote_service.cache.config_bus import announce_change, read_version
from quote_service.cache.redis import create_redis
from quote_service.cli.common import dsn, with_pool
from quote_service.cli.demo_agent import seed_agent
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.pool import create_pool


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from quote_service.cli import demo

    admin, user, seller = demo.DEMO_ADMIN, demo.DEMO_USER, demo.DEMO_SELLER
    if settings.is_production:
        if not getattr(args, "force", False):
            print(
                "quote-service: seed-demo refused: ENVIRONMENT=production, and the demo accounts are "
                "meant for trying the service out. Add --force to seed anyway (the accounts then get "
                "random passwords, printed once).",
                file=sys.stderr,
            )
            return 2
        admin, user = demo.random_credentials()
        seller = demo.random_seller_credentials()
    summary = with_pool(settings, lambda pool: demo.seed_demo(settings, pool, admin=admin, user=user, seller=seller))
    if summary.configuration_created or summary.history is not None:
        asyncio.run(_announce_configuration(settings))
    print(
        f"demo data: {summary.products_created} products created ({summary.products_total} in the demo catalog), "
        f"{len(summary.users_created)} users created, pricing configuration "
        f"{'created' if summary.configuration_created else 'already present'}"
    )
    if summary.history is not None:
        history = summary.history
        print(
            f"demo history: {history.quotes} quotes, {history.orders} orders, {history.flash_sales} ended flash "
            f"sales over {demo.DEMO_HISTORY['days']} days (analytics, the checkout_banner experiment)"
        )
    else:
        print("demo history: already present")
    print(f"demo activity: {summary.activity.describe()}")
    if summary.payouts is not None:
        print(
            f"demo payouts: {len(summary.payouts.payouts)} sellers paid on the platform's default terms (weekly, "
            "7 days' hold, 10 % reserve for 30 days): GET /api/v1/payouts"
        )
    seeded = asyncio.run(schedule_flash_sale(settings))
    if seeded is None:
        print("demo flash sale: one is already scheduled or running")
    else:
        sale_id, starts_at = seeded
        print(f"demo flash sale {sale_id} starts at {starts_at:%H:%M:%S} UTC (in a minute), for an hour:")
        print(f"  GET /api/v1/flash-sales/{sale_id}")
    webhook = asyncio.run(seed_webhook(settings))
    if webhook is not None:
        print(f"demo webhook {webhook} (inactive): point it at your receiver, then turn it on (docs/webhooks.md):")
        print(f'  PATCH /api/v1/webhooks/{webhook} {{"url": "https://...", "is_active": true}}')
    agent = with_pool(settings, lambda pool: seed_agent(settings, pool))
    print("\n".join(agent.describe()))
    _print_demo_credentials(
        settings,
        summary.users_created,
        [("demo admin", admin), ("demo user", user), (f"demo seller ({demo.DEMO_SELLER_ID})", seller)],
    )
    return 0


DEMO_WEBHOOK_URL = "https://erp.example/quote-service-webhooks"


async def seed_webhook(settings: Settings) -> UUID | None:
    """An inactive subscription to the order events (once): what a subscription looks like, sending
    nothing until an admin gives it a real URL and turns it on. None when it is there already."""
    from quote_service.webhooks import repository, signing

    pool = await create_pool(dsn(settings), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT 1 FROM webhooks WHERE url = $1", DEMO_WEBHOOK_URL):
                return None
            fields = {
                "url": DEMO_WEBHOOK_URL,
                "events": ["order.created", "order.cancelled", "order.refunded"],
                "description": "demo: an ERP's order feed (inactive: give it your receiver's URL, then activate it)",
                "is_active": False,
            }
            row = await repository.insert_webhook(conn, fields=fields, secret=signing.new_secret(), actor="seed-demo")
            webhook_id: UUID = row["id"]
            return webhook_id
    finally:
        await pool.close()


async def schedule_flash_sale(settings: Settings) -> tuple[UUID, datetime] | None:
    """The demo sale goes through the same service as an admin's (allocation, counters, announcement)."""
    from quote_service.cache.config_store import ConfigStore
    from quote_service.cli import demo
    from quote_service.flash_sales.counters import Counters
    from quote_service.flash_sales.service import FlashSales
    from quote_service.snapshot.loader import load_snapshot

    pool = await create_pool(dsn(settings), min_size=1, max_size=2, server_settings=settings.database_session())
    redis = create_redis(settings.redis_url or "", cluster=settings.redis_cluster)
    now = utcnow()
    try:
        config = ConfigStore(pool, redis, load_snapshot)
        # The sale's announcement reloads this store: it must hold a snapshot (no need to follow changes).
        await config.refresh(force=True, background=False)
        sales = FlashSales(pool, Counters(redis), config)
        return await demo.seed_flash_sale(sales, now=now)
    finally:
        await redis.aclose()
        await pool.close()


async def _announce_configuration(settings: Settings) -> None:
    """Tell running servers that configuration changed (they reload their snapshots; without
    this they would see PostgreSQL's new version within a second anyway)."""
    pool = await create_pool(dsn(settings), min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            version = await read_version(conn)
    finally:
        await pool.close()
    redis = create_redis(settings.redis_url or "", cluster=settings.redis_cluster)
    try:
        await announce_change(redis, version, domain="seed-demo")
    finally:
        await redis.aclose()


def _print_demo_credentials(
    settings: Settings, created: tuple[str, ...], accounts: list[tuple[str, tuple[str, str]]]
) -> None:
    """Development: the public credentials. Production: generated passwords, for new accounts only."""
    for label, (username, password) in accounts:
        if not settings.is_production:
            print(f"{label + ': ':<12}{username} / {password}")
        elif username in created:
            print(f"{label + ': ':<12}{username} / {password}   (generated: store it now, it is not shown again)")
        else:
            print(f"{label + ': ':<12}{username} already existed; its password is unchanged")


def print_pages(base: str, *, demo_accounts: bool) -> None:
    """Every page's URL (pages/controller.py), each with the demo login that opens it."""
    from quote_service.cli import demo
    from quote_service.pages.controller import PATHS

    logins = {"store": demo.DEMO_USER, "seller": demo.DEMO_SELLER}
    for page, path in PATHS.items():
        username, password = logins.get(page, demo.DEMO_ADMIN)
        login = f"  (log in as {username} / {password})" if demo_accounts else ""
        print(f"{page + ':':<12}{base}{path}{login}", flush=True)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    seed = sub.add_parser(
        "seed-demo",
        help="load the demo catalog, accounts, history and a flash sale",
        description=(
            "Load the demo `make run` serves: a catalog, a pricing configuration, the accounts demo-admin, "
            "demo-shopper and demo-seller, two weeks of generated history, recent activity and a one-hour "
            "flash sale starting a minute later. Safe to run again: what is there is kept. Refused with "
            "ENVIRONMENT=production unless --force (docs/demo.md)."
        ),
    )
    seed.add_argument(
        "--force", action="store_true", help="seed even when ENVIRONMENT=production (accounts get random passwords)"
    )
    seed.set_defaults(handler=cmd_seed_demo)
