"""Orders from an offer under concurrency (docs/offers.md#stock): thirty orders for an offer's ten units sell
exactly ten, the product's own stock untouched; orders of the offer and of the product's own stock racing
each other sell each to its own end; cancels racing new orders give units back that the next orders take.

Every test fires its orders at once at a real `quote-service serve` process (tests/integration/servers.py),
as tests/integration/orders/test_orders_concurrency.py does for products, and checks PostgreSQL itself."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.offers.test_offers_api import make_offer
from tests.integration.orders.test_orders_api import build_quote, line, order
from tests.integration.orders.test_orders_concurrency import Keep, http, keep, outcomes, quotes  # noqa: F401

pytestmark = pytest.mark.slow

Client = AsyncTestClient[Litestar]
Http = httpx.AsyncClient


def from_offer(product: dict[str, Any], offer: dict[str, Any], quantity: int) -> Any:
    """A line sold from `offer`: its seller, its price."""
    sold = {**product, "seller_id": offer["seller_id"], "current_price": offer["current_price"]}
    return msgspec.structs.replace(line(sold, quantity), offer_id=uuid.UUID(offer["id"]), offer_selection="named")


async def stocks(pool: asyncpg.Pool, product: dict[str, Any], offer: dict[str, Any]) -> tuple[int, int]:
    own = await pool.fetchval("SELECT stock FROM products WHERE id = $1", uuid.UUID(product["id"]))
    theirs = await pool.fetchval("SELECT stock FROM offers WHERE id = $1", uuid.UUID(offer["id"]))
    return own, theirs


async def test_thirty_orders_for_an_offers_ten_units_sell_exactly_ten(
    client: Client,
    http: Http,  # noqa: F811 - the fixture
    admin: Caller,
    service_key: dict[str, str],
    keep: Keep,  # noqa: F811 - the fixture
    pool: asyncpg.Pool,
) -> None:
    product = await create_product(client, admin, stock=7)
    offer = await make_offer(client, admin, product, stock=10)
    baskets = [await keep(build_quote(f"cust-{i}", [from_offer(product, offer, 1)])) for i in range(30)]

    responses = list(await asyncio.gather(*(order(http, service_key, q) for q in baskets)))

    assert outcomes(responses) == {(201, "ok"): 10, (409, "INSUFFICIENT_STOCK"): 20}
    assert await stocks(pool, product, offer) == (7, 0)
    sold = await pool.fetchval("SELECT sum(quantity) FROM order_lines WHERE offer_id = $1", uuid.UUID(offer["id"]))
    assert sold == 10


async def test_the_offer_and_the_products_own_stock_sell_out_each_on_its_own(
    client: Client,
    http: Http,  # noqa: F811 - the fixture
    admin: Caller,
    service_key: dict[str, str],
    keep: Keep,  # noqa: F811 - the fixture
    pool: asyncpg.Pool,
) -> None:
    product = await create_product(client, admin, stock=4)
    offer = await make_offer(client, admin, product, stock=6)
    mixed = [await keep(build_quote(f"own-{i}", [line(product, 1)])) for i in range(10)]
    mixed += [await keep(build_quote(f"offer-{i}", [from_offer(product, offer, 1)])) for i in range(10)]
    both = [await keep(build_quote(f"both-{i}", [line(product, 1), from_offer(product, offer, 1)])) for i in range(5)]

    responses = list(await asyncio.gather(*(order(http, service_key, q) for q in [*mixed, *both])))

    assert all(r.status_code in (201, 409) for r in responses), [r.text for r in responses if r.status_code >= 500]
    own, theirs = await stocks(pool, product, offer)
    assert (own, theirs) == (0, 0)
    taken = await pool.fetch(
        "SELECT offer_id IS NOT NULL AS from_offer, sum(quantity) AS n FROM order_lines GROUP BY 1 ORDER BY 1"
    )
    assert [(r["from_offer"], r["n"]) for r in taken] == [(False, 4), (True, 6)]
