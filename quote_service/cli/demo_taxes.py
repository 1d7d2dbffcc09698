"""The demo's taxes as markets have them (docs/taxes.md): two perfumes in `cosmetics`, priced tax-included
under ÖTV 20 % then KDV 20 % on the price holding it, and an installment plan for two card BINs.

The perfumes' SKUs (`OTV-PERF-...`) stand apart from the 50 `DEMO-` products, so the activity, the market
and every walkthrough built on those read as they did; no other category is under a compound tax."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

from quote_service.audit.writer import actor_document, audited
from quote_service.catalog import service as catalog
from quote_service.catalog.schemas import ProductCreate
from quote_service.installments import service as installments
from quote_service.installments.schemas import InstallmentPlanInput
from quote_service.rules import service as rules
from quote_service.rules.schemas import PricingRuleCreate
from quote_service.validation import decode_hook

DEMO_PERFUMES = (("OTV-PERF-001", "Eau de Parfum 50ml", "1440.00"), ("OTV-PERF-002", "Perfume Gift Set", "999.99"))
"""(sku, name, gross price): 1440.00 holds a net 1000.00, ÖTV 200.00 and KDV 240.00 exactly."""
DEMO_OTV_RULE: dict[str, Any] = {
    "name": "demo-cosmetics-otv-kdv",
    "type": "TAX_RATE",
    "category_id": "cosmetics",
    "effective_from": "2020-01-01T00:00:00Z",
    "configuration": {"components": [{"code": "OTV", "rate": "20"}, {"code": "KDV", "rate": "20", "compound": True}]},
}
DEMO_INSTALLMENT_PLAN: dict[str, Any] = {
    "name": "Demo bank cards",
    "bin_prefixes": ["454360", "552879"],
    "currency": "TRY",
    "min_total": "500.00",
    "options": [
        {"count": 3, "rate": "0", "funded_by": "platform"},
        {"count": 6, "rate": "0", "funded_by": "seller", "seller_commission_rate": "2.5"},
        {"count": 9, "rate": "7.5", "funded_by": "customer"},
    ],
}


async def seed_taxes(pool: asyncpg.Pool) -> int:
    """Create what is missing of the perfumes, their tax rule and the installment plan; how many things."""
    writer = audited(pool, actor_document(kind="system", actor_id=None, name="seed-demo"), None)
    created = 0
    async with pool.acquire() as conn:
        skus = {row["sku"] for row in await conn.fetch("SELECT sku FROM products WHERE sku LIKE 'OTV-PERF-%'")}
        has_rule = await conn.fetchval("SELECT 1 FROM pricing_rules WHERE name = $1", DEMO_OTV_RULE["name"])
        has_plan = await conn.fetchval("SELECT 1 FROM installment_plans WHERE name = $1", DEMO_INSTALLMENT_PLAN["name"])
    for sku, name, price in DEMO_PERFUMES:
        if sku in skus:
            continue
        gross = Decimal(price)
        product = ProductCreate(
            sku=sku,
            name=name,
            category_id="cosmetics",
            seller_id="seller-bosphorus",
            currency="TRY",
            base_price=gross,
            current_price=gross,
            min_price=(gross * Decimal("0.8")).quantize(Decimal("0.01")),
            cost_price=(gross * Decimal("0.6")).quantize(Decimal("0.01")),
            stock=40,
            tags=["cosmetics", "demo"],
            weight=Decimal("0.4"),
            prices_include_tax=True,
        )
        await catalog.create_product(pool, product, actor="seed-demo")
        created += 1
    if not has_rule:
        rule = msgspec.convert(DEMO_OTV_RULE, PricingRuleCreate, dec_hook=decode_hook)
        await rules.create_rule(writer, rule, actor="seed-demo")
        created += 1
    if not has_plan:
        plan = msgspec.convert(DEMO_INSTALLMENT_PLAN, InstallmentPlanInput, dec_hook=decode_hook)
        await installments.PLANS.create(writer, plan, actor="seed-demo")
        created += 1
    return created
