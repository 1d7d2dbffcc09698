"""The demo's payouts (docs/payouts.md): the platform's default payout terms, a set of EUR exchange rates
and `seller-0001` paid in EUR (docs/currencies.md), and one payout run over the demo history, so the books
page and the seller page show balances and payouts. Once: when the demo has no payout terms yet. Payouts
change no order, refund or statement: every other page's figures stay."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
import msgspec

from quote_service.audit.writer import actor_document, audited
from quote_service.fx import service as fx
from quote_service.payouts import service, terms
from quote_service.payouts.schemas import PayoutRun, PayoutTermsInput

DEMO_PAYOUT_TERMS = PayoutTermsInput(
    cycle="weekly", hold_days=7, reserve_percent=Decimal("10"), reserve_days=30, currency="TRY"
)
"""Weekly, a week's hold for returns, 10 % kept back for 30 days."""
PAID_IN_EUR = msgspec.structs.replace(DEMO_PAYOUT_TERMS, seller_id="seller-0001", payout_currency="EUR")
"""The same terms for one seller paid in EUR: its TRY payout converted at the rate of the run's as_of."""
DEMO_EUR_RATES = {"TRY": "37.5", "USD": "1.08", "JPY": "162.5", "KWD": "0.332"}
"""Units per 1 EUR, as an ECB file gives them (every other pair inverse or crossed through EUR)."""


async def seed_payouts(pool: asyncpg.Pool, *, now: datetime) -> PayoutRun | None:
    """The default terms and a run as of `now`; None when the demo has payout terms already."""
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM payout_terms LIMIT 1"):
            return None
    # Written like an admin's: in the audit log (docs/governance.md).
    writer = audited(pool, actor_document(kind="system", actor_id=None, name="seed-demo"), None)
    await terms.create(writer, DEMO_PAYOUT_TERMS, actor="seed-demo")
    rates = [("EUR", code, rate, "ecb", now - timedelta(days=30)) for code, rate in DEMO_EUR_RATES.items()]
    await fx.import_rates(writer, rates, actor="seed-demo")
    await terms.create(writer, PAID_IN_EUR, actor="seed-demo")
    return await service.run(
        writer, as_of=now, actor="seed-demo", default_currency="TRY", now=now, max_ahead=timedelta(0)
    )
