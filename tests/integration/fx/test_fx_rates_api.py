"""FX rates over HTTP (docs/currencies.md): stored per pair with history, the rate in force at an instant
(direct, inverse, crossed through EUR), one 422 naming every bad field with nothing stored, audited,
and a change request where an approval policy applies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.audit.requests import approve, requested
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors

Client = AsyncTestClient[Litestar]
RATES = "/api/v1/fx-rates"


async def post_rate(client: Client, admin: Caller, **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(RATES, json=body, headers=admin.headers), 201)
    return data


async def in_force(client: Client, admin: Caller, base: str, quote: str, at: str | None = None) -> dict[str, Any]:
    params = {"base": base, "quote": quote} | ({} if at is None else {"at": at})
    data: dict[str, Any] = expect_ok(await client.get(RATES, params=params, headers=admin.headers))
    return data


async def test_a_newer_rate_supersedes_from_its_valid_from_and_the_history_stays(client: Client, admin: Caller) -> None:
    first = await post_rate(
        client, admin, base="try", quote="eur", rate="0.027", source="ecb", valid_from="2026-01-01T00:00:00Z"
    )
    second = await post_rate(
        client, admin, base="TRY", quote="EUR", rate="0.026123456789", valid_from="2026-02-01T00:00:00Z"
    )
    assert (first["base"], first["quote"], first["rate"], first["source"]) == ("TRY", "EUR", "0.027", "ecb")
    assert second["source"] == "manual"

    assert (await in_force(client, admin, "TRY", "EUR", "2026-01-15T00:00:00Z"))["rate_id"] == first["id"]
    now = await in_force(client, admin, "TRY", "EUR")
    assert (now["rate"], now["via"], now["rate_id"], now["source"]) == (
        "0.026123456789",
        "direct",
        second["id"],
        "manual",
    )
    expect_error(
        await client.get(
            RATES, params={"base": "TRY", "quote": "EUR", "at": "2025-12-31T23:59:59Z"}, headers=admin.headers
        ),
        404,
        "NOT_FOUND",
    )
    history = expect_ok(await client.get(RATES, headers=admin.headers))["items"]
    assert [(r["id"], r["valid_until"]) for r in history] == [
        (first["id"], "2026-02-01T00:00:00Z"),
        (second["id"], None),
    ]
    assert expect_ok(await client.get(f"{RATES}/{first['id']}", headers=admin.headers))["valid_until"] == (
        "2026-02-01T00:00:00Z"
    )
    page = expect_ok(await client.get(RATES, params={"limit": 1}, headers=admin.headers))
    assert [r["id"] for r in page["items"]] == [first["id"]]
    rest = expect_ok(await client.get(RATES, params={"cursor": page["next_cursor"]}, headers=admin.headers))
    assert [r["id"] for r in rest["items"]] == [second["id"]]


async def test_the_inverse_and_the_cross_through_eur_have_12_decimals(client: Client, admin: Caller) -> None:
    past = "2026-01-01T00:00:00Z"
    usd = await post_rate(client, admin, base="EUR", quote="USD", rate="1.0850", source="ecb", valid_from=past)
    tr = await post_rate(client, admin, base="EUR", quote="TRY", rate="37.5", source="ecb", valid_from=past)

    inverse = await in_force(client, admin, "USD", "EUR")
    assert (inverse["rate"], inverse["via"], inverse["rate_id"]) == ("0.921658986175", "inverse", usd["id"])
    cross = await in_force(client, admin, "TRY", "USD")
    assert (cross["rate"], cross["via"], cross["rate_id"], cross["source"]) == ("0.028933333333", "cross", None, "ecb")
    assert [r["id"] for r in cross["rates"]] == [tr["id"], usd["id"]]
    expect_error(
        await client.get(RATES, params={"base": "TRY", "quote": "JPY"}, headers=admin.headers), 404, "NOT_FOUND"
    )


async def test_bad_input_is_422_naming_each_field_and_nothing_is_stored(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    for body, fields in (
        ({"base": "XYZ", "quote": "EUR", "rate": "1"}, {"base"}),
        ({"base": "TRY", "quote": "QQQ", "rate": "0"}, {"quote", "rate"}),
        ({"base": "TRY", "quote": "try", "rate": "1"}, {"quote"}),
        ({"base": "TRY", "quote": "EUR", "rate": "-0.5"}, {"rate"}),
        ({"base": "TRY", "quote": "EUR", "rate": "0.0000000000001"}, {"rate"}),
        ({"base": "TRY", "quote": "EUR", "rate": "NaN"}, {"rate"}),
        ({"base": "TRY", "quote": "EUR", "rate": "1", "source": "bank"}, {"source"}),
        ({"base": "TRY", "quote": "EUR", "rate": "1", "valid_from": "soon"}, {"valid_from"}),
        ({"base": "TR", "quote": "EUR", "rate": "1"}, {"base"}),
        ({"quote": "EUR", "rate": "1"}, {"base"}),
    ):
        refused = expect_error(await client.post(RATES, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
        assert set(field_errors(refused)) == fields, (body, refused)
    for params, field in (
        ({"base": "XYZ", "quote": "EUR"}, "base"),
        ({"base": "EUR", "quote": "EUR"}, "quote"),
        ({"base": "EUR", "quote": "TRY", "at": "yesterday-ish"}, "at"),
        ({"base": "EUR", "at": "2026-01-01T00:00:00Z"}, "quote"),
    ):
        refused = expect_error(await client.get(RATES, params=params, headers=admin.headers), 422, "VALIDATION_FAILED")
        assert field in field_errors(refused), (params, refused)
    assert await pool.fetchval("SELECT count(*) FROM fx_rates") == 0


async def test_a_rate_is_audited_and_a_change_request_where_a_policy_applies(
    client: Client, admin: Caller, shopper: Caller, settings: Any, password_hash: str, pool: asyncpg.Pool
) -> None:
    expect_error(
        await client.post(RATES, json={"base": "TRY", "quote": "EUR", "rate": "1"}, headers=shopper.headers),
        403,
        "FORBIDDEN",
    )
    expect_error(await client.get(RATES, headers=shopper.headers), 403, "FORBIDDEN")
    rate = await post_rate(client, admin, base="TRY", quote="EUR", rate="0.027")
    trail = expect_ok(await client.get("/api/v1/audit", params={"entity_id": rate["id"]}, headers=admin.headers))[
        "items"
    ]
    assert [(e["entity_type"], e["action"], e["after"]["rate"]) for e in trail] == [("fx_rate", "create", "0.027")]

    reviewer = await make_caller(settings, password_hash, "reviewer", "admin")
    policy = await requested(
        await client.post(
            "/api/v1/approval-policies", json={"entity_type": "fx_rate", "approvals": 1}, headers=admin.headers
        )
    )
    expect_ok(await approve(client, policy, reviewer.headers))
    change = await requested(
        await client.post(RATES, json={"base": "TRY", "quote": "EUR", "rate": "0.025"}, headers=admin.headers)
    )
    assert await pool.fetchval("SELECT count(*) FROM fx_rates") == 1, "not before it is approved"
    applied = expect_ok(await approve(client, change, reviewer.headers))
    assert (applied["status"], applied["result"]["data"]["rate"]) == ("applied", "0.025")
    assert (await in_force(client, admin, "TRY", "EUR"))["rate"] == "0.025"


async def test_a_stored_rate_is_in_this_process_s_snapshot_once_the_post_answers(client: Client, admin: Caller) -> None:
    store = client.app.state.config_store
    before = store.snapshot.version
    assert store.snapshot.fx is None
    old = await post_rate(client, admin, base="EUR", quote="TRY", rate="30", valid_from="2025-01-01T00:00:00Z")
    new = await post_rate(client, admin, base="EUR", quote="TRY", rate="37.5", valid_from="2026-01-01T00:00:00Z")
    await post_rate(client, admin, base="EUR", quote="USD", rate="1.085", valid_from="2026-01-01T00:00:00Z")

    snapshot = store.snapshot
    assert snapshot.version > before
    # Superseded more than a day before the load: not held (no quote is priced before the load).
    assert snapshot.counts()["fx_rates"] == 2
    found = snapshot.rate("TRY", "USD", datetime.now(UTC))
    assert found is not None
    assert (found.rate, found.via) == (Decimal("0.028933333333"), "cross")
    assert found.used[0].id == UUID(new["id"])
    assert old["id"] not in {str(used.id) for used in found.used}
    sizes = expect_ok(await client.get("/api/v1/config/snapshot", headers=admin.headers))
    assert sizes["counts"]["fx_rates"] == 2
