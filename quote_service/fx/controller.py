"""HTTP: /api/v1/fx-rates (admin; docs/currencies.md)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from uuid import UUID

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import AdminController
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import invalid
from quote_service.fx import repository, service
from quote_service.fx.schemas import FxRate, FxRateInForce, FxRateInput
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, PageQuery, fetch_page
from quote_service.periods import instant_bounds
from quote_service.pricing.fx_rates import Source
from quote_service.pricing.local_time import zone
from quote_service.pricing.quote import CurrencyCode
from quote_service.web.deps import PoolDep, ReadPoolDep
from quote_service.web.envelope import Envelope, ok

DOMAIN = "fx_rates"
LIST_NAME = "fx-rates"


class FxRateController(AdminController):
    path = "/api/v1/fx-rates"
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Store a rate of a pair, in force from its valid_from (history kept)")
    async def create(self, data: JSONBody[FxRateInput], write: ConfigWriteDep) -> Envelope[FxRate]:
        return await write.made(service.create, data, message="FX rate stored")

    @get(
        "/",
        summary="Every stored rate, oldest first (keyset-paginated); with base and quote, the one in force at `at`",
        description=(
            "With both `base` and `quote`: the rate from base to quote in force at `at` (default now): direct, "
            "else inverse, else crossed through EUR; 404 when there is none. Otherwise the stored rates, "
            "filtered by `base`, `quote` or `source`."
        ),
    )
    async def list_rates(
        self,
        read_pool: ReadPoolDep,
        settings: NamedDependency[Settings],
        base: FromQuery[CurrencyCode | None] = None,
        quote: FromQuery[CurrencyCode | None] = None,
        at: FromQuery[str | None] = None,
        source: FromQuery[Source | None] = None,
        limit: FromQuery[Limit] = DEFAULT_LIMIT,
        cursor: FromQuery[str | None] = None,
    ) -> Envelope[Page[FxRate]] | Envelope[FxRateInForce]:
        if base is not None and quote is not None:
            moment = utcnow() if at is None else _instant("at", at, settings)
            return ok(await service.in_force(read_pool, base=base, quote=quote, at=moment))
        if at is not None:
            raise invalid("base" if base is None else "quote", "`at` looks up the rate of a pair: name base and quote")
        fetch = partial(
            repository.list_rates,
            base=None if base is None else base.upper(),
            quote=None if quote is None else quote.upper(),
            source=source,
        )
        return ok(await fetch_page(read_pool, LIST_NAME, fetch, PageQuery(limit, cursor), service.rate_of))

    @get("/{rate_id:uuid}", summary="Get a stored rate (with its valid_until)")
    async def get_rate(self, rate_id: FromPath[UUID], pool: PoolDep) -> Envelope[FxRate]:
        return ok(await service.get(pool, rate_id))


def _instant(name: str, raw: str, settings: Settings) -> datetime:
    """An RFC 3339 instant, or a local date of BUSINESS_TIMEZONE (its first instant); 422 naming `name`."""
    moment, _ = instant_bounds(raw, None, zone(settings.business_timezone), names=(name, "to"))
    assert moment is not None
    return moment
