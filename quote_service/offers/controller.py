"""HTTP: /api/v1/offers (admin; a seller for its own, docs/sellers.md) and GET /api/v1/products/{id}/offers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from litestar import delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from quote_service.audit import changes
from quote_service.audit.admin import ConfigWriteDep, ask_approval, config_write
from quote_service.auth.guards import requires_role
from quote_service.auth.sellers import own_seller, owned_by
from quote_service.config import Settings
from quote_service.db.rows import found
from quote_service.offers import ranking, repository, service
from quote_service.offers.schemas import Offer, OfferCreate, OfferPatch, OfferPriceChange, RankedOffer
from quote_service.pagination import Keyset, Page, fetch_page
from quote_service.pricing.quote import ExternalId
from quote_service.resource import Resource
from quote_service.web.deps import AuthedRequest, ConfigStoreDep, ListingDep, PageDep, PoolDep
from quote_service.web.envelope import Envelope, ok

DOMAIN = "offers"
NEWEST_CHANGE_FIRST = Keyset(lambda r: (r["changed_at"], r["id"]), tuple[datetime, int], "before")
Quantity = Annotated[int, QueryParameter(ge=1, le=10_000, description="Units, 1 to 10,000 (as a quote line).")]
City = Annotated[str, QueryParameter(min_length=1, max_length=100)]
Country = Annotated[str, QueryParameter(pattern=r"^[A-Za-z]{2}$")]


class OfferController(Resource):
    path = "/api/v1/offers"
    guards = [requires_role("admin", "seller")]
    dependencies = {"write": config_write(DOMAIN)}

    @post(
        "/",
        summary="Create an offer (a seller: its own; one priced past SELLER_PRICE_CHANGE_APPROVAL_PERCENT from "
        "its last live price of the product becomes a change request, 202)",
    )
    async def create(
        self,
        data: JSONBody[OfferCreate],
        write: ConfigWriteDep,
        pool: PoolDep,
        settings: NamedDependency[Settings],
        request: AuthedRequest,
    ) -> Envelope[Offer]:
        replaying = changes.replaying(request)
        if own_seller(request.user) is not None and replaying is None:
            body = await service.seller_create_waits(pool, data, request.user, settings)
            if body is not None:
                await ask_approval(request, pool, "offer", body, as_write=("POST", "/api/v1/offers"))
        by_seller = replaying is not None and replaying.author.get("kind") == "seller"
        offer = await service.create_offer(
            write.pool, data, caller=request.user, actor=write.actor, by_seller=by_seller
        )
        return await write.saved(offer, "Offer created")

    @get("/", summary="List offers, oldest first (keyset-paginated; a seller: its own)")
    async def list_offers(
        self,
        listing: ListingDep,
        request: AuthedRequest,
        product_id: FromQuery[UUID | None] = None,
        seller_id: FromQuery[ExternalId | None] = None,
        is_active: FromQuery[bool | None] = None,
    ) -> Envelope[Page[Offer]]:
        own = own_seller(request.user)
        if own is not None:
            owned_by(request.user, seller_id or own, f"seller {seller_id}")
            seller_id = own
        fetch = partial(repository.list_offers, product_id=product_id, seller_id=seller_id, is_active=is_active)
        caller = request.user
        return ok(
            await listing.page(
                "offers",
                fetch,
                lambda r: service.as_seen_by(service.offer_from_row(r), caller),
            )
        )

    @get("/{offer_id:uuid}", summary="Get an offer")
    async def get_offer(self, offer_id: FromPath[UUID], pool: PoolDep, request: AuthedRequest) -> Envelope[Offer]:
        row = await service.get_offer(pool, offer_id, request.user)
        return ok(service.offer_from_row(row))

    @patch(
        "/{offer_id:uuid}",
        summary="Change the fields sent (`is_active: false` frees the product and seller pair); a seller's "
        "price move past SELLER_PRICE_CHANGE_APPROVAL_PERCENT becomes a change request (202)",
    )
    async def update(
        self,
        offer_id: FromPath[UUID],
        data: JSONBody[OfferPatch],
        write: ConfigWriteDep,
        pool: PoolDep,
        settings: NamedDependency[Settings],
        config_store: ConfigStoreDep,
        request: AuthedRequest,
    ) -> Envelope[Offer]:
        given = service.given_fields(data)
        replaying = changes.replaying(request)
        if own_seller(request.user) is not None:
            offer, waiting = await service.seller_update(
                pool,
                write.pool,
                request.user,
                offer_id,
                given,
                settings,
                actor=write.actor,
                approved=replaying is not None,
            )
            if waiting is not None:
                await config_store.changed(DOMAIN)  # what was written at once (stock) reaches the quote path
                body = {k: str(v) if isinstance(v, Decimal) else v for k, v in waiting.items()}
                await ask_approval(request, pool, "offer", body, as_write=("PATCH", f"/api/v1/offers/{offer_id}"))
            assert offer is not None
            return await write.saved(offer, "Offer updated")
        by_seller = replaying is not None and replaying.author.get("kind") == "seller"
        offer = await service.update_offer(
            write.pool, offer_id, given, actor=write.actor, source="seller" if by_seller else "manual"
        )
        return await write.saved(offer, "Offer updated")

    @delete("/{offer_id:uuid}", status_code=200, summary="Deactivate an offer")
    async def deactivate(
        self, offer_id: FromPath[UUID], write: ConfigWriteDep, pool: PoolDep, request: AuthedRequest
    ) -> Envelope[Offer]:
        await service.get_offer(pool, offer_id, request.user)
        return await write.made(service.update_offer, offer_id, {"is_active": False}, message="Offer deactivated")

    @get("/{offer_id:uuid}/price-history", summary="The offer's price changes, newest first")
    async def price_history(
        self,
        offer_id: FromPath[UUID],
        pool: PoolDep,
        request: AuthedRequest,
        page: PageDep,
    ) -> Envelope[Page[OfferPriceChange]]:
        currency = (await service.get_offer(pool, offer_id, request.user))["currency"]
        fetch = partial(repository.list_price_history, offer_id=offer_id)
        return ok(
            await fetch_page(
                pool,
                "offer-price-history",
                fetch,
                page,
                lambda r: service.price_change_from_row(r, currency),
                NEWEST_CHANGE_FIRST,
            )
        )


@get(
    "/api/v1/products/{product_id:uuid}/offers",
    tags=["offers"],
    summary="The product's offers with stock for a quantity, ranked by landed price at an address",
)
async def product_offers(
    product_id: FromPath[UUID],
    pool: PoolDep,
    config_store: ConfigStoreDep,
    quotes: NamedDependency[Any],  # the QuoteService (its engine defaults); typed Any: offers sit below quotes
    request: AuthedRequest,
    city: FromQuery[City],
    country: FromQuery[Country],
    quantity: FromQuery[Quantity] = 1,
) -> Envelope[list[RankedOffer]]:
    ranked = await ranking.rank(
        pool, config_store.snapshot, product_id, city=city, country=country.upper(), quantity=quantity,
        now=request.app.state.quote_clock(), defaults=quotes.defaults,
    )  # fmt: skip
    return ok(found(ranked, f"product {product_id}"))
