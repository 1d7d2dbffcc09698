"""Campaigns' API rules on the worker's shared app: what a request may hold, names as URL
segments, who may read. (What needs the simulated clock, ticks and prices, is test_campaigns.py,
on an app of its own per test.)"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.campaigns.test_campaigns import CAMPAIGNS, Client, product, start
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"duration_hours": 0}, "duration_hours"),
        ({"duration_hours": 721}, "duration_hours"),
        ({"price_manipulation_limit": 0}, "price_manipulation_limit"),
        ({"price_manipulation_limit": "100"}, "price_manipulation_limit"),
        ({"price_manipulation_limit": "NaN"}, "price_manipulation_limit"),
        ({"target_sales_count": 0}, "target_sales_count"),
        ({"product_id": str(uuid.uuid4())}, "product_id"),
        ({"product_id": "not-a-uuid"}, "product_id"),
        ({"duration_hours": "five"}, "duration_hours"),
    ],
)
async def test_each_bad_field_is_named(client: Client, admin: Caller, change: dict[str, Any], field: str) -> None:
    item = await product(client, admin)
    body = {"name": "ok", "product_id": item["id"], "duration_hours": 5, "price_manipulation_limit": 20,
            "target_sales_count": 100, **change}  # fmt: skip
    response = await client.post(CAMPAIGNS, json=body, headers=admin.headers)
    assert field in field_errors(expect_error(response, 422, "VALIDATION_FAILED"))


@pytest.mark.parametrize("name", ["spring/sale", "a?b", "a#b", "50%", "two words", "back\\slash", ".", "..", "tab\tx"])
async def test_a_name_that_cannot_be_a_url_path_segment_is_refused(client: Client, admin: Caller, name: str) -> None:
    """The name is the campaign's URL (/campaigns/{name}): one with a slash could be created but
    never read or ended again. Nothing is created."""
    item = await product(client, admin)
    body = {"name": name, "product_id": item["id"], "duration_hours": 5, "price_manipulation_limit": 20,
            "target_sales_count": 100}  # fmt: skip
    response = await client.post(CAMPAIGNS, json=body, headers=admin.headers)
    assert list(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == ["name"]
    assert expect_ok(await client.get(CAMPAIGNS, headers=admin.headers))["items"] == []


async def test_a_name_of_any_script_round_trips_through_its_url(client: Client, admin: Caller) -> None:
    item = await product(client, admin)
    name = "k\u0131\u015f-indirimi_2026.v1~A"  # Turkish letters (dotless i, s-cedilla)
    await start(client, admin, item["id"], name=name)
    assert expect_ok(await client.get(f"{CAMPAIGNS}/{name}", headers=admin.headers))["name"] == name
    ended = expect_ok(await client.post(f"{CAMPAIGNS}/{name}/end", headers=admin.headers))
    assert ended["status"] == "ended"


async def test_every_bad_range_is_named_at_once(client: Client, admin: Caller) -> None:
    item = await product(client, admin)
    body = {"name": " ", "product_id": item["id"], "duration_hours": 0, "price_manipulation_limit": 100,
            "target_sales_count": -1}  # fmt: skip
    response = await client.post(CAMPAIGNS, json=body, headers=admin.headers)
    assert set(field_errors(expect_error(response, 422, "VALIDATION_FAILED"))) == {
        "name", "duration_hours", "price_manipulation_limit", "target_sales_count",
    }  # fmt: skip


async def test_campaigns_are_for_admins(client: Client, admin: Caller, shopper: Caller) -> None:
    item = await product(client, admin)
    campaign = await start(client, admin, item["id"])
    expect_error(await client.get(f"{CAMPAIGNS}/{campaign['name']}", headers=shopper.headers), 403, "FORBIDDEN")
    expect_error(await client.get(CAMPAIGNS, headers=shopper.headers), 403, "FORBIDDEN")
    expect_error(await client.get(f"{CAMPAIGNS}/unknown", headers=admin.headers), 404, "NOT_FOUND")
