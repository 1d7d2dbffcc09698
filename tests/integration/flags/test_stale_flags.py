"""Stale flags (docs/flags.md#stale-flags): `lifecycle`, the `?lifecycle=` filter, `permanent`, and
`flag.potentially_stale` sent once. Time is injected: a flag's `updated_at` set back by the test,
or the look run with a `now` days ahead."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.clock import utcnow
from quote_service.flags.service import mark_stale_flags
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.flags.test_feature_flags_api import FLAGS, create_flag
from tests.integration.webhooks.test_webhooks_api import receiver, settings, subscribe
from tests.waiting import until
from tests.webhook_receiver import Receiver

Client = AsyncTestClient[Litestar]
__all__ = ["receiver", "settings"]


async def unchanged_for(pool: asyncpg.Pool, key: str, days: float) -> None:
    await pool.execute(
        "UPDATE feature_flags SET updated_at = now() - make_interval(secs => $2 * 86400) WHERE key = $1", key, days
    )


async def listed(client: Client, admin: Caller, **query: Any) -> dict[str, str]:
    page = expect_ok(await client.get(FLAGS, params=query, headers=admin.headers))
    return {flag["key"]: flag["lifecycle"] for flag in page["items"]}


async def test_a_flag_served_the_same_to_everyone_and_unchanged_for_30_days_is_potentially_stale(
    client: Client, admin: Caller, pool: asyncpg.Pool
) -> None:
    variants = [{"key": "a", "weight": 1, "value": True}, {"key": "b", "weight": 1, "value": False}]
    await create_flag(client, admin, key="on_for_all")
    await create_flag(client, admin, key="off_for_all", is_enabled=False)
    await create_flag(client, admin, key="full_rollout", rollout={"percentage": "100"})
    await create_flag(client, admin, key="zero_rollout", rollout={"percentage": 0})
    await create_flag(client, admin, key="half_rollout", rollout={"percentage": "50"})
    await create_flag(client, admin, key="experiment", rollout={"variants": variants})
    await create_flag(client, admin, key="kill_switch", permanent=True)
    await create_flag(client, admin, key="young")
    for key in ("on_for_all", "off_for_all", "full_rollout", "zero_rollout", "half_rollout", "experiment"):
        await unchanged_for(pool, key, 30.01)
    await unchanged_for(pool, "kill_switch", 400)
    await unchanged_for(pool, "young", 29.9)

    stale = ["full_rollout", "off_for_all", "on_for_all", "zero_rollout"]
    assert await listed(client, admin) == {
        **dict.fromkeys(stale, "potentially_stale"),
        "half_rollout": "active",
        "experiment": "active",
        "kill_switch": "permanent",
        "young": "active",
    }
    assert sorted(await listed(client, admin, lifecycle="potentially_stale")) == stale
    assert sorted(await listed(client, admin, lifecycle="active")) == ["experiment", "half_rollout", "young"]
    assert list(await listed(client, admin, lifecycle="permanent")) == ["kill_switch"]
    assert sorted(await listed(client, admin, lifecycle="potentially_stale", limit=2)) == stale[:2]

    # A change makes it active again; marking it permanent keeps it out of the stale list for good.
    flag = expect_ok(await client.get(f"{FLAGS}/key/on_for_all", headers=admin.headers))
    kept = expect_ok(await client.patch(f"{FLAGS}/{flag['id']}", json={"permanent": True}, headers=admin.headers))
    assert (kept["permanent"], kept["lifecycle"]) == (True, "permanent")
    await unchanged_for(pool, "on_for_all", 365)
    assert (await listed(client, admin))["on_for_all"] == "permanent"
    put = {"name": "Off", "type": "BOOLEAN", "value": True}
    again = expect_ok(await client.put(f"{FLAGS}/{flag['id']}", json=put, headers=admin.headers))
    assert (again["permanent"], again["lifecycle"]) == (False, "active"), "a PUT without permanent clears it"


async def test_an_unknown_lifecycle_is_refused_naming_it(client: Client, admin: Caller) -> None:
    body = expect_error(
        await client.get(FLAGS, params={"lifecycle": "stale"}, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert "lifecycle" in field_errors(body)
    refused = expect_error(
        await client.post(
            FLAGS,
            json={"key": "k", "name": "K", "type": "BOOLEAN", "value": True, "permanent": "yes"},
            headers=admin.headers,
        ),
        422,
        "VALIDATION_FAILED",
    )
    assert "permanent" in field_errors(refused)
    assert (await listed(client, admin)) == {}


async def test_potentially_stale_is_sent_once_each_time_a_flag_becomes_so(
    client: Client, admin: Caller, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    hook = await subscribe(client, admin, receiver.url(), ["flag.potentially_stale"])
    flag = await create_flag(client, admin, key="old_news")
    await create_flag(client, admin, key="forever", permanent=True)
    assert await mark_stale_flags(pool, now=utcnow(), days=30) == 0
    month_later = utcnow() + timedelta(days=30, minutes=1)
    assert await mark_stale_flags(pool, now=month_later, days=30) == 1
    assert await mark_stale_flags(pool, now=month_later + timedelta(days=5), days=30) == 0, "once"
    await until(lambda: len(receiver.snapshot()) == 1, "the flag.potentially_stale delivery")
    [event] = receiver.verified(hook["secret"])
    assert event["type"] == "flag.potentially_stale"
    assert {k: event["data"][k] for k in ("flag_id", "key", "lifecycle")} == {
        "flag_id": flag["id"],
        "key": "old_news",
        "lifecycle": "potentially_stale",
    }

    changed = expect_ok(await client.patch(f"{FLAGS}/{flag['id']}", json={"name": "Old"}, headers=admin.headers))
    assert changed["lifecycle"] == "active"
    assert await mark_stale_flags(pool, now=month_later, days=30) == 1, "a change, then 30 days again: a new event"
    await until(lambda: len(receiver.snapshot()) == 2, "the second delivery")
