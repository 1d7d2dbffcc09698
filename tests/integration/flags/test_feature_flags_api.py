"""Feature flags over HTTP (docs/pricing.md): CRUD, value-vs-type validation, evaluation, roles, config version."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.flags import repository
from quote_service.pricing.flags import FeatureFlag, Rollout, Variant, bucket, variant_bucket
from tests import flag_cases
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.price_lists.test_price_list_quotes import user_headers
from tests.integration.versions import durable_config_version

Client = AsyncTestClient[Litestar]
FLAGS = "/api/v1/feature-flags"


def flag_body(**overrides: Any) -> dict[str, Any]:
    """A valid, enabled BOOLEAN flag `new_checkout`, changed by `overrides`."""
    body: dict[str, Any] = {"key": "new_checkout", "name": "New checkout", "type": "BOOLEAN", "value": True}
    body.update(overrides)
    return body


async def create_flag(client: Client, admin: Caller, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(FLAGS, json=flag_body(**overrides), headers=admin.headers), 201)
    return data


async def evaluate(client: Client, key: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(f"{FLAGS}/{key}/evaluate", json=body, headers=headers))
    return data


async def count_flags(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM feature_flags")
    return count


def user_with_bucket(key: str, *, below: int | None = None, at_least: int | None = None) -> str:
    """A user id whose rollout bucket for `key` is below / at least the given bucket."""
    for n in range(10_000):
        user_id = f"user-{n}"
        b = bucket(key, user_id)
        if (below is None or b < below) and (at_least is None or b >= at_least):
            return user_id
    raise AssertionError("no such user in the first 10,000 ids")


# --- CRUD ------------------------------------------------------------------------------------------


async def test_create_answers_201_with_the_stored_flag(client: Client, admin: Caller) -> None:
    created = await create_flag(
        client,
        admin,
        description="Rolls out the new checkout",
        rollout={
            "percentage": 25,
            "user_segments": ["vip"],
            "regions": ["TR", "Berlin"],
            "start_at": "2025-01-01T03:00:00+03:00",
            "end_at": "2030-01-01T00:00:00Z",
        },
    )

    uuid.UUID(created["id"])
    assert created == {
        "id": created["id"],
        "key": "new_checkout",
        "name": "New checkout",
        "description": "Rolls out the new checkout",
        "type": "BOOLEAN",
        "value": True,
        "default_value": False,  # a BOOLEAN flag's default when none is given
        "is_enabled": True,
        "rollout": {
            "percentage": "25",
            "user_segments": ["vip"],
            "regions": ["TR", "Berlin"],
            "start_at": "2025-01-01T00:00:00Z",
            "end_at": "2030-01-01T00:00:00Z",
            "variants": [],
            "guardrail": None,
            "rules": [],
        },
        "permanent": False,
        "lifecycle": "active",
        "created_by": "admin",
        "updated_by": "admin",
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
    }


async def test_get_by_id_and_by_key_return_the_created_flag(client: Client, admin: Caller) -> None:
    created = await create_flag(client, admin)

    by_id = expect_ok(await client.get(f"{FLAGS}/{created['id']}", headers=admin.headers))
    by_key = expect_ok(await client.get(f"{FLAGS}/key/new_checkout", headers=admin.headers))

    assert by_id == created
    assert by_key == created


async def test_number_values_are_exact_decimals_rendered_as_strings(client: Client, admin: Caller) -> None:
    created = await create_flag(
        client,
        admin,
        key="express_delivery_multiplier",
        type="NUMBER",
        value=2.5,
        default_value="2.0",
        rollout={"variants": [{"key": "low", "weight": 1, "value": 1.1}, {"key": "high", "weight": 1, "value": 3}]},
    )

    assert created["value"] == "2.5"
    assert created["default_value"] == "2.0"
    assert created["rollout"]["variants"] == [
        {"key": "low", "weight": 1, "value": "1.1"},
        {"key": "high", "weight": 1, "value": "3"},
    ]


@pytest.mark.parametrize(
    ("flag_type", "value", "default_value", "shown_value", "shown_default"),
    [
        ("STRING", "blue", None, "blue", None),
        ("PERCENTAGE", 12.5, "0", "12.5", "0"),
        (
            "JSON",
            {"banner": {"colour": "red", "sizes": [1, 2.5]}},
            [],
            {"banner": {"colour": "red", "sizes": [1, 2.5]}},
            [],
        ),
        ("JSON", None, None, None, None),
    ],
)
async def test_every_type_round_trips(
    client: Client,
    admin: Caller,
    flag_type: str,
    value: Any,
    default_value: Any,
    shown_value: Any,
    shown_default: Any,
) -> None:
    created = await create_flag(client, admin, type=flag_type, value=value, default_value=default_value)

    assert (created["value"], created["default_value"]) == (shown_value, shown_default)
    assert expect_ok(await client.get(f"{FLAGS}/{created['id']}", headers=admin.headers)) == created


async def test_put_replaces_every_mutable_field_but_never_the_key(client: Client, admin: Caller) -> None:
    created = await create_flag(client, admin, rollout={"percentage": 10})

    updated = expect_ok(
        await client.put(
            f"{FLAGS}/{created['id']}",
            json={"name": "Checkout colour", "type": "STRING", "value": "green", "is_enabled": False},
            headers=admin.headers,
        )
    )

    assert updated["key"] == "new_checkout"
    assert (updated["name"], updated["type"], updated["value"], updated["is_enabled"]) == (
        "Checkout colour",
        "STRING",
        "green",
        False,
    )
    assert updated["default_value"] is None
    assert updated["rollout"]["percentage"] is None  # PUT replaces: an omitted rollout is no rollout
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] >= created["updated_at"]
    body = expect_error(
        await client.put(f"{FLAGS}/{created['id']}", json={**flag_body(), "key": "other"}, headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    assert field_errors(body) == {"key": "cannot change (the flag is 'new_checkout'); a new key is a new flag"}
    unchanged = expect_ok(await client.get(f"{FLAGS}/{created['id']}", headers=admin.headers))
    assert unchanged == updated


async def test_put_takes_the_create_body_when_the_key_is_the_flags_own(client: Client, admin: Caller) -> None:
    """The Go service's clients PUT the create body back, key included."""
    created = await create_flag(client, admin)

    updated = expect_ok(
        await client.put(f"{FLAGS}/{created['id']}", json=flag_body(name="Renamed", value=False), headers=admin.headers)
    )

    assert (updated["key"], updated["name"], updated["value"]) == ("new_checkout", "Renamed", False)


