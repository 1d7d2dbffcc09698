"""PATCH on commission rates, pricing rules and feature flags, and the Go service's update shapes
(PUT /commission-rates/{id} {"rate": 13.0}, a bare list on PUT /commission-rates/bulk): the
fields sent change, the result is checked whole, and a refused body changes nothing."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.commissions.test_commission_rates_api import RATES, create_rate, rate_body
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flags.test_feature_flags_api import FLAGS, create_flag
from tests.integration.rules.test_pricing_rules_api import RULES, create, versions_of
from tests.integration.versions import durable_config_version

Client = AsyncTestClient[Litestar]
BULK = f"{RATES}/bulk"
CHANGING = ("updated_at", "updated_by", "rate")


def without(record: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name not in names}


# --- commission rates -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_a_partial_rate_body_changes_only_the_fields_sent(
    client: Client, admin: Caller, settings: Settings, method: str
) -> None:
    created = await create_rate(client, admin, seller_id="seller-1", region="Istanbul", priority=7, max_amount="50")
    version = await durable_config_version(settings)

    response = await client.request(method, f"{RATES}/{created['id']}", json={"rate": 13.0}, headers=admin.headers)

    updated = expect_ok(response)
    assert updated["rate"] == "13"
    assert without(updated, *CHANGING) == without(created, *CHANGING)
    assert expect_ok(await client.get(f"{RATES}/{created['id']}", headers=admin.headers)) == updated
    assert await durable_config_version(settings) > version


async def test_a_put_with_every_required_field_still_replaces_the_whole_rate(client: Client, admin: Caller) -> None:
    created = await create_rate(client, admin, seller_id="seller-1", priority=7)

    updated = expect_ok(await client.put(f"{RATES}/{created['id']}", json=rate_body(rate="3"), headers=admin.headers))

    assert (updated["rate"], updated["seller_id"], updated["priority"]) == ("3", None, 0)


async def test_patch_can_move_a_rate_to_another_component(client: Client, admin: Caller) -> None:
    created = await create_rate(client, admin, category_id=None, seller_id="seller-1", component="category")

    updated = expect_ok(
        await client.patch(f"{RATES}/{created['id']}", json={"component": "seller"}, headers=admin.headers)
    )

    assert (created["component"], updated["component"]) == ("category", "seller")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rate": 150}, "rate"),  # a percent above 100
        ({"rate": "abc"}, "rate"),
        ({"commission_type": "TIERED"}, "rate"),  # whole: TIERED needs tiers and no rate
        ({"effective_to": "2020-01-01T00:00:00Z"}, "effective_to"),  # before effective_from
        ({"logistics_provider": "fastship"}, "component"),  # a category rate names no provider
        ({"colour": "red"}, "colour"),
        ({}, "body"),
        ([{"rate": 1}], "body"),
    ],
)
@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_a_refused_partial_rate_names_the_field_and_changes_nothing(
    client: Client, admin: Caller, method: str, body: Any, field: str
) -> None:
    created = await create_rate(client, admin)

    response = await client.request(method, f"{RATES}/{created['id']}", json=body, headers=admin.headers)

    refused = expect_error(response, 422, "VALIDATION_FAILED")
    assert field in field_errors(refused), refused
    assert expect_ok(await client.get(f"{RATES}/{created['id']}", headers=admin.headers)) == created


async def test_patch_of_an_unknown_rate_is_a_404(client: Client, admin: Caller) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    expect_error(await client.patch(f"{RATES}/{unknown}", json={"rate": 1}, headers=admin.headers), 404, "NOT_FOUND")


async def test_bulk_takes_a_bare_list(client: Client, admin: Caller) -> None:
    existing = await create_rate(client, admin)

    saved = expect_ok(
        await client.put(
            BULK,
            json=[rate_body(category_id="toys"), {**rate_body(rate="9"), "id": existing["id"]}],
            headers=admin.headers,
        )
    )

    assert (saved["created"], saved["updated"]) == (1, 1)
    assert [item["category_id"] for item in saved["items"]] == ["toys", "books"]
    assert expect_ok(await client.get(f"{RATES}/{existing['id']}", headers=admin.headers))["rate"] == "9"


async def test_a_refused_bare_bulk_list_names_each_entry_and_applies_nothing(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    refused = expect_error(
        await client.put(BULK, json=[rate_body(), rate_body(rate="-1")], headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    empty = expect_error(await client.put(BULK, json=[], headers=admin.headers), 422, "VALIDATION_FAILED")

    assert "items[1].rate" in field_errors(refused)
    assert field_errors(empty)
    assert await pool.fetchval("SELECT count(*) FROM commission_rates") == 0


# --- pricing rules --------------------------------------------------------------------------------


async def test_patch_makes_the_next_version_from_the_latest_with_the_fields_sent(client: Client, admin: Caller) -> None:
    first = await create(client, admin)
    second = expect_ok(await client.patch(f"{RULES}/{first['id']}", json={"priority": 9}, headers=admin.headers))

    # Addressed by the first version's id, it still starts from the latest (version 2).
    third = expect_ok(
        await client.patch(
            f"{RULES}/{first['id']}", json={"configuration": {"base_fee": "15.00"}}, headers=admin.headers
        )
    )

    assert (second["version"], second["priority"]) == (2, 9)
    assert (third["version"], third["priority"], third["configuration"]) == (3, 9, {"base_fee": "15.00"})
    kept = ("name", "type", "region", "effective_from", "effective_to", "is_active", "exclusive")
    assert {k: third[k] for k in kept} == {k: first[k] for k in kept}
    assert await versions_of(client, admin, first["name"]) == [3, 2, 1]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"priority": "high"}, 422, "VALIDATION_FAILED", "priority"),
        ({"configuration": {"base_fee": "-1"}}, 422, "VALIDATION_FAILED", "configuration.base_fee"),
        ({"name": "another-name"}, 422, "VALIDATION_FAILED", "name"),
        ({"type": "TAX_RATE", "configuration": {"rate": 8}}, 422, "VALIDATION_FAILED", "type"),
        ({"version": 7}, 422, "VALIDATION_FAILED", "version"),
        ({}, 422, "VALIDATION_FAILED", "body"),
        ({"priority": 1, "expected_version": 5}, 409, "VERSION_CONFLICT", None),
    ],
)
async def test_a_refused_rule_patch_creates_no_version(
    client: Client, admin: Caller, body: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    created = await create(client, admin)

    refused = expect_error(
        await client.patch(f"{RULES}/{created['id']}", json=body, headers=admin.headers), status, code
    )

    if field is not None:
        assert field in field_errors(refused), refused
    assert await versions_of(client, admin, created["name"]) == [1]


async def test_a_retired_rule_cannot_be_patched(client: Client, admin: Caller) -> None:
    created = await create(client, admin)
    expect_ok(await client.delete(f"{RULES}/{created['id']}", headers=admin.headers))

    expect_error(
        await client.patch(f"{RULES}/{created['id']}", json={"priority": 1}, headers=admin.headers), 409, "RULE_RETIRED"
    )


# --- feature flags ---------------------------------------------------------------------------------


async def test_a_flag_patch_changes_only_the_fields_sent(client: Client, admin: Caller) -> None:
    created = await create_flag(client, admin, rollout={"percentage": 25, "user_segments": ["vip"]})

    updated = expect_ok(
        await client.patch(f"{FLAGS}/{created['id']}", json={"is_enabled": False}, headers=admin.headers)
    )

    assert updated["is_enabled"] is False
    assert without(updated, "is_enabled", "updated_at") == without(created, "is_enabled", "updated_at")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "another_key"}, "key"),
        ({"value": "yes"}, "value"),  # not a BOOLEAN
        ({"type": "NUMBER"}, "value"),  # whole: the value true is no NUMBER
        ({"rollout": {"percentage": 101}}, "rollout.percentage"),
        ({"owner": "me"}, "owner"),
        ({}, "body"),
    ],
)
async def test_a_refused_flag_patch_names_the_field_and_changes_nothing(
    client: Client, admin: Caller, body: dict[str, Any], field: str
) -> None:
    created = await create_flag(client, admin)

    refused = expect_error(
        await client.patch(f"{FLAGS}/{created['id']}", json=body, headers=admin.headers), 422, "VALIDATION_FAILED"
    )

    assert field in field_errors(refused), refused
    assert expect_ok(await client.get(f"{FLAGS}/{created['id']}", headers=admin.headers)) == created


async def test_only_admins_patch(client: Client, admin: Caller, shopper: Caller) -> None:
    rate = await create_rate(client, admin)
    flag = await create_flag(client, admin)
    rule = await create(client, admin)

    for path in (f"{RATES}/{rate['id']}", f"{FLAGS}/{flag['id']}", f"{RULES}/{rule['id']}"):
        expect_error(await client.patch(path, json={"priority": 1}, headers=shopper.headers), 403, "FORBIDDEN")
