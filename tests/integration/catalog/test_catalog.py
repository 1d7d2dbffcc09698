"""Catalog CRUD over HTTP: money on the wire, filters, roles, invariants on every write."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Caller

Client = AsyncTestClient[Litestar]
PRODUCTS = "/api/v1/products"
PUT_FIELDS = (
    "sku",
    "name",
    "category_id",
    "seller_id",
    "currency",
    "base_price",
    "current_price",
    "min_price",
    "cost_price",
    "tags",
    "weight",
    "is_active",
)


def product_body(**overrides: Any) -> dict[str, Any]:
    """A valid create body (TRY, 25.50 with min 20.00 and cost 10.00), changed by `overrides`."""
    body: dict[str, Any] = {
        "sku": f"SKU-{uuid.uuid4().hex[:10]}",
        "name": "Phone Case",
        "category_id": "electronics",
        "seller_id": "seller-1",
        "currency": "TRY",
        "base_price": "25.50",
        "min_price": "20.00",
        "cost_price": "10.00",
        "stock": 10,
        "tags": ["case", "phone"],
        "weight": "0.25",
    }
    body.update(overrides)
    return body


def put_body(product: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A PUT body that keeps every field of `product`, changed by `overrides`."""
    return {**{name: product[name] for name in PUT_FIELDS}, **overrides}


