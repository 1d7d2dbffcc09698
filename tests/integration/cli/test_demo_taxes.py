"""seed-demo's taxes (docs/taxes.md#try-it-on-the-demo): perfumes under ÖTV then KDV, and an installment
plan for two BINs; seeded once, in the audit log."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cli.demo_taxes import seed_taxes
from tests.integration.expect import expect_ok
from tests.waiting import until

Client = AsyncTestClient[Litestar]


async def test_the_demo_perfume_holds_otv_and_kdv_and_a_card_gets_installments(
    client: Client, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    assert await seed_taxes(pool) == 4
    assert await seed_taxes(pool) == 0
    audited = "SELECT count(*) FROM audit_log WHERE entity_type = any('{pricing_rule,installment_plan}')"
    assert await pool.fetchval(audited) == 2
    perfume = str(await pool.fetchval("SELECT id FROM products WHERE sku = 'OTV-PERF-001'"))

    async def quote(**fields: Any) -> Any:
        body = {"customer_id": "c-1", "currency": "TRY", "items": [{"product_id": perfume, "quantity": 1}],
                "delivery_address": {"city": "Istanbul", "country": "TR"}, **fields}  # fmt: skip
        return expect_ok(await client.post("/api/v1/quote", json=body, headers=service_key))

    async def seeded() -> bool:  # written straight into PostgreSQL: the app sees the new version within ~1 s
        return "taxes" in (await quote())["items"][0]

    await until(seeded, "the app prices with the seeded rule")
    line = (await quote())["items"][0]
    assert (line["net"], line["tax"], line["gross"]) == ("1000.00", "440.00", "1440.00")
    assert [(t["code"], t["base"], t["amount"]) for t in line["taxes"]] == [
        ("OTV", "1000.00", "200.00"),
        ("KDV", "1200.00", "240.00"),
    ]
    offered = await quote(card_bin="55287912")
    assert [(o["count"], o["funded_by"], o["total_payable"]) for o in offered["installment_options"]] == [
        (3, "platform", offered["total_amount"]),
        (6, "seller", offered["total_amount"]),
        (9, "customer", "1558.75"),  # (1440.00 + 10.00 delivery) x 1.075
    ]
