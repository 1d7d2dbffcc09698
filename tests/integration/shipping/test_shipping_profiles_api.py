"""Shipping profiles over HTTP (docs/shipping.md): CRUD and the list for admins, one 422 naming every bad
field (nothing stored), the audit log and `config.changed` in the write's transaction."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors

Client = AsyncTestClient[Litestar]
PROFILES = "/api/v1/shipping-profiles"
OMIT = object()


def option(code: str = "standard", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": code,
        "name": code.replace("_", " ").title(),
        "base_fee": "4.90",
        "eta_days_min": 2,
        "eta_days_max": 4,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not OMIT}


def profile_body(**overrides: Any) -> dict[str, Any]:
    """A seller's profile for Turkey in TRY with a standard and an express option, changed by `overrides`."""
    body: dict[str, Any] = {
        "seller_id": "seller-a",
        "countries": ["tr"],
        "currency": "try",
        "options": [
            option("standard", per_kg="0.5", max_fee="12", free_above="150"),
            option("express", base_fee="9.90", eta_days_min=1, eta_days_max=1, express=True),
        ],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not OMIT}


async def create_profile(client: Client, admin: Caller, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(
        await client.post(PROFILES, json=profile_body(**overrides), headers=admin.headers), 201
    )
    return data


async def test_create_answers_201_with_the_stored_profile(client: Client, admin: Caller) -> None:
    created = await create_profile(client, admin, regions=[" Istanbul ", "Istanbul", "Izmir"])

    assert created["seller_id"] == "seller-a"
    assert created["countries"] == ["TR"]
    assert created["regions"] == ["Istanbul", "Izmir"]
    assert created["currency"] == "TRY"
    assert created["is_active"] is True
    assert created["options"] == [
        {
            "code": "standard",
            "name": "Standard",
            "base_fee": "4.90",
            "per_kg": "0.5",
            "per_km": None,
            "max_fee": "12.00",
            "eta_days_min": 2,
            "eta_days_max": 4,
            "free_above": "150.00",
            "express": False,
        },
        {
            "code": "express",
            "name": "Express",
            "base_fee": "9.90",
            "per_kg": None,
            "per_km": None,
            "max_fee": None,
            "eta_days_min": 1,
            "eta_days_max": 1,
            "free_above": None,
            "express": True,
        },
    ]
    assert expect_ok(await client.get(f"{PROFILES}/{created['id']}", headers=admin.headers)) == created


async def test_the_list_filters_by_seller_and_the_platform_default(client: Client, admin: Caller) -> None:
    a = await create_profile(client, admin)
    b = await create_profile(client, admin, seller_id="seller-b")
    default = await create_profile(client, admin, seller_id=None, countries=None)

    def ids(page: dict[str, Any]) -> list[str]:
        return [p["id"] for p in page["items"]]

    every = expect_ok(await client.get(PROFILES, headers=admin.headers))
    assert ids(every) == [a["id"], b["id"], default["id"]]
    assert ids(expect_ok(await client.get(PROFILES, params={"seller_id": "seller-b"}, headers=admin.headers))) == [
        b["id"]
    ]
    platform = expect_ok(await client.get(PROFILES, params={"platform": "true"}, headers=admin.headers))
    assert ids(platform) == [default["id"]]
    first = expect_ok(await client.get(PROFILES, params={"limit": 2}, headers=admin.headers))
    assert ids(first) == [a["id"], b["id"]]
    rest = expect_ok(await client.get(PROFILES, params={"cursor": first["next_cursor"]}, headers=admin.headers))
    assert ids(rest) == [default["id"]]


async def test_put_patch_and_delete(client: Client, admin: Caller) -> None:
    created = await create_profile(client, admin)
    url = f"{PROFILES}/{created['id']}"

    replaced = expect_ok(
        await client.put(url, json=profile_body(countries=["DE"], currency="EUR"), headers=admin.headers)
    )
    assert (replaced["countries"], replaced["currency"]) == (["DE"], "EUR")
    patched = expect_ok(await client.patch(url, json={"options": [option("eco", base_fee="1")]}, headers=admin.headers))
    assert [o["code"] for o in patched["options"]] == ["eco"]
    assert patched["countries"] == ["DE"]
    deleted = expect_ok(await client.delete(url, headers=admin.headers))
    assert deleted["is_active"] is False
    assert expect_ok(await client.get(url, headers=admin.headers))["is_active"] is False


async def test_an_unknown_profile_is_404_for_every_verb_and_a_bad_patch_changes_nothing(
    client: Client, admin: Caller
) -> None:
    unknown = f"{PROFILES}/00000000-0000-4000-8000-000000000000"
    for call in (
        client.get(unknown, headers=admin.headers),
        client.put(unknown, json=profile_body(), headers=admin.headers),
        client.patch(unknown, json={"currency": "EUR"}, headers=admin.headers),
        client.delete(unknown, headers=admin.headers),
    ):
        refused = expect_error(await call, 404, "NOT_FOUND")
        assert refused["message"] == "shipping profile 00000000-0000-4000-8000-000000000000 not found"
    created = await create_profile(client, admin)
    url = f"{PROFILES}/{created['id']}"
    # A PATCH is checked as the whole profile it would make: a bad option is named, nothing changes.
    refused = expect_error(
        await client.patch(url, json={"options": [option(base_fee="-1")]}, headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert set(field_errors(refused)) == {"options[0].base_fee"}
    expect_error(await client.patch(url, json={}, headers=admin.headers), 422, "VALIDATION_FAILED")  # nothing sent
    assert expect_ok(await client.get(url, headers=admin.headers)) == created


async def test_bad_fields_are_422_each_named_and_nothing_is_stored(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    body = profile_body(
        currency="XXX",
        options=[
            option("standard", base_fee="-1", eta_days_min=5, eta_days_max=2, name=" Standard"),
            option("standard", per_kg="0.00001", free_above="NaN"),
        ],
    )
    found = field_errors(
        expect_error(await client.post(PROFILES, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    )

    assert set(found) == {
        "currency",
        "options[0].base_fee",
        "options[0].eta_days_max",
        "options[0].name",
        "options[1].code",
        "options[1].per_kg",
        "options[1].free_above",
    }
    decimals = profile_body(options=[option(base_fee="4.905")])
    found = field_errors(
        expect_error(await client.post(PROFILES, json=decimals, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    assert set(found) == {"options[0].base_fee"}
    for shape, field in (
        ({"options": [option(code="Next-Day")]}, "options[0].code"),
        ({"options": []}, "options"),
        ({"countries": ["TUR"]}, "countries[0]"),
        ({"surprise": 1}, "surprise"),
        ({"currency": OMIT}, "currency"),
    ):
        refused = expect_error(
            await client.post(PROFILES, json=profile_body(**shape), headers=admin.headers), 422, "VALIDATION_FAILED"
        )
        assert field in field_errors(refused), (shape, refused)
    assert await pool.fetchval("SELECT count(*) FROM shipping_profiles") == 0


async def test_only_admins_write_or_read_profiles(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    expect_error(await client.post(PROFILES, json=profile_body(), headers=shopper.headers), 403, "FORBIDDEN")
    expect_error(await client.post(PROFILES, json=profile_body(), headers=service_key), 403, "FORBIDDEN")
    expect_error(await client.get(PROFILES, headers=shopper.headers), 403, "FORBIDDEN")


async def test_every_write_is_audited_with_money_as_text_and_announced(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await pool.execute(
        """INSERT INTO webhooks (url, events, secret, created_by, updated_by)
           VALUES ('https://erp.example/hooks', '{config.changed}', $1, 'test', 'test')""",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    version = await pool.fetchval("SELECT version FROM config_version")
    created = await create_profile(client, admin)
    expect_ok(await client.patch(f"{PROFILES}/{created['id']}", json={"countries": ["DE"]}, headers=admin.headers))
    expect_ok(await client.delete(f"{PROFILES}/{created['id']}", headers=admin.headers))

    rows = expect_ok(
        await client.get("/api/v1/audit", params={"entity_type": "shipping_profile"}, headers=admin.headers)
    )["items"]
    assert [r["action"] for r in rows] == ["delete", "update", "create"]
    assert rows[2]["entity_id"] == created["id"]
    assert rows[2]["actor"]["id"] == str(admin.id)
    assert rows[2]["after"]["options"][0]["base_fee"] == "4.90"
    assert rows[1]["before"]["countries"] == ["TR"]
    assert rows[1]["after"]["countries"] == ["DE"]
    bodies = await pool.fetch("SELECT body::jsonb -> 'data' AS data FROM webhook_events ORDER BY id")
    datas = [dict(b["data"]) for b in bodies]
    # `sequence` is one counter for every event (docs/webhooks.md): it rises in commit order per resource.
    sequences = [d.pop("sequence") for d in datas]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 3
    assert datas == [
        {"entity_type": "shipping_profile", "entity_id": created["id"], "action": action}
        for action in ("create", "update", "delete")
    ]
    assert await pool.fetchval("SELECT version FROM config_version") == version + 3
