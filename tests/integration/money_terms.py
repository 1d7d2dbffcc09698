"""The money terms the edit, refund, payout and payout-preview properties also run under: besides their own
(COMMISSION_TAX_RATE 0 unless they say otherwise), `taxed` — a commission tax of 18 %, every order paid in 6
installments of a seller-funded option (an installment commission on every line: docs/taxes.md#installments)
and named fees of every kind (a share of the gross, per line, per shipment, per order: docs/commission.md).

A mutant that drops the tax on a commission part, or a part itself, agrees with itself at a rate of 0 and with
no such part (docs/development.md#money-mutants). A module parametrizes its `settings` with `TERMS` and reads
which terms it runs under from them (`taxed`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.commissions.test_commission_fees import rates
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok

TAX_RATE = Decimal(18)
TERMS = pytest.mark.parametrize("settings", [Decimal(0), TAX_RATE], indirect=True, ids=["untaxed", "taxed"])
"""Run a test under its own terms and under `taxed` ones (its module's `settings` fixture calls `at_rate`)."""
CARD = {"card_bin": "45436012", "installments": 6}
PLAN = {
    "name": "Seller-funded 6",
    "bin_prefixes": ["454360"],
    "currency": "TRY",
    "min_total": "1.00",
    "options": [{"count": 6, "rate": 0, "funded_by": "seller", "seller_commission_rate": "2.5"}],
}
NAMED_FEES = (
    {"component": "payment_fee", "rate": "4", "base": "gross"},
    {"component": "platform_fee", "commission_type": "FLAT", "rate": "1.00", "per": "order"},
    {"component": "pick_fee", "commission_type": "FLAT", "rate": "0.50", "per": "shipment"},
    {"component": "listing_fee", "commission_type": "FLAT", "rate": "0.30", "per": "line"},
)


def at_rate(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """`settings` at the COMMISSION_TAX_RATE the test is parametrized with (`TERMS`), else as they are."""
    rate = getattr(request, "param", None)
    return settings if rate is None else msgspec.structs.replace(settings, commission_tax_rate=rate)


def taxed(settings: Settings) -> bool:
    return settings.commission_tax_rate > 0


async def taxed_world(
    client: AsyncTestClient[Litestar], admin: Caller, pool: asyncpg.Pool, *, fees: bool = True
) -> None:
    """The installment plan (and with `fees`, the named fees' rates), once for all of a test's examples (the
    database outlives them)."""
    if not await pool.fetchval("SELECT count(*) FROM installment_plans WHERE name = $1", PLAN["name"]):
        expect_ok(await client.post("/api/v1/installment-plans", json=PLAN, headers=admin.headers), 201)
    if fees and not await pool.fetchval("SELECT count(*) FROM commission_rates WHERE component = 'listing_fee'"):
        await rates(client, admin, *NAMED_FEES)


def paid_so(settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    """A quote's body as the terms pay it: in 6 installments when `taxed`."""
    return {**body, **CARD} if taxed(settings) else body


def paid_as_asked(settings: Settings, order: dict[str, Any]) -> dict[str, Any]:
    """`order`, checked to carry an installment commission when placed under `taxed` terms."""
    if taxed(settings):
        assert Decimal(order["installment"]["installment_commission"]) > 0, order
    return order
