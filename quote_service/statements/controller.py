"""HTTP: /api/v1/sellers/{seller_id}/statement — what a seller sold, got back and is owed (admin;
service; a seller for its own, docs/sellers.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from quote_service.auth.guards import requires_role
from quote_service.auth.sellers import owned_by
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import invalid
from quote_service.pagination import DEFAULT_LIMIT, Limit, decode_cursor
from quote_service.periods import Period, parse_period
from quote_service.resource import Resource
from quote_service.statements import service
from quote_service.statements.schemas import Ledger, Statement
from quote_service.web.deps import AuthedRequest, ReadPoolsDep
from quote_service.web.envelope import Envelope, ok

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _checked(
    request: AuthedRequest,
    seller_id: str,
    format: str,
    from_: str | None,
    to: str | None,
    tz: str | None,
    settings: Settings,
) -> Period:
    """The request's period, once its seller id and format are known good (else a 422 naming them);
    another seller's statement is 404 to a seller."""
    owned_by(request.user, seller_id, f"seller {seller_id}")
    if not 1 <= len(seller_id) <= 64:
        raise invalid("seller_id", "must be 1 to 64 characters")
    if format not in ("json", "csv"):
        raise invalid("format", "must be json or csv")
    return parse_period(from_, to, tz, default_zone=settings.business_timezone, now=utcnow())


def _csv(kind: str, seller_id: str, period: Period, text: str) -> Response[str]:
    """A CSV download named after the seller and the period's days."""
    name = f"{kind}-{_UNSAFE.sub('_', seller_id)}-{period.first_day}-{period.last_day}.csv"
    return Response(
        text,
        media_type="text/csv",  # Litestar adds "; charset=utf-8" to every text/* type
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class StatementController(Resource):
    path = "/api/v1/sellers"
    guards = [requires_role("admin", "service", "seller")]

    @get(
        "/{seller_id:str}/statement",
        summary="A seller's statement per local day (tz): sales, refunds, commission, payout (?format=csv for a file)",
    )
    async def statement(
        self,
        seller_id: FromPath[str],
        read_pools: ReadPoolsDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
        from_: Annotated[str | None, QueryParameter(name="from")] = None,
        to: FromQuery[str | None] = None,
        tz: FromQuery[str | None] = None,
        currency: FromQuery[str | None] = None,
        format: FromQuery[str] = "json",
    ) -> Envelope[Statement] | Response[str]:
        period = _checked(request, seller_id, format, from_, to, tz, settings)
        made = await service.statement(read_pools.for_read(), seller_id, period, currency=currency)
        if format == "json":
            return ok(made)
        return _csv("statement", seller_id, period, service.as_csv(made))

    @get(
        "/{seller_id:str}/statement/entries",
        summary="A seller's ledger: one entry per order and per refund, summing to the statement (?format=csv)",
    )
    async def entries(
        self,
        seller_id: FromPath[str],
        read_pools: ReadPoolsDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        from_: Annotated[str | None, QueryParameter(name="from")] = None,
        to: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        tz: FromQuery[str | None] = None,
        currency: FromQuery[str | None] = None,
        format: FromQuery[str] = "json",
    ) -> Envelope[Ledger] | Response[str]:
        period = _checked(request, seller_id, format, from_, to, tz, settings)
        pool = read_pools.for_read()
        if format == "csv":  # the whole period, in one file
            made = await service.ledger(pool, seller_id, period, currency=currency, limit=None)
            return _csv("ledger", seller_id, period, service.ledger_csv(made))
        key = decode_cursor(cursor, tuple[str, str], service.LEDGER)
        after = None
        if key is not None:
            try:
                after = (datetime.fromisoformat(key[0]), UUID(key[1]))
            except ValueError as exc:
                raise invalid("cursor", "not a cursor returned by this list") from exc
        return ok(await service.ledger(pool, seller_id, period, currency=currency, limit=limit, after=after))
