"""The demo's payouts (docs/payouts.md): the platform's default payout terms, and one payout run over the
demo history, so the books page and the seller page show balances and payouts. Once: when the demo has
no payout terms yet. Payouts change no order, refund or statement: every other page's figures stay."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from quote_service.audit.writer import actor_document, audited
from quote_service.payouts import service, terms
from quote_service.payouts.schemas import PayoutRun, PayoutTermsInput

DEMO_PAYOUT_TERMS = PayoutTermsInput(
    cycle="weekly", hold_days=7, reserve_percent=Decimal("10"), reserve_days=30, currency="TRY"
)
"""Weekly, a week's hold for returns, 10 % kept back for 30 days."""


async def seed_payouts(pool: asyncpg.Pool, *, now: datetime) -> PayoutRun | None:
    """The default terms and a run as of `now`; None when the demo has payout terms already."""
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM payout_terms LIMIT 1"):
            return None
    # Written like an admin's: in the audit log (docs/governance.md).
    writer = audited(pool, actor_document(kind="system", actor_id=None, name="seed-demo"), None)
    await terms.create(writer, DEMO_PAYOUT_TERMS, actor="seed-demo")
    return await service.run(
        writer, as_of=now, actor="seed-demo", default_currency="TRY", now=now, max_ahead=timedelta(0)
    )
