"""Versioned pricing rules over HTTP: versions, retirement, validation, roles.

The concurrent writes race at a real server process (one per test): the in-process test
client answers one request at a time, so through it nothing would race.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service.config import Settings
from quote_service.rules import repository
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.servers import RaceServer
from tests.integration.versions import durable_config_version

Client = AsyncTestClient[Litestar]
RULES = "/api/v1/pricing-rules"
VERSIONS = f"{RULES}/versions"
START = "2025-01-01T00:00:00+03:00"


def rule_body(**overrides: Any) -> dict[str, Any]:
    """A valid DELIVERY_FEE rule for Istanbul, changed by `overrides`."""
    body: dict[str, Any] = {
        "name": f"delivery-{uuid.uuid4().hex[:8]}",
        "type": "DELIVERY_FEE",
        "configuration": {"base_fee": "12.50", "per_km": 1.5, "max_fee": "40"},
        "region": "Istanbul",
        "priority": 5,
        "effective_from": START,
    }
    body.update(overrides)
    return body


def put_body(**overrides: Any) -> dict[str, Any]:
    body = rule_body(**overrides)
    if "name" not in overrides:
        del body["name"]
    return body


async def create(client: Client, admin: Caller, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(RULES, json=rule_body(**overrides), headers=admin.headers), 201)
    return data


async def versions_of(client: Client, admin: Caller, name: str) -> list[int]:
    data = expect_ok(await client.get(VERSIONS, params={"name": name}, headers=admin.headers))
    return [item["version"] for item in data["items"]]


# --- create and read ----------------------------------------------------------------------------


async def test_create_makes_version_1_with_exact_amounts_and_audit(client: Client, admin: Caller) -> None:
    rule = await create(client, admin, name="delivery-istanbul")

    assert rule["version"] == 1
    assert rule["name"] == "delivery-istanbul"
    assert rule["type"] == "DELIVERY_FEE"
    # amounts are strings; a JSON number comes back as the same decimal, never a float artefact
    assert rule["configuration"] == {"base_fee": "12.50", "per_km": "1.5", "max_fee": "40"}
    assert rule["region"] == "Istanbul"
    assert rule["priority"] == 5
    assert rule["exclusive"] is False
    assert rule["is_active"] is True
    assert rule["product_id"] is None
    assert rule["category_id"] is None
    assert rule["effective_from"] == "2024-12-31T21:00:00Z"  # UTC out
    assert rule["effective_to"] is None
    assert rule["created_by"] == "admin"
    assert rule["retired_at"] is None
    uuid.UUID(rule["id"])

    fetched = expect_ok(await client.get(f"{RULES}/{rule['id']}", headers=admin.headers))
    assert fetched == rule


@pytest.mark.parametrize(
    ("rule_type", "configuration", "extra"),
    [
        ("DELIVERY_FEE", {"base_fee": 10, "distance_bands": [{"max_km": 5, "fee": 8}, {"max_km": 10, "fee": 12}]}, {}),
        ("EXPRESS_FEE", {"multiplier": "2.0", "distance_factor": "0.75", "max_fee": "60"}, {}),
        ("SMALL_BASKET", {"threshold": "50.00", "fee": "5.00"}, {}),
        ("FREE_DELIVERY", {"min_subtotal": "200"}, {}),
        ("REGIONAL_FEE", {"amount": "4.90"}, {"region": "TR"}),
        ("TAX_RATE", {"rate": "8"}, {"category_id": "books"}),
        (
            "TIME_WINDOW",
            {"adjust_percent": -10, "start_time": "22:00", "end_time": "02:00", "days_of_week": [5, 6]},
            {},
        ),
        (
            "TIME_WINDOW",
            {
                "adjust_percent": -10,
                "start_time": "00:00",
                "end_time": "24:00",
                "days_of_week": [6, 7],
                "timezone": "Europe/Istanbul",
            },
            {},
        ),
        ("QUANTITY_TIER", {"tiers": [{"min_quantity": 10, "adjust_percent": -5}]}, {"exclusive": True}),
        ("USER_TIER", {"tiers": {"gold": -10, "silver": "-5"}}, {"product_id": str(uuid.uuid4())}),
        (
            "INVENTORY_LEVEL",
            {
                "low_threshold": 5,
                "low_adjust_percent": 10,
                "high_threshold": 500,
                "high_adjust_percent": -10,
                "cooldown_hours": 24,
            },
            {"category_id": "shoes"},
        ),
    ],
)
async def test_every_rule_type_is_accepted(
    client: Client, admin: Caller, rule_type: str, configuration: dict[str, Any], extra: dict[str, Any]
) -> None:
    body = rule_body(type=rule_type, configuration=configuration, **{"region": None, **extra})

    rule = expect_ok(await client.post(RULES, json=body, headers=admin.headers), 201)

    assert rule["type"] == rule_type
    assert set(rule["configuration"]) == set(configuration)


async def test_post_of_a_live_name_is_a_duplicate(client: Client, admin: Caller) -> None:
    await create(client, admin, name="tax-books")

    response = await client.post(RULES, json=rule_body(name="tax-books"), headers=admin.headers)

    expect_error(response, 409, "DUPLICATE_KEY")
    assert await versions_of(client, admin, "tax-books") == [1]


async def test_unknown_ids_and_names_are_404(client: Client, admin: Caller) -> None:
    missing = uuid.uuid4()
    expect_error(await client.get(f"{RULES}/{missing}", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.put(f"{RULES}/{missing}", json=put_body(), headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.delete(f"{RULES}/{missing}", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.get(VERSIONS, params={"name": "nope"}, headers=admin.headers), 404, "NOT_FOUND")


# --- versions -----------------------------------------------------------------------------------


async def test_put_makes_new_immutable_versions(client: Client, admin: Caller) -> None:
    v1 = await create(client, admin, name="delivery")
    v2 = expect_ok(
        await client.put(
            f"{RULES}/{v1['id']}", json=put_body(configuration={"base_fee": "15.00"}), headers=admin.headers
        )
    )
    # a PUT through an OLD version's id still makes the name's next version
    v3 = expect_ok(
        await client.put(
            f"{RULES}/{v1['id']}",
            json=put_body(name="delivery", configuration={"base_fee": "17.00"}, priority=9),
            headers=admin.headers,
        )
    )

    assert (v2["version"], v3["version"]) == (2, 3)
    assert len({v1["id"], v2["id"], v3["id"]}) == 3
    assert v2["name"] == v3["name"] == "delivery"
    assert v3["priority"] == 9
    assert v3["configuration"] == {"base_fee": "17.00"}
    # earlier versions are unchanged and still readable by id
    assert expect_ok(await client.get(f"{RULES}/{v1['id']}", headers=admin.headers)) == v1
    assert expect_ok(await client.get(f"{RULES}/{v2['id']}", headers=admin.headers)) == v2
    assert await versions_of(client, admin, "delivery") == [3, 2, 1]
    listed = expect_ok(await client.get(RULES, headers=admin.headers))["items"]
    assert [(r["name"], r["version"]) for r in listed] == [("delivery", 3)]


async def test_versions_are_paginated_newest_first(client: Client, admin: Caller) -> None:
    rule = await create(client, admin, name="paged")
    for _ in range(4):
        expect_ok(await client.put(f"{RULES}/{rule['id']}", json=put_body(), headers=admin.headers))

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"name": "paged", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = expect_ok(await client.get(VERSIONS, params=params, headers=admin.headers))
        seen += [item["version"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [5, 4, 3, 2, 1]


async def test_expected_version_must_be_the_latest(client: Client, admin: Caller) -> None:
    rule = await create(client, admin)
    url = f"{RULES}/{rule['id']}"
    expect_ok(await client.put(url, json=put_body(expected_version=1), headers=admin.headers))

    stale = await client.put(url, json=put_body(expected_version=1), headers=admin.headers)

    expect_error(stale, 409, "VERSION_CONFLICT")
    assert await versions_of(client, admin, rule["name"]) == [2, 1]
    assert expect_ok(await client.put(url, json=put_body(expected_version=2), headers=admin.headers))["version"] == 3


async def test_concurrent_puts_get_consecutive_versions(client: Client, server: RaceServer, admin: Caller) -> None:
    rule = await create(client, admin)
    url = f"{RULES}/{rule['id']}"

    responses = await server.race(8, lambda http, i: http.put(url, json=put_body(priority=i), headers=admin.headers))

    assert [r.status_code for r in responses] == [200] * 8
    assert sorted(r.json()["data"]["version"] for r in responses) == list(range(2, 10))
    assert await versions_of(client, admin, rule["name"]) == list(range(9, 0, -1))


async def test_concurrent_puts_on_one_expected_version_let_exactly_one_win(
    client: Client, server: RaceServer, admin: Caller
) -> None:
    rule = await create(client, admin)
    url = f"{RULES}/{rule['id']}"
    body = put_body(expected_version=1)

    responses = await server.race(6, lambda http, _: http.put(url, json=body, headers=admin.headers))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 5
    for response in responses:
        if response.status_code == 409:
            expect_error(response, 409, "VERSION_CONFLICT")
    assert await versions_of(client, admin, rule["name"]) == [2, 1]


async def test_concurrent_posts_of_one_name_create_it_once(client: Client, server: RaceServer, admin: Caller) -> None:
    body = rule_body(name="raced")

    responses = await server.race(5, lambda http, _: http.post(RULES, json=body, headers=admin.headers))

    assert sorted(r.status_code for r in responses) == [201] + [409] * 4
    for response in responses:
        if response.status_code == 409:
            expect_error(response, 409, "DUPLICATE_KEY")
    assert await versions_of(client, admin, "raced") == [1]


async def test_put_keeps_the_name_and_the_type(client: Client, admin: Caller) -> None:
    rule = await create(client, admin)
    url = f"{RULES}/{rule['id']}"

    renamed = await client.put(url, json=put_body(name="other"), headers=admin.headers)
    retyped = await client.put(
        url, json=put_body(type="SMALL_BASKET", configuration={"threshold": 50, "fee": 5}), headers=admin.headers
    )

    assert field_errors(expect_error(renamed, 422, "VALIDATION_FAILED")).keys() == {"name"}
    assert field_errors(expect_error(retyped, 422, "VALIDATION_FAILED")).keys() == {"type"}
    assert await versions_of(client, admin, rule["name"]) == [1]


# --- retirement ---------------------------------------------------------------------------------


async def test_delete_retires_every_version_of_the_name(client: Client, admin: Caller) -> None:
    v1 = await create(client, admin, name="retired-rule")
    v2 = expect_ok(await client.put(f"{RULES}/{v1['id']}", json=put_body(), headers=admin.headers))
    kept = await create(client, admin, name="kept-rule")

    retired = expect_ok(await client.delete(f"{RULES}/{v1['id']}", headers=admin.headers))

    assert retired["id"] == v1["id"]
    assert retired["retired_at"] is not None
    history = expect_ok(await client.get(VERSIONS, params={"name": "retired-rule"}, headers=admin.headers))["items"]
    assert [(v["version"], v["retired_at"] is not None) for v in history] == [(2, True), (1, True)]
    assert history[0]["configuration"] == v2["configuration"]  # history kept
    listed = expect_ok(await client.get(RULES, headers=admin.headers))["items"]
    assert [r["name"] for r in listed] == ["kept-rule"]
    everything = expect_ok(await client.get(RULES, params={"include_retired": "true"}, headers=admin.headers))
    assert [(r["name"], r["version"]) for r in everything["items"]] == [("kept-rule", 1), ("retired-rule", 2)]
    assert kept["retired_at"] is None
    # a retired name takes no new versions through PUT; DELETE again is harmless
    expect_error(await client.put(f"{RULES}/{v2['id']}", json=put_body(), headers=admin.headers), 409, "RULE_RETIRED")
    again = expect_ok(await client.delete(f"{RULES}/{v2['id']}", headers=admin.headers))
    assert again["retired_at"] == history[0]["retired_at"]


async def test_post_reinstates_a_retired_name_at_its_next_version(client: Client, admin: Caller) -> None:
    v1 = await create(client, admin, name="comeback")
    expect_ok(await client.delete(f"{RULES}/{v1['id']}", headers=admin.headers))

    revived = await create(
        client, admin, name="comeback", type="SMALL_BASKET", region=None, configuration={"threshold": "30", "fee": "3"}
    )

    assert revived["version"] == 2
    assert revived["retired_at"] is None
    history = expect_ok(await client.get(VERSIONS, params={"name": "comeback"}, headers=admin.headers))["items"]
    assert [(v["version"], v["retired_at"] is None) for v in history] == [(2, True), (1, False)]
    expect_ok(
        await client.put(
            f"{RULES}/{v1['id']}",
            json=put_body(type="SMALL_BASKET", region=None, configuration={"threshold": "30", "fee": "4"}),
            headers=admin.headers,
        )
    )
    assert await versions_of(client, admin, "comeback") == [3, 2, 1]


# --- list ---------------------------------------------------------------------------------------


async def test_list_filters_on_the_latest_version(client: Client, admin: Caller) -> None:
    product = str(uuid.uuid4())
    await create(client, admin, name="a-delivery", region="istanbul")
    await create(
        client, admin, name="b-tax", type="TAX_RATE", configuration={"rate": 8}, category_id="books", region=None
    )
    tier = await create(
        client,
        admin,
        name="c-tier",
        type="USER_TIER",
        configuration={"tiers": {"gold": -10}},
        product_id=product,
        region="TR",
    )
    moved = await create(client, admin, name="d-moved", region="Ankara")
    expect_ok(await client.put(f"{RULES}/{moved['id']}", json=put_body(region="Istanbul"), headers=admin.headers))

    async def names(**params: Any) -> list[str]:
        data = expect_ok(await client.get(RULES, params=params, headers=admin.headers))
        return [item["name"] for item in data["items"]]

    assert await names() == ["a-delivery", "b-tax", "c-tier", "d-moved"]
    assert await names(type="TAX_RATE") == ["b-tax"]
    assert await names(region="ISTANBUL") == ["a-delivery", "d-moved"]
    assert await names(region="Ankara") == []  # only the latest version counts
    assert await names(product_id=product) == [tier["name"]]
    assert await names(category_id="books") == ["b-tax"]
    expect_error(await client.get(RULES, params={"type": "BOGUS"}, headers=admin.headers), 422, "VALIDATION_FAILED")


async def test_list_is_keyset_paginated_by_name(client: Client, admin: Caller) -> None:
    for i in range(5):
        await create(client, admin, name=f"rule-{i}")

    first = expect_ok(await client.get(RULES, params={"limit": 3}, headers=admin.headers))
    second = expect_ok(
        await client.get(RULES, params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin.headers)
    )

    assert [r["name"] for r in first["items"]] == ["rule-0", "rule-1", "rule-2"]
    assert [r["name"] for r in second["items"]] == ["rule-3", "rule-4"]
    assert second["next_cursor"] is None
    for params in ({"region": "a\u0000"}, {"category_id": "\u0000"}):
        nul = await client.get(RULES, params=params, headers=admin.headers)
        assert set(field_errors(expect_error(nul, 422, "VALIDATION_FAILED"))) == set(params)
    nul = await client.get(VERSIONS, params={"name": "a\u0000"}, headers=admin.headers)
    assert set(field_errors(expect_error(nul, 422, "VALIDATION_FAILED"))) == {"name"}
    bad = await client.get(RULES, params={"cursor": "not-a-cursor"}, headers=admin.headers)
    assert field_errors(expect_error(bad, 422, "VALIDATION_FAILED")).keys() == {"cursor"}


# --- validation ---------------------------------------------------------------------------------


async def test_configuration_errors_name_every_bad_field(client: Client, admin: Caller) -> None:
    body = rule_body(
        configuration={
            "base_fee": "-1",
            "per_km": "abc",
            "distance_bands": [{"max_km": 10, "fee": 5}, {"max_km": 5, "fee": 5, "color": "red"}],
            "surprise": True,
        }
    )

    errors = field_errors(
        expect_error(await client.post(RULES, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    )

    assert set(errors) == {
        "configuration.base_fee",
        "configuration.per_km",
        "configuration.distance_bands[1].color",
        "configuration.surprise",
    }
    assert errors["configuration.surprise"] == "unknown field"
    assert expect_ok(await client.get(RULES, headers=admin.headers))["items"] == []


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"configuration": {"base_fee": "-1"}}, {"configuration.base_fee"}),
        ({"configuration": {"base_fee": "NaN"}}, {"configuration.base_fee"}),
        ({"configuration": {"base_fee": "Infinity"}}, {"configuration.base_fee"}),
        ({"configuration": {}}, {"configuration.base_fee"}),
        ({"configuration": {"base_fee": True}}, {"configuration.base_fee"}),
        ({"configuration": {"base_fee": 5, "type": "TAX_RATE"}}, {"configuration.type"}),
        ({"configuration": {"base_fee": 10, "max_fee": 5}}, {"configuration.max_fee"}),
        ({"type": "TAX_RATE", "configuration": {"rate": 101}, "region": None}, {"configuration.rate"}),
        ({"type": "NO_SUCH_TYPE"}, {"type"}),
        (
            {
                "type": "TIME_WINDOW",
                "configuration": {"adjust_percent": -100, "start_time": "25:00", "end_time": "1:00"},
            },
            {"configuration.adjust_percent", "configuration.start_time", "configuration.end_time"},
        ),
        (
            {
                "type": "TIME_WINDOW",
                "configuration": {
                    "adjust_percent": 5,
                    "start_time": "08:00",
                    "end_time": "10:00",
                    "days_of_week": [0, 3, 3],
                },
            },
            {"configuration.days_of_week[0]"},
        ),
        (
            {
                "type": "TIME_WINDOW",
                "configuration": {
                    "adjust_percent": 5,
                    "start_time": "08:00",
                    "end_time": "10:00",
                    "timezone": "Europe/Istambul",
                },
            },
            {"configuration.timezone"},
        ),
        (  # docs/http.md: `localtime` is the machine's own zone, no region
            {
                "type": "TIME_WINDOW",
                "configuration": {
                    "adjust_percent": 5,
                    "start_time": "08:00",
                    "end_time": "10:00",
                    "timezone": "localtime",
                },
            },
            {"configuration.timezone"},
        ),
        (  # docs/http.md: an empty window
            {"type": "TIME_WINDOW", "configuration": {"adjust_percent": 5, "start_time": "08:00", "end_time": "08:00"}},
            {"configuration.start_time", "configuration.end_time"},
        ),
        (
            {
                "type": "QUANTITY_TIER",
                "configuration": {
                    "tiers": [{"min_quantity": 0, "adjust_percent": 1}, {"min_quantity": "x", "adjust_percent": 1}]
                },
            },
            {"configuration.tiers[0].min_quantity", "configuration.tiers[1].min_quantity"},
        ),
        (
            {"type": "USER_TIER", "configuration": {"tiers": {"gold": "much", "silver": -150}}},
            {"configuration.tiers.gold", "configuration.tiers.silver"},
        ),
        (
            {"type": "USER_TIER", "configuration": {"tiers": {"gold": -10, "silver": -150}}},
            {"configuration.tiers.silver"},
        ),
        (
            {
                "type": "INVENTORY_LEVEL",
                "region": None,
                "configuration": {
                    "low_threshold": 50,
                    "low_adjust_percent": 5,
                    "high_threshold": 10,
                    "high_adjust_percent": -5,
                    "cooldown_hours": 1.5,
                },
            },
            {"configuration.cooldown_hours"},
        ),
        (
            {
                "type": "INVENTORY_LEVEL",
                "region": None,
                "configuration": {
                    "low_threshold": 50,
                    "low_adjust_percent": 5,
                    "high_threshold": 10,
                    "high_adjust_percent": -5,
                    "cooldown_hours": 1,
                },
            },
            {"configuration.low_threshold"},
        ),
        ({"effective_to": "2024-12-31T00:00:00Z"}, {"effective_to"}),
        ({"effective_from": "2025-01-01T00:00:00"}, {"effective_from"}),
        ({"effective_from": "0001-01-01T00:00:00+05:00"}, {"effective_from"}),
        ({"effective_to": "9999-12-31T23:59:59-05:00"}, {"effective_to"}),
        ({"product_id": str(uuid.uuid4()), "exclusive": True}, {"product_id", "exclusive"}),
        ({"type": "REGIONAL_FEE", "configuration": {"amount": 3}, "region": None}, {"region"}),
        ({"name": ""}, {"name"}),
        ({"name": " padded"}, {"name"}),
        ({"name": "a\u0000b", "region": "x\u0000"}, {"name", "region"}),
        ({"type": "USER_TIER", "configuration": {"tiers": {"go\u0000ld": 5}}}, {"configuration.tiers"}),
        ({"colour": "red"}, {"colour"}),
    ],
)
async def test_invalid_rules_are_422_on_the_field(
    client: Client, admin: Caller, overrides: dict[str, Any], fields: set[str]
) -> None:
    response = await client.post(RULES, json=rule_body(**overrides), headers=admin.headers)

    assert set(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == fields


async def test_put_validates_like_post(client: Client, admin: Caller) -> None:
    rule = await create(client, admin)

    response = await client.put(
        f"{RULES}/{rule['id']}", json=put_body(configuration={"base_fee": "x", "extra": 1}), headers=admin.headers
    )

    assert set(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == {
        "configuration.base_fee",
        "configuration.extra",
    }
    assert await versions_of(client, admin, rule["name"]) == [1]


# --- roles, snapshot bump, load_active ----------------------------------------------------------


async def test_only_admins_touch_pricing_rules(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    rule = await create(client, admin)
    url = f"{RULES}/{rule['id']}"
    for headers in (shopper.headers, service_key):
        expect_error(await client.post(RULES, json=rule_body(), headers=headers), 403, "FORBIDDEN")
        expect_error(await client.put(url, json=put_body(), headers=headers), 403, "FORBIDDEN")
        expect_error(await client.delete(url, headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(RULES, headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(url, headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(VERSIONS, params={"name": rule["name"]}, headers=headers), 403, "FORBIDDEN")
    assert await versions_of(client, admin, rule["name"]) == [1]


async def test_every_write_bumps_the_configuration_version(client: Client, admin: Caller, settings: Settings) -> None:
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)
    try:
        before = await durable_config_version(settings)
        rule = await create(client, admin)
        expect_ok(await client.put(f"{RULES}/{rule['id']}", json=put_body(), headers=admin.headers))
        expect_ok(await client.delete(f"{RULES}/{rule['id']}", headers=admin.headers))
        after = await durable_config_version(settings)
    finally:
        await redis.aclose()

    assert after - before == 3


async def test_load_active_holds_what_can_apply_now_or_later(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)

    def at(delta: timedelta) -> str:
        return (now + delta).isoformat()

    current = await create(client, admin, name="current", effective_from=at(-timedelta(days=1)))
    future = expect_ok(
        await client.put(
            f"{RULES}/{current['id']}", json=put_body(effective_from=at(timedelta(days=1))), headers=admin.headers
        )
    )
    await create(
        client, admin, name="expired", effective_from=at(-timedelta(days=2)), effective_to=at(-timedelta(days=1))
    )
    await create(client, admin, name="inactive", is_active=False)
    gone = await create(client, admin, name="retired")
    expect_ok(await client.delete(f"{RULES}/{gone['id']}", headers=admin.headers))

    async with pool.acquire() as conn:
        loaded = await repository.load_active(conn)

    assert sorted((r.name, r.version) for r in loaded) == [("current", 1), ("current", 2)]
    assert {r.id for r in loaded} == {uuid.UUID(current["id"]), uuid.UUID(future["id"])}
