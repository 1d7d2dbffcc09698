"""HTTP: /api/v1/price-lists (admin): CRUD, list, and PUT /{id}/prices (bulk upsert)."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from litestar import delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.audit.admin import ConfigWriteDep, config_write
from quote_service.auth.guards import AdminController
from quote_service.pagination import Page
from quote_service.price_lists import repository, service
from quote_service.price_lists.schemas import (
    PriceList,
    PriceListCreate,
    PriceListDetail,
    PriceListUpdate,
    PricesUpsert,
    PricesUpserted,
)
from quote_service.web.deps import ListingDep, PoolDep
from quote_service.web.envelope import Envelope, ok
from quote_service.web.request import MIB

DOMAIN = "price-lists"
PRICES_BODY_LIMIT = 2 * MIB
"""MAX_PRICES prices, every field at its longest, pretty-printed (indent 2): about 1.3 MiB."""


class PriceListController(AdminController):
    path = "/api/v1/price-lists"
    dependencies = {"write": config_write(DOMAIN)}

    @post("/", summary="Create a price list (with up to 10,000 prices)", request_max_body_size=PRICES_BODY_LIMIT)
    async def create(self, data: JSONBody[PriceListCreate], write: ConfigWriteDep) -> Envelope[PriceListDetail]:
        return await write.made(service.create_price_list, data, message="Price list created")

    @get("/", summary="List price lists, oldest first (keyset-paginated)")
    async def list_price_lists(
        self,
        listing: ListingDep,
        currency: FromQuery[str | None] = None,
    ) -> Envelope[Page[PriceList]]:
        fetch = partial(repository.list_price_lists, currency=currency.upper() if currency else None)
        return ok(await listing.page("price-lists", fetch, service.price_list_from_row))

    @get("/{list_id:uuid}", summary="Get a price list with its prices")
    async def get_price_list(self, list_id: FromPath[UUID], pool: PoolDep) -> Envelope[PriceListDetail]:
        return ok(await service.get_price_list(pool, list_id))

    @put("/{list_id:uuid}", summary="Replace a price list's fields (its prices stay)")
    async def replace(
        self, list_id: FromPath[UUID], data: JSONBody[PriceListUpdate], write: ConfigWriteDep
    ) -> Envelope[PriceList]:
        return await write.made(service.update_price_list, list_id, data, message="Price list updated")

    @put(
        "/{list_id:uuid}/prices",
        summary="Add or replace up to 10,000 prices (all or none)",
        request_max_body_size=PRICES_BODY_LIMIT,
    )
    async def upsert_prices(
        self, list_id: FromPath[UUID], data: JSONBody[PricesUpsert], write: ConfigWriteDep
    ) -> Envelope[PricesUpserted]:
        return await write.made(service.upsert_prices, list_id, data.prices, message="Prices saved")

    @delete("/{list_id:uuid}", status_code=200, summary="Delete a price list and its prices")
    async def remove(self, list_id: FromPath[UUID], write: ConfigWriteDep) -> Envelope[PriceList]:
        deleted = await service.delete_price_list(write.pool, list_id)
        return await write.saved(deleted, "Price list deleted")