async def create_product(client: Client, admin: Caller, **overrides: Any) -> dict[str, Any]:
    """Create a product as admin and return its `data`."""
    response = await client.post(PRODUCTS, json=product_body(**overrides), headers=admin.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def success_data(response: httpx.Response, status: int = 200) -> Any:
    """The `data` of a success envelope, after checking status and envelope."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    assert isinstance(body["message"], str)
    return body["data"]


def error_of(response: httpx.Response, status: int, code: str) -> list[str]:
    """The detail fields of an error envelope, after checking status, code and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["message"]
    assert body["error"]["code"] == code
    return [detail["field"] for detail in body["error"]["details"]]


def names_of(response: httpx.Response, status: int, code: str) -> list[tuple[str, str]]:
    """(field, message) of every detail of an error envelope, after checking status and code."""
    error_of(response, status, code)
    return [(detail["field"], detail["message"]) for detail in response.json()["error"]["details"]]


def refused(response: httpx.Response, name: str) -> bool:
    """True for a 422 VALIDATION_FAILED whose details name field `name`."""
    return any(names_field(f, name, m) for f, m in names_of(response, 422, "VALIDATION_FAILED"))


def names_field(field: str, name: str, message: str = "") -> bool:
    """True when a detail names field `name`.

    Unknown and missing top-level fields currently come back under the body's parameter name
    (`data.colour`, or `data` with the field in the message); accept those spellings too.
    """
    return field in {name, f"data.{name}"} or (field == "data" and f"`{name}`" in message)


async def product_row(pool: asyncpg.Pool, product_id: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM products WHERE id = $1", uuid.UUID(product_id))
    assert row is not None
    return dict(row)


async def count(pool: asyncpg.Pool, table: str) -> int:
    async with pool.acquire() as conn:
        value: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
    return value


# --- create and read ------------------------------------------------------------------------


async def test_create_answers_201_with_money_in_the_currencys_digits(client: Client, admin: Caller) -> None:
    response = await client.post(
        PRODUCTS,
        json=product_body(sku="CASE-1", base_price="25.5", min_price=20, cost_price="10"),
        headers=admin.headers,
    )
    product = success_data(response, 201)
    assert product["sku"] == "CASE-1"
    assert product["base_price"] == "25.50"
    assert product["current_price"] == "25.50"  # defaults to base_price
    assert product["min_price"] == "20.00"
    assert product["cost_price"] == "10.00"
    assert product["stock"] == 10
    assert product["tags"] == ["case", "phone"]
    assert product["weight"] == "0.25"
    assert product["is_active"] is True
    assert product["created_at"].endswith("Z")
    uuid.UUID(product["id"])


async def test_create_in_yen_has_no_minor_digits(client: Client, admin: Caller) -> None:
    product = await create_product(
        client, admin, currency="JPY", base_price="51", current_price="48", min_price="40", cost_price="0"
    )
    assert (product["base_price"], product["current_price"], product["min_price"], product["cost_price"]) == (
        "51",
        "48",
        "40",
        "0",
    )


async def test_create_in_three_digit_currency_keeps_three_digits(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin, currency="KWD", base_price="1.5", min_price="1.001", cost_price="0.5")
    assert (product["base_price"], product["min_price"], product["cost_price"]) == ("1.500", "1.001", "0.500")


@pytest.mark.parametrize(
    ("given", "shown"), [("100", "100"), ("10.000", "10"), ("12.50", "12.5"), (0.1, "0.1"), ("0", "0")]
)
async def test_weight_is_a_plain_decimal_without_trailing_zeros(
    client: Client, admin: Caller, given: str | float, shown: str
) -> None:
    assert (await create_product(client, admin, weight=given))["weight"] == shown


async def test_currency_code_is_stored_upper_case(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin, currency="eur")
    assert product["currency"] == "EUR"


async def test_get_reads_back_what_was_created(client: Client, admin: Caller, shopper: Caller) -> None:
    created = await create_product(client, admin)
    fetched = success_data(await client.get(f"{PRODUCTS}/{created['id']}", headers=admin.headers))
    # GET /{id} adds what stock reservations hold (test_reservations.py): none yet.
    assert fetched == {**created, "reserved": 0, "available": created["stock"]}
    # A shopper reads the same, less the floor and the cost (test_shopper_visibility.py).
    as_shopper = success_data(await client.get(f"{PRODUCTS}/{created['id']}", headers=shopper.headers))
    assert as_shopper == {k: v for k, v in fetched.items() if k not in {"min_price", "cost_price"}}


async def test_reads_are_open_to_users_and_services(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    created = await create_product(client, admin)
    for headers in (shopper.headers, service_key):
        assert success_data(await client.get(f"{PRODUCTS}/{created['id']}", headers=headers))["id"] == created["id"]
        listed = success_data(await client.get(PRODUCTS, headers=headers))
        assert [p["id"] for p in listed["items"]] == [created["id"]]
        history = success_data(await client.get(f"{PRODUCTS}/{created['id']}/price-history", headers=headers))
        assert len(history["items"]) == 1


async def test_reads_need_credentials(client: Client) -> None:
    error_of(await client.get(PRODUCTS), 401, "UNAUTHORIZED")


async def test_writes_by_users_and_services_are_forbidden_and_change_nothing(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    created = await create_product(client, admin)
    url = f"{PRODUCTS}/{created['id']}"
    before = await product_row(pool, created["id"])
    for headers in (shopper.headers, service_key):
        error_of(await client.post(PRODUCTS, json=product_body(), headers=headers), 403, "FORBIDDEN")
        error_of(await client.put(url, json=put_body(created, name="Hacked"), headers=headers), 403, "FORBIDDEN")
        error_of(await client.patch(url, json={"current_price": "21.00"}, headers=headers), 403, "FORBIDDEN")
        error_of(await client.delete(url, headers=headers), 403, "FORBIDDEN")
        stock = {"delta": -1, "reason": "theft"}
        error_of(await client.post(f"{url}/stock", json=stock, headers=headers), 403, "FORBIDDEN")
    assert await product_row(pool, created["id"]) == before
    assert await count(pool, "products") == 1
    assert await count(pool, "price_history") == 1
    assert await count(pool, "stock_movements") == 0


# --- list --------------------------------------------------------------------------------------


async def test_list_filters_by_category_seller_text_and_activity(client: Client, admin: Caller) -> None:
    earbuds = await create_product(client, admin, name="Wireless Earbuds", sku="EL-1", category_id="electronics")
    speaker = await create_product(
        client, admin, name="Bluetooth Speaker", sku="EL-2", category_id="electronics", seller_id="seller-2"
    )
    novel = await create_product(client, admin, name="Snow", sku="BK-1", category_id="books", seller_id="seller-2")
    discount = await create_product(client, admin, name="100% Cotton Towel", sku="HL_1", category_id="home")
    await client.delete(f"{PRODUCTS}/{novel['id']}", headers=admin.headers)

    async def ids(query: str) -> list[str]:
        page = success_data(await client.get(f"{PRODUCTS}?{query}", headers=admin.headers))
        return [p["id"] for p in page["items"]]

    assert await ids("") == [earbuds["id"], speaker["id"], novel["id"], discount["id"]]
    assert await ids("category_id=electronics") == [earbuds["id"], speaker["id"]]
    assert await ids("seller_id=seller-2") == [speaker["id"], novel["id"]]
    assert await ids("category_id=electronics&seller_id=seller-2") == [speaker["id"]]
    assert await ids("q=wireless") == [earbuds["id"]]  # name, case-insensitive
    assert await ids("q=el-") == [earbuds["id"], speaker["id"]]  # sku
    assert await ids("q=100%25") == [discount["id"]]  # % is a literal, not a wildcard
    assert await ids("q=L_1") == [discount["id"]]  # so is _ (else EL-1 would match)
    assert await ids("q=nothing-like-this") == []
    assert await ids("is_active=false") == [novel["id"]]
    assert await ids("is_active=true&seller_id=seller-2") == [speaker["id"]]
    assert await ids("category_id=unknown") == []


async def test_list_rejects_a_bad_activity_filter(client: Client, admin: Caller) -> None:
    fields = error_of(await client.get(f"{PRODUCTS}?is_active=maybe", headers=admin.headers), 422, "VALIDATION_FAILED")
    assert fields == ["is_active"]


async def test_list_pages_cover_every_product_once_in_order(client: Client, admin: Caller) -> None:
    created = [(await create_product(client, admin, sku=f"PAGE-{i:02d}"))["id"] for i in range(23)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = f"?limit=5&cursor={cursor}" if cursor else "?limit=5"
        page = success_data(await client.get(f"{PRODUCTS}{query}", headers=admin.headers))
        pages += 1
        assert len(page["items"]) == (5 if page["next_cursor"] else 3)
        seen.extend(p["id"] for p in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    assert seen == created


async def test_list_pages_with_a_filter_stay_within_the_filter(client: Client, admin: Caller) -> None:
    books = []
    for i in range(12):
        category = "books" if i % 2 else "home"
        product = await create_product(client, admin, sku=f"MIX-{i:02d}", category_id=category)
        if category == "books":
            books.append(product["id"])
    first = success_data(await client.get(f"{PRODUCTS}?category_id=books&limit=4", headers=admin.headers))
    second = success_data(
        await client.get(f"{PRODUCTS}?category_id=books&limit=4&cursor={first['next_cursor']}", headers=admin.headers)
    )
    assert [p["id"] for p in first["items"] + second["items"]] == books
    assert second["next_cursor"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=-1", "limit=ten"])
async def test_list_refuses_a_page_size_outside_1_to_500(client: Client, admin: Caller, query: str) -> None:
    fields = error_of(await client.get(f"{PRODUCTS}?{query}", headers=admin.headers), 422, "VALIDATION_FAILED")
    assert fields == ["limit"]


async def test_list_accepts_the_largest_page_size(client: Client, admin: Caller) -> None:
    await create_product(client, admin)
    page = success_data(await client.get(f"{PRODUCTS}?limit=500", headers=admin.headers))
    assert len(page["items"]) == 1


@pytest.mark.parametrize("cursor", ["garbage", "!!!", "W10", "WyJ4IiwgMV0"])
async def test_list_refuses_a_cursor_it_did_not_issue(client: Client, admin: Caller, cursor: str) -> None:
    response = await client.get(f"{PRODUCTS}?cursor={cursor}", headers=admin.headers)
    assert error_of(response, 422, "VALIDATION_FAILED") == ["cursor"]


# --- update --------------------------------------------------------------------------------


async def test_put_replaces_every_field_but_stock(client: Client, admin: Caller) -> None:
    created = await create_product(client, admin, stock=7)
    body = {
        "sku": "NEW-SKU",
        "name": "Leather Phone Case",
        "category_id": "accessories",
        "seller_id": "seller-9",
        "currency": "EUR",
        "base_price": "30",
        "current_price": "27.5",
        "min_price": "22.00",
        "cost_price": "11.1",
        "tags": ["leather"],
        "is_active": False,
    }
    response = await client.put(f"{PRODUCTS}/{created['id']}", json=body, headers=admin.headers)
    updated = success_data(response)
    assert {k: updated[k] for k in body} == {
        **body,
        "base_price": "30.00",
        "current_price": "27.50",
        "cost_price": "11.10",
    }
    assert updated["weight"] is None  # PUT replaces: an omitted optional field is cleared
    assert updated["stock"] == 7  # stock changes only through /stock
    assert updated["created_at"] == created["created_at"]
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(created["updated_at"])
    fetched = success_data(await client.get(f"{PRODUCTS}/{created['id']}", headers=admin.headers))
    assert fetched == {**updated, "reserved": 0, "available": 7}


async def test_put_needs_every_field(client: Client, admin: Caller) -> None:
    created = await create_product(client, admin)
    body = put_body(created)
    del body["min_price"]
    response = await client.put(f"{PRODUCTS}/{created['id']}", json=body, headers=admin.headers)
    assert refused(response, "min_price")


async def test_patch_changes_only_the_given_fields(client: Client, admin: Caller) -> None:
    created = await create_product(client, admin)
    response = await client.patch(
        f"{PRODUCTS}/{created['id']}", json={"name": "Slim Case", "current_price": "22"}, headers=admin.headers
    )
    updated = success_data(response)
    unchanged = {k: v for k, v in created.items() if k not in {"name", "current_price", "updated_at"}}
    assert {k: updated[k] for k in unchanged} == unchanged
    assert updated["name"] == "Slim Case"
    assert updated["current_price"] == "22.00"


async def test_patch_can_clear_the_weight(client: Client, admin: Caller) -> None:
    created = await create_product(client, admin, weight="1.5")
    assert created["weight"] == "1.5"
    updated = success_data(
        await client.patch(f"{PRODUCTS}/{created['id']}", json={"weight": None}, headers=admin.headers)
    )
    assert updated["weight"] is None
    assert {k: v for k, v in updated.items() if k not in {"weight", "updated_at"}} == {
        k: v for k, v in created.items() if k not in {"weight", "updated_at"}
    }


async def test_empty_patch_changes_nothing(client: Client, admin: Caller) -> None:
    created = await create_product(client, admin)
    updated = success_data(await client.patch(f"{PRODUCTS}/{created['id']}", json={}, headers=admin.headers))
    assert {k: v for k, v in updated.items() if k != "updated_at"} == {
        k: v for k, v in created.items() if k != "updated_at"
    }


async def test_patch_is_checked_against_the_stored_fields(client: Client, admin: Caller) -> None:
    """Lowering current_price alone below the stored min_price breaks the invariant."""
    created = await create_product(client, admin)
    response = await client.patch(f"{PRODUCTS}/{created['id']}", json={"current_price": "19.99"}, headers=admin.headers)
    assert error_of(response, 422, "VALIDATION_FAILED") == ["min_price"]
    # ...while lowering both together is fine.
    response = await client.patch(
        f"{PRODUCTS}/{created['id']}", json={"current_price": "19.99", "min_price": "15"}, headers=admin.headers
    )
    assert success_data(response)["current_price"] == "19.99"


async def test_delete_deactivates_and_the_product_stays_readable(client: Client, admin: Caller) -> None:
    created = await create_product(client, admin)
    deactivated = success_data(await client.delete(f"{PRODUCTS}/{created['id']}", headers=admin.headers))
    assert deactivated["is_active"] is False
    assert deactivated["id"] == created["id"]
    fetched = success_data(await client.get(f"{PRODUCTS}/{created['id']}", headers=admin.headers))
    assert fetched["is_active"] is False
    assert fetched["current_price"] == created["current_price"]
    # Deleting again is harmless, and PATCH can reactivate.
    assert success_data(await client.delete(f"{PRODUCTS}/{created['id']}", headers=admin.headers))["is_active"] is False
    reactivated = await client.patch(f"{PRODUCTS}/{created['id']}", json={"is_active": True}, headers=admin.headers)
    assert success_data(reactivated)["is_active"] is True


# --- invariants on every write ---------------------------------------------------------------

# (overrides of the valid TRY product 25.50 / min 20.00 / cost 10.00, the field that must be named)
INVALID_WRITES: list[tuple[str, dict[str, Any], str]] = [
    ("cost above min", {"cost_price": "20.01"}, "cost_price"),
    ("min above current", {"min_price": "25.51"}, "min_price"),
    ("negative cost", {"cost_price": "-1.00"}, "cost_price"),
    ("negative base", {"base_price": "-25.50", "current_price": "25.50"}, "base_price"),
    ("zero current", {"current_price": "0", "min_price": "0", "cost_price": "0"}, "current_price"),
    ("NaN", {"current_price": "NaN"}, "current_price"),
    ("Infinity", {"base_price": "Infinity", "current_price": "25.50"}, "base_price"),
    ("-Infinity", {"min_price": "-Infinity"}, "min_price"),
    ("too large", {"base_price": "1e12", "current_price": "25.50"}, "base_price"),
    ("3 decimals in TRY", {"min_price": "20.001"}, "min_price"),
    (
        "1 decimal in JPY",
        {"currency": "JPY", "base_price": "100", "current_price": "100.5", "min_price": "50", "cost_price": "10"},
        "current_price",
    ),
    ("TRY prices in JPY", {"currency": "JPY"}, "base_price"),
    ("unknown currency", {"currency": "XYZ"}, "currency"),
    ("not a currency code", {"currency": "EURO"}, "currency"),
    ("not a number", {"cost_price": "ten"}, "cost_price"),
    ("negative weight", {"weight": "-0.1"}, "weight"),
    ("empty name", {"name": ""}, "name"),
    ("unknown field", {"colour": "red"}, "colour"),
]
INVALID_IDS = [case[0] for case in INVALID_WRITES]


@pytest.mark.parametrize(("overrides", "field"), [case[1:] for case in INVALID_WRITES], ids=INVALID_IDS)
async def test_invalid_create_is_refused_and_stores_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool, overrides: dict[str, Any], field: str
) -> None:
    response = await client.post(PRODUCTS, json=product_body(**overrides), headers=admin.headers)
    assert refused(response, field), response.text
    assert await count(pool, "products") == 0
    assert await count(pool, "price_history") == 0


async def test_negative_stock_on_create_is_refused(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    response = await client.post(PRODUCTS, json=product_body(stock=-1), headers=admin.headers)
    assert error_of(response, 422, "VALIDATION_FAILED") == ["stock"]
    assert await count(pool, "products") == 0


@pytest.mark.parametrize(("overrides", "field"), [case[1:] for case in INVALID_WRITES], ids=INVALID_IDS)
async def test_invalid_put_is_refused_and_changes_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool, overrides: dict[str, Any], field: str
) -> None:
    created = await create_product(client, admin, current_price="25.50")
    before = await product_row(pool, created["id"])
    response = await client.put(
        f"{PRODUCTS}/{created['id']}", json=put_body(created, **overrides), headers=admin.headers
    )
    assert refused(response, field), response.text
    assert await product_row(pool, created["id"]) == before
    assert await count(pool, "price_history") == 1


@pytest.mark.parametrize(("overrides", "field"), [case[1:] for case in INVALID_WRITES], ids=INVALID_IDS)
async def test_invalid_patch_is_refused_and_changes_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool, overrides: dict[str, Any], field: str
) -> None:
    created = await create_product(client, admin, current_price="25.50")
    before = await product_row(pool, created["id"])
    response = await client.patch(f"{PRODUCTS}/{created['id']}", json=overrides, headers=admin.headers)
    assert refused(response, field), response.text
    assert await product_row(pool, created["id"]) == before
    assert await count(pool, "price_history") == 1


@pytest.mark.parametrize("method", ["put", "patch"])
async def test_stock_cannot_be_written_outside_the_stock_endpoint(
    client: Client, admin: Caller, pool: asyncpg.Pool, method: str
) -> None:
    created = await create_product(client, admin, stock=3)
    body = put_body(created, stock=1000) if method == "put" else {"stock": 1000}
    response = await client.request(method.upper(), f"{PRODUCTS}/{created['id']}", json=body, headers=admin.headers)
    assert refused(response, "stock"), response.text
    assert (await product_row(pool, created["id"]))["stock"] == 3


async def test_every_broken_rule_is_listed(client: Client, admin: Caller) -> None:
    response = await client.post(
        PRODUCTS,
        json=product_body(current_price="10.00", min_price="12.00", cost_price="15.00", weight="-1"),
        headers=admin.headers,
    )
    fields = error_of(response, 422, "VALIDATION_FAILED")
    assert sorted(fields) == ["cost_price", "min_price", "weight"]


async def test_equal_prices_are_allowed(client: Client, admin: Caller) -> None:
    product = await create_product(client, admin, current_price="20.00", min_price="20.00", cost_price="20.00")
    assert product["cost_price"] == product["min_price"] == product["current_price"] == "20.00"


async def test_malformed_json_is_a_400(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    headers = {**admin.headers, "Content-Type": "application/json"}
    response = await client.post(PRODUCTS, content=b'{"sku": ', headers=headers)
    error_of(response, 400, "MALFORMED_REQUEST")
    assert await count(pool, "products") == 0


# --- duplicate SKU -------------------------------------------------------------------------------


async def test_duplicate_sku_on_create_is_a_conflict(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    await create_product(client, admin, sku="DUP-1")
    response = await client.post(PRODUCTS, json=product_body(sku="DUP-1"), headers=admin.headers)
    error_of(response, 409, "DUPLICATE_KEY")
    assert await count(pool, "products") == 1
    assert await count(pool, "price_history") == 1


@pytest.mark.parametrize("method", ["put", "patch"])
async def test_duplicate_sku_on_update_is_a_conflict(
    client: Client, admin: Caller, pool: asyncpg.Pool, method: str
) -> None:
    await create_product(client, admin, sku="TAKEN")
    other = await create_product(client, admin, sku="FREE")
    before = await product_row(pool, other["id"])
    body = put_body(other, sku="TAKEN", current_price="24.00") if method == "put" else {"sku": "TAKEN"}
    response = await client.request(method.upper(), f"{PRODUCTS}/{other['id']}", json=body, headers=admin.headers)
    error_of(response, 409, "DUPLICATE_KEY")
    assert await product_row(pool, other["id"]) == before
    assert await count(pool, "price_history") == 2  # the PUT's price change was rolled back too


async def test_keeping_its_own_sku_is_not_a_conflict(client: Client, admin: Caller) -> None:
    created = await create_product(client, admin, sku="MINE")
    response = await client.put(f"{PRODUCTS}/{created['id']}", json=put_body(created), headers=admin.headers)
    assert success_data(response)["sku"] == "MINE"


# --- unknown ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", "put"),
        ("PATCH", "", {"name": "Ghost"}),
        ("DELETE", "", None),
        ("POST", "/stock", {"delta": 1, "reason": "restock"}),
        ("GET", "/price-history", None),
    ],
    ids=["get", "put", "patch", "delete", "stock", "price-history"],
)
async def test_unknown_product_is_404(
    client: Client, admin: Caller, pool: asyncpg.Pool, method: str, suffix: str, body: Any
) -> None:
    if body == "put":
        body = {k: v for k, v in product_body(current_price="25.50").items() if k != "stock"}
    url = f"{PRODUCTS}/{uuid.uuid4()}{suffix}"
    error_of(await client.request(method, url, json=body, headers=admin.headers), 404, "NOT_FOUND")
    assert await count(pool, "stock_movements") == 0


async def test_a_product_id_that_is_not_a_uuid_is_404(client: Client, admin: Caller) -> None:
    error_of(await client.get(f"{PRODUCTS}/not-a-uuid", headers=admin.headers), 404, "NOT_FOUND")
