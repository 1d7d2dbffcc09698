"""HTTP: /api/v1/sellers/{seller_id}/statement — what a seller sold, got back and is owed (admin; service)."""

from __future__ import annotations

import re
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from quote_service.analytics.periods import parse_period
from quote_service.auth.guards import requires_role
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import invalid
from quote_service.statements import service
from quote_service.statements.schemas import Statement
from quote_service.web.deps import ReadPoolsDep
from quote_service.web.envelope import Envelope, ok

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class StatementController(Controller):
    path = "/api/v1/sellers"
    tags = ["sellers"]
    guards = [requires_role("admin", "service")]

    @get(
        "/{seller_id:str}/statement",
        summary="A seller's statement per local day (tz): sales, refunds, commission, payout (?format=csv for a file)",
    )
    async def statement(
        self,
        seller_id: FromPath[str],
        read_pools: ReadPoolsDep,
        settings: NamedDependency[Settings],
        from_: Annotated[str | None, QueryParameter(name="from")] = None,
        to: FromQuery[str | None] = None,
        tz: FromQuery[str | None] = None,
        currency: FromQuery[str | None] = None,
        format: FromQuery[str] = "json",
    ) -> Envelope[Statement] | Response[str]:
        if not 1 <= len(seller_id) <= 64:
            raise invalid("seller_id", "must be 1 to 64 characters")
        if format not in ("json", "csv"):
            raise invalid("format", "must be json or csv")
        period = parse_period(from_, to, tz, default_zone=settings.business_timezone, now=utcnow())
        made = await service.statement(read_pools.for_read(), seller_id, period, currency=currency)
        if format == "json":
            return ok(made)
        name = f"statement-{_UNSAFE.sub('_', seller_id)}-{period.first_day}-{period.last_day}.csv"
        return Response(
            service.as_csv(made),
            media_type="text/csv",  # Litestar adds "; charset=utf-8" to every text/* type
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
