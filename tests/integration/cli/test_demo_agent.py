"""seed-demo's agent key (cli/demo_agent.py, docs/agents.md#the-demo-agent): made once, public in development
and printed with an ACP checkout that works as printed; random in production, shown only by the run that made
it, and the public key never offered there."""

from __future__ import annotations

import asyncpg
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cli.demo_agent import DEMO_AGENT_KEY, DEMO_AGENT_NAME, seed_agent
from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller


async def agent_keys(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT role FROM api_keys WHERE name = $1 AND revoked_at IS NULL", DEMO_AGENT_NAME)
    return [row["role"] for row in rows]


async def test_the_demo_agent_key_is_made_once_and_checks_out_as_printed(
    client: AsyncTestClient[Litestar], admin: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    product = await create_product(client, admin, sku="DEMO-AGENT-1", seller_id="seller-a")
    first = await seed_agent(settings, pool)
    assert (first.key, first.created, str(first.product_id)) == (DEMO_AGENT_KEY, True, product["id"])
    again = await seed_agent(settings, pool)
    assert (again.key_id, again.key, again.created) == (first.key_id, DEMO_AGENT_KEY, False)
    assert await agent_keys(pool) == ["agent"]

    printed = "\n".join(again.describe())
    assert f"{DEMO_AGENT_NAME} ({first.key_id}), role agent, already present: {DEMO_AGENT_KEY}" in printed
    assert "not shown again" not in printed
    # The printed checkout, as the shell would send it.
    body = printed.split("-d '", 1)[1].removesuffix("'")
    assert f"Authorization: Bearer {DEMO_AGENT_KEY}" in printed
    created = await client.post(
        "/acp/checkout_sessions",
        content=body,
        headers={
            "Authorization": f"Bearer {DEMO_AGENT_KEY}",
            "Idempotency-Key": "demo-1",
            "Content-Type": "application/json",
        },
    )
    assert created.status_code == 201, created.text
    session = msgspec.json.decode(created.content)
    assert [line["item"]["id"] for line in session["line_items"]] == [product["id"]]


async def test_in_production_the_key_is_random_and_shown_once(settings: Settings, pool: asyncpg.Pool) -> None:
    production = msgspec.structs.replace(settings, environment="production")
    made = await seed_agent(production, pool)
    assert made.created
    assert made.key is not None
    assert made.key != DEMO_AGENT_KEY
    assert made.key.startswith("qsk_")
    assert "generated: store it now" in "\n".join(made.describe())
    again = await seed_agent(production, pool)
    assert (again.key_id, again.key, again.created) == (made.key_id, None, False)
    assert "shown once when it was made" in "\n".join(again.describe())


async def test_in_production_the_public_development_key_is_never_offered(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await seed_agent(settings, pool)  # made in development
    later = await seed_agent(msgspec.structs.replace(settings, environment="production"), pool)
    assert later.key is None
    assert DEMO_AGENT_KEY not in "\n".join(later.describe())