async def test_delete_removes_the_flag_and_frees_its_key(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    created = await create_flag(client, admin)

    deleted = expect_ok(await client.delete(f"{FLAGS}/{created['id']}", headers=admin.headers))

    assert deleted == created
    expect_error(await client.get(f"{FLAGS}/{created['id']}", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.post(f"{FLAGS}/new_checkout/evaluate", json={}, headers=admin.headers), 404, "NOT_FOUND")
    assert await count_flags(pool) == 0
    await create_flag(client, admin)


async def test_list_pages_by_key_and_filters_on_is_enabled(client: Client, admin: Caller) -> None:
    for key in ("c_flag", "a_flag", "d_flag", "b_flag"):
        await create_flag(client, admin, key=key, is_enabled=key != "d_flag")

    first = expect_ok(await client.get(FLAGS, params={"limit": 3}, headers=admin.headers))
    rest = expect_ok(
        await client.get(FLAGS, params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin.headers)
    )
    disabled = expect_ok(await client.get(FLAGS, params={"is_enabled": "false"}, headers=admin.headers))

    assert [f["key"] for f in first["items"]] == ["a_flag", "b_flag", "c_flag"]
    assert [f["key"] for f in rest["items"]] == ["d_flag"]
    assert rest["next_cursor"] is None
    assert [f["key"] for f in disabled["items"]] == ["d_flag"]
    expect_error(await client.get(FLAGS, params={"cursor": "%%%"}, headers=admin.headers), 422, "VALIDATION_FAILED")


async def test_unknown_ids_and_keys_are_404(client: Client, admin: Caller) -> None:
    missing = uuid.uuid4()

    expect_error(await client.get(f"{FLAGS}/{missing}", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.get(f"{FLAGS}/key/nope", headers=admin.headers), 404, "NOT_FOUND")
    put_body = {k: v for k, v in flag_body().items() if k != "key"}
    expect_error(await client.put(f"{FLAGS}/{missing}", json=put_body, headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.delete(f"{FLAGS}/{missing}", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.post(f"{FLAGS}/nope/evaluate", json={}, headers=admin.headers), 404, "NOT_FOUND")


async def test_duplicate_key_is_409_and_writes_nothing(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    await create_flag(client, admin)

    expect_error(await client.post(FLAGS, json=flag_body(name="Again"), headers=admin.headers), 409, "DUPLICATE_KEY")

    assert await count_flags(pool) == 1


# --- Validation ------------------------------------------------------------------------------------


async def test_every_value_that_does_not_fit_the_type_is_reported_by_path(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    body = flag_body(
        value="yes",
        default_value=1,
        rollout={
            "percentage": "100.5",
            "start_at": "2026-01-01T00:00:00Z",
            "end_at": "2025-01-01T00:00:00Z",
            "variants": [
                {"key": "on", "weight": 1, "value": True},
                {"key": "off", "weight": 1, "value": "false"},
                {"key": "on", "weight": 0, "value": False},
            ],
        },
    )

    errors = field_errors(
        expect_error(await client.post(FLAGS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
    )

    assert set(errors) == {
        "value",
        "default_value",
        "rollout.percentage",
        "rollout.end_at",
        "rollout.variants[1].value",
        "rollout.variants[2].key",
    }
    assert await count_flags(pool) == 0


@pytest.mark.parametrize("huge", [1e28, "1e28", 10**28, "1E+30", 1e300, "9" * 40])
async def test_a_huge_percentage_or_number_is_a_422_naming_its_field_not_a_500(
    client: Client, admin: Caller, pool: asyncpg.Pool, huge: Any
) -> None:
    bodies = {
        "rollout.percentage": flag_body(rollout={"percentage": huge}),
        "value": flag_body(type="PERCENTAGE", value=huge),
        "default_value": flag_body(type="NUMBER", value=1, default_value=huge),
        "rollout.variants[0].value": flag_body(
            type="PERCENTAGE", value=5, rollout={"variants": [{"key": "a", "weight": 1, "value": huge}]}
        ),
    }
    for field, body in bodies.items():
        refused = expect_error(await client.post(FLAGS, json=body, headers=admin.headers), 422, "VALIDATION_FAILED")
        assert set(field_errors(refused)) == {field}
    made = await create_flag(client, admin, key="kept", rollout={"percentage": 10})
    url = f"{FLAGS}/{made['id']}"
    put = await client.put(url, json=flag_body(key="kept", rollout={"percentage": huge}), headers=admin.headers)
    assert set(field_errors(expect_error(put, 422, "VALIDATION_FAILED"))) == {"rollout.percentage"}
    patched = await client.patch(url, json={"rollout": {"percentage": huge}}, headers=admin.headers)
    assert set(field_errors(expect_error(patched, 422, "VALIDATION_FAILED"))) == {"rollout.percentage"}
    assert expect_ok(await client.get(url, headers=admin.headers))["rollout"] == made["rollout"]
    assert await count_flags(pool) == 1


@pytest.mark.parametrize(
    ("flag_type", "bad_value"),
    [
        ("BOOLEAN", 1),
        ("BOOLEAN", None),
        ("STRING", 5),
        ("STRING", None),
        ("NUMBER", True),
        ("NUMBER", "abc"),
        ("NUMBER", "NaN"),
        ("NUMBER", "1e400"),
        ("NUMBER", [1]),
        ("PERCENTAGE", -1),
        ("PERCENTAGE", "100.01"),
        ("PERCENTAGE", {"p": 5}),
    ],
)
async def test_value_of_the_wrong_type_is_422_on_value(
    client: Client, admin: Caller, flag_type: str, bad_value: Any
) -> None:
    body = expect_error(
        await client.post(FLAGS, json=flag_body(type=flag_type, value=bad_value), headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )

    assert set(field_errors(body)) == {"value"}


async def test_variant_weights_must_add_up_to_more_than_zero(client: Client, admin: Caller) -> None:
    variants = [{"key": "a", "weight": 0, "value": True}, {"key": "b", "weight": 0, "value": False}]

    body = expect_error(
        await client.post(FLAGS, json=flag_body(rollout={"variants": variants}), headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )

    assert set(field_errors(body)) == {"rollout.variants"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"key": "New-Checkout"}, "key"),
        ({"key": "_leading"}, "key"),
        ({"key": "trailing\n"}, "key"),
        ({"key": "k" * 65}, "key"),
        ({"type": "COLOUR"}, "type"),
        ({"rollout": {"start_at": "2025-01-01T00:00:00"}}, "rollout.start_at"),
        ({"rollout": {"variants": [{"key": "a", "weight": -1, "value": True}]}}, "rollout.variants[0].weight"),
        ({"rollout": {"variants": [{"key": "a", "weight": 1.5, "value": True}]}}, "rollout.variants[0].weight"),
        ({"rollout": {"colour": "red"}}, "rollout.colour"),
        ({"name": ""}, "name"),
    ],
)
async def test_malformed_fields_are_422_with_their_path(
    client: Client, admin: Caller, overrides: dict[str, Any], field: str
) -> None:
    body = expect_error(
        await client.post(FLAGS, json=flag_body(**overrides), headers=admin.headers), 422, "VALIDATION_FAILED"
    )

    assert field in field_errors(body)


async def test_values_postgresql_cannot_store_are_422_not_500(client: Client, admin: Caller) -> None:
    deep: Any = "leaf"
    for _ in range(40):
        deep = [deep]
    with_nul = flag_body(
        name="New\u0000checkout",
        type="JSON",
        value={"ok": {"bad\u0000key": 1}},
        rollout={"user_segments": ["v\u0000ip"], "variants": [{"key": "a", "weight": 1, "value": "\u0000"}]},
    )
    too_deep = flag_body(type="JSON", value={"ok": 1}, default_value=deep)

    nul_errors = field_errors(
        expect_error(await client.post(FLAGS, json=with_nul, headers=admin.headers), 422, "VALIDATION_FAILED")
    )
    deep_errors = field_errors(
        expect_error(await client.post(FLAGS, json=too_deep, headers=admin.headers), 422, "VALIDATION_FAILED")
    )

    # Every NUL is named where it sits (a NUL in a key names the object holding it).
    assert set(nul_errors) == {"name", "value.ok", "rollout.user_segments[0]", "rollout.variants[0].value"}
    assert set(deep_errors) == {"default_value"}
    listed = expect_ok(await client.get(FLAGS, headers=admin.headers))
    assert listed["items"] == []


async def test_lookups_that_cannot_name_a_flag_are_404_or_422(client: Client, admin: Caller) -> None:
    forged_cursor = "ImFcdTAwMDAi"  # base64url of the JSON string "a\u0000": a key PostgreSQL cannot bind

    expect_error(await client.get(f"{FLAGS}/key/%00", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.get(f"{FLAGS}/key/Not-A-Key", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(await client.post(f"{FLAGS}/%00/evaluate", headers=admin.headers), 404, "NOT_FOUND")
    expect_error(
        await client.get(FLAGS, params={"cursor": forged_cursor}, headers=admin.headers), 422, "VALIDATION_FAILED"
    )


# --- Evaluation ------------------------------------------------------------------------------------


async def test_a_user_is_evaluated_as_itself_by_default(client: Client, admin: Caller, shopper: Caller) -> None:
    await create_flag(client, admin, rollout={"user_segments": ["VIP"]})
    await create_flag(client, admin, key="half", rollout={"percentage": 50})
    await create_flag(
        client,
        admin,
        key="gold_banner",
        rollout={"rules": [{"attribute": "customer_tier", "operator": "eq", "values": ["gold"]}]},
    )

    own = await evaluate(client, "new_checkout", shopper.headers)
    restated = await evaluate(client, "new_checkout", shopper.headers, user_id=str(shopper.id), user_segment="Vip")
    half = await evaluate(client, "half", shopper.headers)
    # The account's tier, whatever the body's attributes claim.
    gold = await evaluate(client, "gold_banner", shopper.headers, attributes={"customer_tier": "basic"})

    assert own == {"key": "new_checkout", "enabled": True, "value": True, "variant": None, "reason": "TARGETING_MATCH"}
    assert restated == own
    expected_in = bucket("half", str(shopper.id)) < 5000
    assert (half["enabled"], half["reason"]) == (expected_in, "TARGETING_MATCH" if expected_in else "DEFAULT")
    assert gold["reason"] == "TARGETING_MATCH"


async def test_a_user_is_evaluated_in_its_accounts_customer_group(client: Client, admin: Caller) -> None:
    """A user's customer group comes from its account, whatever its body's attributes say."""
    rule = {"attribute": "customer_group", "operator": "in", "values": ["b2b"]}
    await create_flag(client, admin, key="b2b_banner", rollout={"rules": [rule]})
    _, buyer = await user_headers(client, admin, customer_group="B2B")
    _, shopper = await user_headers(client, admin)

    own = await evaluate(client, "b2b_banner", buyer)
    denied = await evaluate(client, "b2b_banner", buyer, attributes={"customer_group": "retail"})
    claimed = await evaluate(client, "b2b_banner", shopper, attributes={"customer_group": "b2b"})

    assert (own["enabled"], own["reason"]) == (True, "TARGETING_MATCH")
    assert (denied["enabled"], denied["reason"]) == (True, "TARGETING_MATCH")
    assert (claimed["enabled"], claimed["reason"]) == (False, "DEFAULT")


async def test_rules_read_the_attributes_a_service_sends(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    rules = [
        {"attribute": "customer_tier", "operator": "in", "values": ["gold", "platinum"]},
        {"attribute": "subtotal", "operator": "gte", "values": [100]},
    ]
    await create_flag(client, admin, rollout={"rules": rules})

    rich_gold = await evaluate(
        client, "new_checkout", service_key, attributes={"customer_tier": "Gold", "subtotal": 150}
    )
    poor_gold = await evaluate(
        client, "new_checkout", service_key, attributes={"customer_tier": "gold", "subtotal": 99.99}
    )
    untold = await evaluate(client, "new_checkout", service_key, attributes={"subtotal": "100"})

    assert (rich_gold["enabled"], rich_gold["reason"]) == (True, "TARGETING_MATCH")
    assert (poor_gold["enabled"], poor_gold["reason"]) == (False, "DEFAULT")
    assert (untold["enabled"], untold["reason"]) == (False, "DEFAULT")


async def test_invalid_rules_are_refused_naming_the_rule(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    rules = [
        {"attribute": "customer_tier", "operator": "in", "values": ["gold"]},
        {"attribute": "subtotal", "operator": "gt", "values": ["lots"]},
        {"attribute": "app_version", "operator": "semver_gte", "values": ["2.x"]},
        {"attribute": "city", "operator": "eq", "values": ["Istanbul", "Ankara"]},
        {"attribute": "tags", "operator": "contains", "values": [{"nested": True}]},
    ]
    bad_operator = [{"attribute": "city", "operator": "like", "values": ["Ist%"]}]
    bad_attribute = [{"attribute": "9lives", "operator": "eq", "values": ["x"]}]

    body = expect_error(
        await client.post(FLAGS, json=flag_body(rollout={"rules": rules}), headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    operator = expect_error(
        await client.post(FLAGS, json=flag_body(rollout={"rules": bad_operator}), headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )
    attribute = expect_error(
        await client.post(FLAGS, json=flag_body(rollout={"rules": bad_attribute}), headers=admin.headers),
        422,
        "VALIDATION_FAILED",
    )

    assert set(field_errors(body)) == {
        "rollout.rules[1].values[0]",
        "rollout.rules[2].values[0]",
        "rollout.rules[3].values",
        "rollout.rules[4].values[0]",
    }
    assert set(field_errors(operator)) == {"rollout.rules[0].operator"}
    assert set(field_errors(attribute)) == {"rollout.rules[0].attribute"}
    assert await count_flags(pool) == 0


async def test_rules_are_stored_as_given(client: Client, admin: Caller) -> None:
    rules = [
        {"attribute": "subtotal", "operator": "lt", "values": [49.90]},
        {"attribute": "item_count", "operator": "in", "values": [1, 2, "3"]},
        {"attribute": "context.channel", "operator": "neq", "values": [True]},
    ]
    created = await create_flag(client, admin, rollout={"rules": rules})
    stored = expect_ok(await client.get(f"{FLAGS}/{created['id']}", headers=admin.headers))

    expected = [
        {"attribute": "subtotal", "operator": "lt", "values": ["49.9"]},
        {"attribute": "item_count", "operator": "in", "values": [1, 2, "3"]},
        {"attribute": "context.channel", "operator": "neq", "values": [True]},
    ]
    assert created["rollout"]["rules"] == expected
    assert stored["rollout"]["rules"] == expected


async def test_a_user_cannot_claim_another_identity_or_segment(client: Client, admin: Caller, shopper: Caller) -> None:
    """A shopper's id and segment come from its account (as on a quote): a body naming another
    user (403) or segment (422 naming `user_segment`) is refused, never believed."""
    await create_flag(client, admin, rollout={"user_segments": ["basic"]})
    await create_flag(client, admin, key="half", rollout={"percentage": 50})
    inside = user_with_bucket("half", below=5000)

    other_user = await client.post(f"{FLAGS}/half/evaluate", json={"user_id": inside}, headers=shopper.headers)
    other_segment = await client.post(
        f"{FLAGS}/new_checkout/evaluate", json={"user_segment": "basic"}, headers=shopper.headers
    )

    expect_error(other_user, 403, "FORBIDDEN")
    assert list(field_errors(expect_error(other_segment, 422, "VALIDATION_FAILED"))) == ["user_segment"]
    # An admin still evaluates for whomever it names.
    as_admin = await evaluate(client, "new_checkout", admin.headers, user_id="someone", user_segment="basic")
    assert as_admin["reason"] == "TARGETING_MATCH"
    assert (await evaluate(client, "half", admin.headers, user_id=inside))["reason"] == "TARGETING_MATCH"


async def test_percentage_rollout_follows_the_documented_bucket(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await create_flag(client, admin, rollout={"percentage": 30})
    inside = user_with_bucket("new_checkout", below=3000)
    outside = user_with_bucket("new_checkout", at_least=3000)

    assert (await evaluate(client, "new_checkout", service_key, user_id=inside))["reason"] == "TARGETING_MATCH"
    assert (await evaluate(client, "new_checkout", service_key, user_id=outside))["reason"] == "DEFAULT"
    # An API key has no identity of its own: without a user_id the caller is out of a partial rollout.
    anonymous = await evaluate(client, "new_checkout", service_key)
    assert anonymous == {"key": "new_checkout", "enabled": False, "value": False, "variant": None, "reason": "DEFAULT"}


async def test_variants_split_users_by_the_documented_hash(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    variants = [
        {"key": "control", "weight": 50, "value": "blue"},
        {"key": "treatment", "weight": 50, "value": "green"},
    ]
    await create_flag(client, admin, key="button_colour", type="STRING", value="blue", rollout={"variants": variants})

    for n in range(20):
        user_id = f"customer-{n}"
        expected = variants[0] if variant_bucket("button_colour", user_id, 100) < 50 else variants[1]

        result = await evaluate(client, "button_colour", service_key, user_id=user_id)

        assert result == {
            "key": "button_colour",
            "enabled": True,
            "value": expected["value"],
            "variant": expected["key"],
            "reason": "SPLIT",
        }


async def test_disabled_flag_answers_disabled_with_its_default(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await create_flag(client, admin, type="NUMBER", value=2, default_value="1.5", is_enabled=False)

    result = await evaluate(client, "new_checkout", service_key, user_id="u1")

    assert result == {"key": "new_checkout", "enabled": False, "value": "1.5", "variant": None, "reason": "DISABLED"}


async def test_regions_match_city_or_country_case_insensitively(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await create_flag(client, admin, rollout={"regions": ["TR", "Berlin"]})

    reasons = [
        (await evaluate(client, "new_checkout", service_key, region=region))["reason"]
        for region in ("tr", "BERLIN", "DE")
    ]

    assert reasons == ["TARGETING_MATCH", "TARGETING_MATCH", "DEFAULT"]
    assert (await evaluate(client, "new_checkout", service_key))["reason"] == "DEFAULT"


async def test_the_endpoint_answers_the_shared_table_of_cases(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """tests/fixtures/flag_evaluations.json, the table the evaluator's unit tests answer too."""
    table = flag_cases.load()
    json_headers = {**admin.headers, "content-type": "application/json"}
    for body in table.api_bodies():
        expect_ok(await client.post(FLAGS, content=msgspec.json.encode(body), headers=json_headers), 201)

    for case in table.api_cases():
        answer = await evaluate(client, case.flag, service_key, **case.context, attributes=case.attributes)

        assert answer == {"key": case.flag, **case.expect}, case


async def test_schedule_window_is_half_open(client: Client, admin: Caller, service_key: dict[str, str]) -> None:
    now = utcnow()
    await create_flag(client, admin, key="running", rollout={"start_at": (now - timedelta(hours=1)).isoformat()})
    await create_flag(client, admin, key="future", rollout={"start_at": (now + timedelta(hours=1)).isoformat()})
    await create_flag(client, admin, key="over", rollout={"end_at": (now - timedelta(seconds=1)).isoformat()})

    assert (await evaluate(client, "running", service_key))["reason"] == "TARGETING_MATCH"
    assert (await evaluate(client, "future", service_key))["reason"] == "DEFAULT"
    assert (await evaluate(client, "over", service_key))["reason"] == "DEFAULT"


async def test_evaluate_accepts_an_empty_body_and_validates_a_given_one(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    await create_flag(client, admin)

    result = expect_ok(await client.post(f"{FLAGS}/new_checkout/evaluate", headers=shopper.headers))
    body = expect_error(
        await client.post(
            f"{FLAGS}/new_checkout/evaluate", json={"user_id": "", "tier": "gold"}, headers=shopper.headers
        ),
        422,
        "VALIDATION_FAILED",
    )

    assert result["reason"] == "TARGETING_MATCH"
    assert field_errors(body)


async def test_evaluation_needs_credentials(client: Client, admin: Caller) -> None:
    await create_flag(client, admin)

    expect_error(await client.post(f"{FLAGS}/new_checkout/evaluate", json={}), 401, "UNAUTHORIZED")


# --- Roles and configuration version ---------------------------------------------------------------


async def test_only_admins_read_and_write_flags(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    created = await create_flag(client, admin)
    put_body = {k: v for k, v in flag_body().items() if k != "key"}

    for headers in (shopper.headers, service_key):
        expect_error(await client.post(FLAGS, json=flag_body(key="other"), headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(FLAGS, headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(f"{FLAGS}/{created['id']}", headers=headers), 403, "FORBIDDEN")
        expect_error(await client.get(f"{FLAGS}/key/new_checkout", headers=headers), 403, "FORBIDDEN")
        expect_error(await client.put(f"{FLAGS}/{created['id']}", json=put_body, headers=headers), 403, "FORBIDDEN")
        expect_error(await client.delete(f"{FLAGS}/{created['id']}", headers=headers), 403, "FORBIDDEN")

    assert await count_flags(pool) == 1


async def test_every_write_bumps_the_config_version_and_refusals_do_not(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    assert settings.redis_url is not None
    redis = Redis.from_url(settings.redis_url)

    async def version() -> int:
        return await durable_config_version(settings)

    try:
        start = await version()
        created = await create_flag(client, admin)
        assert await version() == start + 1
        put_body = {k: v for k, v in flag_body().items() if k != "key"}
        expect_ok(await client.put(f"{FLAGS}/{created['id']}", json=put_body, headers=admin.headers))
        assert await version() == start + 2
        expect_ok(await client.delete(f"{FLAGS}/{created['id']}", headers=admin.headers))
        assert await version() == start + 3

        expect_error(
            await client.post(FLAGS, json=flag_body(value="x"), headers=admin.headers), 422, "VALIDATION_FAILED"
        )
        await create_flag(client, admin)
        expect_error(await client.post(FLAGS, json=flag_body(), headers=admin.headers), 409, "DUPLICATE_KEY")
        await evaluate(client, "new_checkout", service_key)
        assert await version() == start + 4
    finally:
        await redis.aclose()


# --- What the configuration snapshot loads ---------------------------------------------------------


async def test_load_active_returns_every_flag_as_the_engine_reads_it(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    await create_flag(client, admin, key="off", is_enabled=False)
    await create_flag(
        client,
        admin,
        key="multiplier",
        type="NUMBER",
        value="2.5",
        rollout={
            "percentage": "12.5",
            "regions": ["TR"],
            "start_at": "2025-01-01T03:00:00+03:00",
            "variants": [{"key": "a", "weight": 1, "value": 3}],
        },
    )

    async with pool.acquire() as conn:
        flags = await repository.load_active(conn)

    assert flags == [
        FeatureFlag(
            key="multiplier",
            type="NUMBER",
            value=Decimal("2.5"),
            default_value=None,
            is_enabled=True,
            rollout=Rollout(
                percentage=Decimal("12.5"),
                regions=("TR",),
                start_at=datetime(2025, 1, 1, tzinfo=UTC),
                variants=(Variant(key="a", weight=1, value=Decimal(3)),),
            ),
        ),
        FeatureFlag(key="off", type="BOOLEAN", value=True, default_value=False, is_enabled=False),
    ]
