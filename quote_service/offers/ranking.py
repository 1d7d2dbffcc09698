"""GET /api/v1/products/{id}/offers: every active offer with the stock for a quantity, the product's own
(default) one included, ranked by landed price at an address (docs/offers.md#landed-price).

landed_price = unit_price x quantity (rounded once) + the fee that seller's shipment would charge for
this line alone there (`pricing.offers.line_alone`: its shipping profile's selected option, else the
delivery rules); ties: more stock, then seller_id. Stock is read from PostgreSQL (fresh); prices and
shipping from the configuration snapshot's rules, as a quote prices them."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from quote_service.db.pool import Pool
from quote_service.offers.schemas import RankedOffer
from quote_service.pricing.engine import region_for
from quote_service.pricing.offers import Landing
from quote_service.pricing.quote import Address, EngineDefaults, QuoteItemIn, QuoteRequest
from quote_service.pricing.snapshot import ConfigSnapshot


async def rank(
    pool: Pool,
    snapshot: ConfigSnapshot,
    product_id: UUID,
    *,
    city: str,
    country: str,
    quantity: int,
    now: datetime,
    defaults: EngineDefaults,
) -> list[RankedOffer] | None:
    """The ranked offers (None: no such product)."""
    async with pool.acquire() as conn:
        product = await conn.fetchrow(
            "SELECT id, seller_id, currency, current_price, stock, weight, is_active FROM products WHERE id = $1",
            product_id,
        )
        if product is None:
            return None
        rows = await conn.fetch(
            """SELECT id, seller_id, current_price, stock, condition FROM offers
               WHERE product_id = $1 AND is_active AND stock >= $2""",
            product_id,
            quantity,
        )
    currency = product["currency"]
    request = QuoteRequest(
        customer_id="offers",
        items=[QuoteItemIn(product_id=str(product_id), quantity=quantity)],
        delivery_address=Address(city=city, country=country),
        currency=currency,
    )
    region = region_for(request, snapshot=snapshot, defaults=defaults, now=now)
    unit_weight: Decimal | None = product["weight"]
    weight = None if unit_weight is None else unit_weight * quantity
    candidates: list[tuple[UUID | None, str, Decimal, int, str]] = []
    if product["is_active"] and product["stock"] >= quantity:
        candidates.append((None, product["seller_id"], product["current_price"], product["stock"], "new"))
    if product["is_active"]:
        candidates += [(r["id"], r["seller_id"], r["current_price"], r["stock"], r["condition"]) for r in rows]
    ranked: list[tuple[tuple[Decimal, int, str], RankedOffer]] = []
    cent = region.cent
    landing = Landing(request, region, snapshot.shipping)
    for offer_id, seller_id, price, stock, condition in candidates:
        goods = (price * quantity).quantize(cent, ROUND_HALF_UP)
        alone = landing.fee(seller_id, goods, weight)
        landed = goods + alone.fee
        ranked.append(
            (
                (landed, -stock, seller_id),
                RankedOffer(
                    offer_id=offer_id,
                    seller_id=seller_id,
                    is_default=offer_id is None,
                    currency=currency,
                    unit_price=price.quantize(cent, ROUND_HALF_UP),
                    delivery_fee=alone.fee,
                    landed_price=landed,
                    eta_days_min=alone.eta_days_min,
                    eta_days_max=alone.eta_days_max,
                    stock=stock,
                    condition=condition,  # type: ignore[arg-type]
                ),
            )
        )
    ranked.sort(key=lambda pair: pair[0])
    return [offer for _, offer in ranked]
