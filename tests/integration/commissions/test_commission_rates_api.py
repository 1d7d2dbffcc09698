"""Commission rates over HTTP (docs/pricing.md): CRUD, validation, roles, bulk all-or-nothing, config version."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service.commissions import repository
from quote_service.config import Settings
from quote_service.pricing.commission import Tier, commission_amount
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.versions import durable_config_version

Client = AsyncTestClient[Litestar]
RATES = "/api/v1/commission-rates"
BULK = f"{RATES}/bulk"


def rate_body(**overrides: Any) -> dict[str, Any]:
    """A valid 12.5 % EUR rate for category `books`, changed by `overrides`."""
    body: dict[str, Any] = {
        "category_id": "books",
        "commission_type": "PERCENTAGE",
        "rate": "12.5",
        "currency": "EUR",
        "effective_from": "2025-01-01T00:00:00+03:00",
    }
    body.update(overrides)
    return body


async def create_rate(client: Client, admin: Caller, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(RATES, json=rate_body(**overrides), headers=admin.headers), 201)
    return data


async def count_rates(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM commission_rates")
    return count


# --- CRUD ------------------------------------------------------------------------------------------


async def test_create_answers_201_with_the_stored_rate(client: Client, admin: Caller) -> None:
    created = await create_rate(
        client,
        admin,
        seller_id="seller-1",
        region="Istanbul",
        rate=12.5,  # a JSON number is accepted as well as a string
        min_amount="1",
        max_amount=50,
        currency="eur",
        effective_to="2026-01-01T00:00:00Z",
    )

    uuid.UUID(created["id"])
    assert created == {
        "id": created["id"],
        "component": "category",  # derived: a seller's category rate is an override in the category part
        "category_id": "books",
        "seller_id": "seller-1",
        "logistics_provider": None,
        "region": "Istanbul",
        "commission_type": "PERCENTAGE",
        "rate": "12.5",
        "tiers": None,
        "min_amount": "1.00",
        "max_amount": "50.00",
        "currency": "EUR",
        "effective_from": "2024-12-31T21:00:00Z",
        "effective_to": "2026-01-01T00:00:00Z",
        "is_active": True,
        "priority": 0,
        "created_by": "admin",
        "updated_by": "admin",
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
    }
    assert created["created_at"].endswith("Z")


async def test_get_reads_back_what_was_created(client: Client, admin: Caller) -> None:
    created = await create_rate(client, admin)

    assert expect_ok(await client.get(f"{RATES}/{created['id']}", headers=admin.headers)) == created


async def test_tiered_rate_has_tiers_and_no_rate(client: Client, admin: Caller) -> None:
    tiers = [{"up_to": "1000", "rate": 10}, {"up_to": "5000.5", "rate": "7.25"}, {"rate": "5"}]

    created = await create_rate(client, admin, commission_type="TIERED", rate=None, tiers=tiers)

    assert created["rate"] is None
    assert created["tiers"] == [
        {"up_to": "1000.00", "rate": "10"},
        {"up_to": "5000.50", "rate": "7.25"},
        {"up_to": None, "rate": "5"},
    ]


async def test_flat_rate_is_an_amount_in_the_currencys_digits(client: Client, admin: Caller) -> None:
    yen = await create_rate(client, admin, commission_type="FLAT", rate="300", currency="JPY", min_amount=100)
    euro = await create_rate(client, admin, commission_type="FLAT", rate="2.5", logistics_provider="FastShip")

    assert (yen["rate"], yen["min_amount"]) == ("300", "100")
    assert (euro["rate"], euro["logistics_provider"]) == ("2.50", "FastShip")


async def test_put_replaces_every_field(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    created = await create_rate(client, admin, seller_id="seller-1", priority=7, min_amount="2.00")
    body = rate_body(commission_type="FLAT", rate="3.00", region="TR", effective_to="2030-01-01T00:00:00Z")

    updated = expect_ok(await client.put(f"{RATES}/{created['id']}", json=body, headers=admin.headers))

    assert updated["id"] == created["id"]
    assert (updated["commission_type"], updated["rate"], updated["region"]) == ("FLAT", "3.00", "TR")
    assert updated["effective_to"] == "2030-01-01T00:00:00Z"
    # Fields left out of a PUT take their defaults.
    assert (updated["seller_id"], updated["priority"], updated["min_amount"]) == (None, 0, None)
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] >= created["updated_at"]
    assert expect_ok(await client.get(f"{RATES}/{created['id']}", headers=admin.headers)) == updated
    assert await count_rates(pool) == 1


async def test_delete_deactivates_and_the_rate_stays_readable(client: Client, admin: Caller) -> None:
    created = await create_rate(client, admin)

    deleted = expect_ok(await client.delete(f"{RATES}/{created['id']}", headers=admin.headers))
    again = expect_ok(await client.delete(f"{RATES}/{created['id']}", headers=admin.headers))

    assert deleted["is_active"] is False
    assert again == deleted
    assert expect_ok(await client.get(f"{RATES}/{created['id']}", headers=admin.headers)) == deleted


async def test_put_can_reactivate(client: Client, admin: Caller) -> None:
    created = await create_rate(client, admin)
    expect_ok(await client.delete(f"{RATES}/{created['id']}", headers=admin.headers))

    revived = expect_ok(await client.put(f"{RATES}/{created['id']}", json=rate_body(), headers=admin.headers))

    assert revived["is_active"] is True


@pytest.mark.parametrize("method", ["get", "put", "delete"])
async def test_unknown_rate_is_404(client: Client, admin: Caller, method: str) -> None:
    path = f"{RATES}/{uuid.uuid4()}"
    kwargs: dict[str, Any] = {"json": rate_body()} if method == "put" else {}

    expect_error(await getattr(client, method)(path, headers=admin.headers, **kwargs), 404, "NOT_FOUND")


async def test_a_rate_id_that_is_not_a_uuid_is_404(client: Client, admin: Caller) -> None:
    expect_error(await client.get(f"{RATES}/not-a-uuid", headers=admin.headers), 404, "NOT_FOUND")


# --- Listing ---------------------------------------------------------------------------------------


async def test_list_filters(client: Client, admin: Caller) -> None:
    books = await create_rate(client, admin)
    seller = await create_rate(client, admin, category_id=None, seller_id="seller-9", region="Istanbul")
    shipping = await create_rate(client, admin, category_id=None, logistics_provider="FastShip", region="TR")
    retired = await create_rate(client, admin, category_id="toys")
    expect_ok(await client.delete(f"{RATES}/{retired['id']}", headers=admin.headers))

    async def ids(query: str) -> list[str]:
        page = expect_ok(await client.get(f"{RATES}?{query}", headers=admin.headers))
        return [item["id"] for item in page["items"]]

    assert await ids("") == [books["id"], seller["id"], shipping["id"], retired["id"]]
    assert await ids("category_id=books") == [books["id"]]
    assert await ids("seller_id=seller-9") == [seller["id"]]
    assert await ids("logistics_provider=fastship") == [shipping["id"]]
    assert await ids("region=istanbul") == [seller["id"]]
    assert await ids("is_active=false") == [retired["id"]]
    assert await ids("is_active=true&category_id=toys") == []


async def test_list_pages_cover_every_rate_once_in_order(client: Client, admin: Caller) -> None:
    created = [(await create_rate(client, admin, priority=i))["id"] for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = f"limit=2&cursor={cursor}" if cursor else "limit=2"
        page = expect_ok(await client.get(f"{RATES}?{query}", headers=admin.headers))
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == created
    assert pages == 3


@pytest.mark.parametrize(
    ("query", "field"), [("limit=0", "limit"), ("limit=501", "limit"), ("is_active=maybe", "is_active")]
)
async def test_list_refuses_bad_parameters(client: Client, admin: Caller, query: str, field: str) -> None:
    body = expect_error(await client.get(f"{RATES}?{query}", headers=admin.headers), 422, "VALIDATION_FAILED")

    assert field in field_errors(body)


async def test_list_refuses_a_foreign_cursor(client: Client, admin: Caller) -> None:
    body = expect_error(await client.get(f"{RATES}?cursor=garbage", headers=admin.headers), 422, "VALIDATION_FAILED")

    assert "cursor" in field_errors(body)


# --- Validation ----------------------------------------------------------------------------------

INVALID = [
    ({"rate": "100.01"}, {"rate"}),
    ({"rate": "-1"}, {"rate"}),
    ({"rate": "NaN"}, {"rate"}),
    ({"rate": "Infinity"}, {"rate"}),
    ({"rate": "1.00001"}, {"rate"}),
    ({"rate": None}, {"rate"}),
    ({"commission_type": "FLAT", "rate": "-0.01"}, {"rate"}),
    ({"commission_type": "FLAT", "rate": "1.001"}, {"rate"}),
    ({"commission_type": "FLAT", "rate": "1.5", "currency": "JPY"}, {"rate"}),
    ({"commission_type": "BONUS"}, {"commission_type"}),
    ({"currency": "XXX"}, {"currency"}),
    ({"currency": "EURO"}, {"currency"}),
    ({"min_amount": "5.00", "max_amount": "4.99"}, {"min_amount"}),
    ({"min_amount": "-1"}, {"min_amount"}),
    ({"max_amount": "0.001"}, {"max_amount"}),
    ({"effective_to": "2025-01-01T00:00:00+03:00"}, {"effective_to"}),
    ({"effective_to": "2024-12-31T00:00:00Z"}, {"effective_to"}),
    ({"effective_from": "2025-01-01T00:00:00"}, {"effective_from"}),  # no offset
    ({"category_id": ""}, {"category_id"}),
    ({"seller_id": "s" * 65}, {"seller_id"}),
    ({"logistics_provider": ""}, {"logistics_provider"}),
    ({"region": "   "}, {"region"}),
    ({"priority": 1.5}, {"priority"}),
    ({"is_active": "maybe"}, {"is_active"}),
    ({"tiers": [{"up_to": None, "rate": 5}]}, {"tiers"}),
    ({"commission_type": "TIERED"}, {"rate", "tiers"}),
    ({"commission_type": "TIERED", "rate": None, "tiers": []}, {"tiers"}),
    (
        {"commission_type": "TIERED", "rate": None, "tiers": [{"up_to": "100", "rate": 5}, {"up_to": "50", "rate": 4}]},
        {"tiers[1].up_to"},  # not ascending, and the last is not open
    ),
    (
        {"commission_type": "TIERED", "rate": None, "tiers": [{"up_to": None, "rate": 5}, {"rate": 4}]},
        {"tiers[0].up_to"},  # only the last may be open
    ),
    (
        {"commission_type": "TIERED", "rate": None, "tiers": [{"up_to": "0", "rate": 101}, {"rate": -1}]},
        {"tiers[0].up_to", "tiers[0].rate", "tiers[1].rate"},
    ),
    ({"unexpected": 1}, {"unexpected"}),
]


@pytest.mark.parametrize(("overrides", "fields"), INVALID)
async def test_invalid_create_is_422_naming_the_fields_and_stores_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool, overrides: dict[str, Any], fields: set[str]
) -> None:
    body = expect_error(
        await client.post(RATES, json=rate_body(**overrides), headers=admin.headers), 422, "VALIDATION_FAILED"
    )

    assert set(field_errors(body)) == fields
    assert await count_rates(pool) == 0


async def test_every_broken_rule_is_listed_at_once(client: Client, admin: Caller) -> None:
    bad = rate_body(
        rate="150",
        currency="ZZZ",
        min_amount="9",
        max_amount="1",
        effective_to="2020-01-01T00:00:00Z",
        region=" ",
    )

    body = expect_error(await client.post(RATES, json=bad, headers=admin.headers), 422, "VALIDATION_FAILED")

    assert set(field_errors(body)) == {"rate", "currency", "min_amount", "effective_to", "region"}


async def test_invalid_put_changes_nothing(client: Client, admin: Caller) -> None:
    created = await create_rate(client, admin)

    response = await client.put(f"{RATES}/{created['id']}", json=rate_body(rate="101"), headers=admin.headers)

    assert set(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == {"rate"}
    assert expect_ok(await client.get(f"{RATES}/{created['id']}", headers=admin.headers)) == created


# --- Roles ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["shopper", "service"])
async def test_only_admins_read_or_write_rates(
    client: Client,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    pool: asyncpg.Pool,
    who: str,
) -> None:
    existing = await create_rate(client, admin)
    headers = shopper.headers if who == "shopper" else service_key
    one = f"{RATES}/{existing['id']}"

    for response in [
        await client.post(RATES, json=rate_body(), headers=headers),
        await client.get(RATES, headers=headers),
        await client.get(one, headers=headers),
        await client.put(one, json=rate_body(rate="1"), headers=headers),
        await client.delete(one, headers=headers),
        await client.put(BULK, json={"items": [rate_body()]}, headers=headers),
    ]:
        expect_error(response, 403, "FORBIDDEN")

    assert await count_rates(pool) == 1
    assert expect_ok(await client.get(one, headers=admin.headers)) == existing


async def test_rates_need_credentials(client: Client) -> None:
    expect_error(await client.get(RATES), 401, "UNAUTHORIZED")


# --- Bulk ----------------------------------------------------------------------------------------


async def test_bulk_creates_and_replaces_in_one_go(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    kept = await create_rate(client, admin, category_id="garden")
    changed = await create_rate(client, admin)
    items = [
        rate_body(category_id="toys", rate="8"),
        {"id": changed["id"], **rate_body(rate="9.75", priority=3)},
        rate_body(commission_type="TIERED", rate=None, tiers=[{"up_to": "100", "rate": 10}, {"rate": 5}]),
    ]

    result = expect_ok(await client.put(BULK, json={"items": items}, headers=admin.headers))

    assert (result["created"], result["updated"]) == (2, 1)
    toys, updated, tiered = result["items"]
    assert (toys["category_id"], toys["rate"]) == ("toys", "8")
    assert updated["id"] == changed["id"]
    assert (updated["rate"], updated["priority"]) == ("9.75", 3)
    assert tiered["tiers"] == [{"up_to": "100.00", "rate": "10"}, {"up_to": None, "rate": "5"}]
    listed = expect_ok(await client.get(RATES, headers=admin.headers))["items"]
    assert {item["id"] for item in listed} == {kept["id"], changed["id"], toys["id"], tiered["id"]}
    assert next(item for item in listed if item["id"] == kept["id"]) == kept
    assert await count_rates(pool) == 4


async def test_bulk_with_bad_entries_names_each_by_index_and_writes_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    existing = await create_rate(client, admin)
    unknown = str(uuid.uuid4())
    items = [
        rate_body(category_id="toys"),  # fine
        {"id": existing["id"], **rate_body(rate="5")},  # fine
        rate_body(rate="101"),
        {"id": unknown, **rate_body()},
        rate_body(priority="high"),
        rate_body(commission_type="TIERED", rate=None, tiers=[{"up_to": "10", "rate": 1}, {"up_to": "5", "rate": 1}]),
        rate_body(surprise=True),
        42,
        {"id": existing["id"], **rate_body(rate="6")},  # the same rate twice
        # docs/markets.md: a FLAT rate is an amount, it needs a currency (a percentage does not)
        {key: value for key, value in rate_body(commission_type="FLAT", rate="2").items() if key != "currency"},
    ]

    response = await client.put(BULK, json={"items": items}, headers=admin.headers)

    errors = field_errors(expect_error(response, 422, "VALIDATION_FAILED"))
    assert set(errors) == {
        "items[2].rate",
        "items[3].id",
        "items[4].priority",
        "items[5].tiers[1].up_to",
        "items[6].surprise",
        "items[7]",
        "items[8].id",
        "items[9].currency",
    }
    assert unknown in errors["items[3].id"]
    assert errors["items[6].surprise"] == "unknown field"
    assert errors["items[9].currency"].startswith("required: FLAT rates are amounts")
    listed = expect_ok(await client.get(RATES, headers=admin.headers))["items"]
    assert listed == [existing]
    assert await count_rates(pool) == 1


async def test_bulk_errors_are_listed_in_entry_order(client: Client, admin: Caller) -> None:
    items = [{"id": str(uuid.uuid4()), **rate_body()}, rate_body(rate="-5")]

    body = expect_error(await client.put(BULK, json={"items": items}, headers=admin.headers), 422, "VALIDATION_FAILED")

    assert [detail["field"] for detail in body["error"]["details"]] == ["items[0].id", "items[1].rate"]


@pytest.mark.parametrize("payload", [{"items": []}, {}, {"items": "all"}])
async def test_bulk_needs_a_list_of_entries(client: Client, admin: Caller, payload: dict[str, Any]) -> None:
    body = expect_error(await client.put(BULK, json=payload, headers=admin.headers), 422, "VALIDATION_FAILED")

    assert field_errors(body)


async def test_bulk_route_does_not_clash_with_rate_ids(client: Client, admin: Caller) -> None:
    created = await create_rate(client, admin)

    expect_ok(
        await client.put(BULK, json={"items": [{"id": created["id"], **rate_body(rate="1")}]}, headers=admin.headers)
    )
    updated = expect_ok(await client.put(f"{RATES}/{created['id']}", json=rate_body(rate="2"), headers=admin.headers))

    assert updated["rate"] == "2"


# --- What the snapshot loads ----------------------------------------------------------------------


async def test_load_active_holds_current_and_future_rates_only(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    current = await create_rate(client, admin, effective_to="2999-01-01T00:00:00Z")
    future = await create_rate(client, admin, effective_from="2999-01-01T00:00:00Z")
    tiered = await create_rate(
        client, admin, commission_type="TIERED", rate=None, tiers=[{"up_to": "1000", "rate": 10}, {"rate": 5}]
    )
    await create_rate(client, admin, effective_to="2025-01-02T00:00:00Z")  # expired
    retired = await create_rate(client, admin)
    expect_ok(await client.delete(f"{RATES}/{retired['id']}", headers=admin.headers))

    async with pool.acquire() as conn:
        loaded = await repository.load_active(conn)

    assert [str(r.id) for r in loaded] == [current["id"], future["id"], tiered["id"]]
    model = loaded[2]
    assert model.tiers == (Tier(up_to=Decimal("1000.00"), rate=Decimal(10)), Tier(up_to=None, rate=Decimal(5)))
    assert (model.rate, model.currency, model.category_id) == (None, "EUR", "books")
    assert commission_amount(model, base=Decimal("1200.00"), quantity=1, currency="EUR") == Decimal("110.00")
    assert loaded[0].rate == Decimal("12.5")


# --- Configuration version -------------------------------------------------------------------------


async def test_every_write_bumps_the_config_version_and_refusals_do_not(
    client: Client, admin: Caller, settings: Settings
) -> None:
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)

    async def version() -> int:
        return await durable_config_version(settings)

    try:
        start = await version()
        created = await create_rate(client, admin)
        assert await version() == start + 1
        one = f"{RATES}/{created['id']}"
        expect_ok(await client.put(one, json=rate_body(rate="3"), headers=admin.headers))
        assert await version() == start + 2
        expect_ok(await client.put(BULK, json={"items": [rate_body()]}, headers=admin.headers))
        assert await version() == start + 3
        expect_ok(await client.delete(one, headers=admin.headers))
        assert await version() == start + 4

        expect_error(
            await client.post(RATES, json=rate_body(rate="-1"), headers=admin.headers), 422, "VALIDATION_FAILED"
        )
        expect_error(
            await client.put(BULK, json={"items": [rate_body(rate="-1")]}, headers=admin.headers),
            422,
            "VALIDATION_FAILED",
        )
        expect_error(await client.delete(f"{RATES}/{uuid.uuid4()}", headers=admin.headers), 404, "NOT_FOUND")
        expect_ok(await client.get(RATES, headers=admin.headers))
        assert await version() == start + 4
    finally:
        await redis.aclose()
