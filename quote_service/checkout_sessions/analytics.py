"""GET /api/v1/analytics/agents: checkout sessions per agent key over a period (docs/agents.md#analytics).

Per agent: sessions created in [from, to), how many completed, how many the agent canceled (abandoned), how
many are still open past their expires_at (expired), and the conversion (completed / created); and the orders
the agent's quotes made in that time (a session's, one placed from a quote, a flash purchase), with the flash
purchases among them. An agent with orders and no session is listed too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from quote_service.auth.guards import admin_only
from quote_service.checkout_sessions import repository
from quote_service.checkout_sessions.service import CheckoutSessions
from quote_service.config import Settings
from quote_service.db.pool import Pool
from quote_service.periods import instant_bounds
from quote_service.pricing.local_time import zone
from quote_service.web.deps import PoolDep
from quote_service.web.envelope import Envelope, ok

DEFAULT_DAYS = 30


class AgentSessions(msgspec.Struct, frozen=True, kw_only=True):
    key_id: UUID
    name: str
    created: int
    completed: int
    abandoned: int
    expired: int
    conversion: Decimal
    """completed / created, to four places (0 without a session)."""
    orders: int
    """Orders whose quote the agent made: a session's, one placed from a quote, a flash purchase."""
    flash_purchases: int
    """The flash-sale purchases among `orders`."""


class AgentsReport(msgspec.Struct, frozen=True, kw_only=True):
    since: datetime
    until: datetime
    agents: list[AgentSessions]


async def agents_report(pool: Pool, since: datetime, until: datetime, now: datetime) -> AgentsReport:
    async with pool.acquire() as conn:
        rows = await repository.per_agent(conn, since=since, until=until, now=now)
    return AgentsReport(
        since=since,
        until=until,
        agents=[
            AgentSessions(
                key_id=row["principal_id"],
                name=row["agent_name"],
                created=row["created"],
                completed=row["completed"],
                abandoned=row["abandoned"],
                expired=row["expired"],
                conversion=_conversion(row["completed"], row["created"]),
                orders=row["orders"],
                flash_purchases=row["flash_purchases"],
            )
            for row in rows
        ],
    )


def _conversion(completed: int, created: int) -> Decimal:
    return (Decimal(completed) / Decimal(created) if created else Decimal(0)).quantize(Decimal("0.0001"))


@get(
    "/api/v1/analytics/agents",
    guards=[admin_only],
    tags=["analytics"],
    summary="Per agent key: checkout sessions created, completed, abandoned, expired, the conversion; its orders",
)
async def agents_analytics(
    pool: PoolDep,
    settings: NamedDependency[Settings],
    checkout_sessions: NamedDependency[CheckoutSessions],
    from_: Annotated[str | None, QueryParameter(name="from")] = None,
    to: Annotated[str | None, QueryParameter(name="to")] = None,
) -> Envelope[AgentsReport]:
    now = checkout_sessions.clock()
    since, until = instant_bounds(from_, to, zone(settings.business_timezone))
    until = until or now + timedelta(seconds=1)
    since = since or until - timedelta(days=DEFAULT_DAYS)
    return ok(await agents_report(pool, since, until, now))
