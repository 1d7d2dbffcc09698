"""The storefront's product order, `GET /api/v1/products?sort=catalog` (docs/api.md#catalog--apiv1products).

Products that generate-data made up (tagged `generated`) come after every other product, then
the order is by category and name; the default order (creation) is unchanged. Pages of either
order cover every product once, and a cursor works only in the order that issued it.
"""

from __future__ import annotations

import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.pagination import encode_cursor
from tests.integration.catalog.test_catalog import PRODUCTS, create_product, error_of, success_data
from tests.integration.conftest import Caller

Client = AsyncTestClient[Litestar]


async def listed(client: Client, caller: Caller, query: str) -> list[str]:
    """Names of every product the list gives for `query`, page after page (3 a page)."""
    names: list[str] = []
    cursor = ""
    while True:
        page = success_data(await client.get(f"{PRODUCTS}?limit=3&{query}&cursor={cursor}", headers=caller.headers))
        names.extend(p["name"] for p in page["items"])
        if page["next_cursor"] is None:
            return names
        cursor = page["next_cursor"]


async def test_the_catalog_order_lists_generated_products_last_then_by_category_and_name(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    # As in the demo: the generated history's products are older than the real catalog.
    for i, category in ((1, "cat-000"), (0, "cat-000"), (2, "books")):
        await create_product(client, admin, name=f"Generated product {i}", category_id=category, tags=["generated"])
    for name, category in (("Snow", "books"), ("Wireless Mouse", "electronics"), ("Ceramic Bowl", "home")):
        await create_product(client, admin, name=name, category_id=category, tags=["demo"])
    await create_product(client, admin, name="Atlas", category_id="books", tags=[])

    assert await listed(client, shopper, "sort=catalog") == [
        "Atlas",
        "Snow",
        "Wireless Mouse",
        "Ceramic Bowl",
        "Generated product 2",
        "Generated product 0",
        "Generated product 1",
    ]
    assert await listed(client, shopper, "sort=catalog&category_id=books") == ["Atlas", "Snow", "Generated product 2"]
    assert await listed(client, shopper, "sort=catalog&q=product") == [
        "Generated product 2",
        "Generated product 0",
        "Generated product 1",
    ]
    # Without `sort` the list keeps its creation order, as before.
    oldest = ["Generated product 1", "Generated product 0", "Generated product 2"]
    assert (await listed(client, shopper, ""))[:3] == oldest


async def test_catalog_pages_cover_products_with_the_same_name_once(client: Client, admin: Caller) -> None:
    made = {(await create_product(client, admin, name="Tea Glass", category_id="home"))["id"] for _ in range(7)}
    seen: list[str] = []
    cursor = ""
    while True:
        query = f"?sort=catalog&limit=2&cursor={cursor}"
        page = success_data(await client.get(f"{PRODUCTS}{query}", headers=admin.headers))
        seen.extend(p["id"] for p in page["items"])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(made)
    assert seen == sorted(seen, key=uuid.UUID)  # ties on the name are broken by id


async def test_a_cursor_works_only_in_the_order_that_issued_it(client: Client, admin: Caller) -> None:
    for i in range(3):
        await create_product(client, admin, name=f"Lamp {i}")
    created = success_data(await client.get(f"{PRODUCTS}?limit=1", headers=admin.headers))["next_cursor"]
    catalog = success_data(await client.get(f"{PRODUCTS}?limit=1&sort=catalog", headers=admin.headers))["next_cursor"]
    for query in (f"sort=catalog&cursor={created}", f"cursor={catalog}"):
        response = await client.get(f"{PRODUCTS}?{query}", headers=admin.headers)
        assert error_of(response, 422, "VALIDATION_FAILED") == ["cursor"]


async def test_a_forged_catalog_cursor_or_an_unknown_order_is_refused_naming_the_field(
    client: Client, admin: Caller
) -> None:
    await create_product(client, admin)
    forged = encode_cursor((False, "books", "a\x00b", str(uuid.uuid4())), "products-catalog")
    response = await client.get(f"{PRODUCTS}?sort=catalog&cursor={forged}", headers=admin.headers)
    assert error_of(response, 422, "VALIDATION_FAILED") == ["cursor"]
    response = await client.get(f"{PRODUCTS}?sort=price", headers=admin.headers)
    assert error_of(response, 422, "VALIDATION_FAILED") == ["sort"]
