"""OFREP over HTTP (docs/openfeature.md): who may call, the bulk answer and its ETag, the shapes of
refusals (OFREP's, never the /api/v1 envelope), and the same answer as the quote for one customer.
The OpenFeature SDK's own view is tests/integration/ofrep/test_openfeature_sdk.py."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from quote_service.observability import flag_timing
from quote_service.pricing.flags import variant_bucket
from tests import flag_cases
from tests.integration.conftest import Caller
from tests.integration.flags.test_feature_flags_api import create_flag

Client = AsyncTestClient[Litestar]
ONE = "/ofrep/v1/evaluate/flags"


def _ofrep_evaluations() -> float:
    flag_timing.flush()
    return REGISTRY.get_sample_value("qs_flag_evaluation_seconds_count", {"source": "ofrep"}) or 0.0


def context(key: str | None = None, **attributes: Any) -> dict[str, Any]:
    return {"context": {**({"targetingKey": key} if key is not None else {}), **attributes}}


async def test_service_keys_and_admins_may_evaluate_users_and_strangers_may_not(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str]
) -> None:
    await create_flag(client, admin)
    bearer_key = {"Authorization": f"Bearer {service_key['X-API-Key']}"}

    answers = {
        who: await client.post(f"{ONE}/new_checkout", json=context("c1"), headers=headers)
        for who, headers in {
            "X-API-Key": service_key,
            "Bearer key": bearer_key,
            "admin": admin.headers,
            "user": shopper.headers,
            "nobody": {},
            "bad key": {"Authorization": "Bearer qsk_no-such-key"},
        }.items()
    }

    for who in ("X-API-Key", "Bearer key", "admin"):
        assert answers[who].status_code == 200, (who, answers[who].text)
    for who, status in (("user", 403), ("nobody", 401), ("bad key", 401)):
        response = answers[who]
        assert response.status_code == status, (who, response.text)
        body = response.json()
        assert body == {"errorCode": "GENERAL", "errorDetails": body["errorDetails"]}, who
    assert answers["nobody"].headers["www-authenticate"].startswith("Bearer")


async def test_one_flag_answers_openfeature_resolution_details(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await create_flag(client, admin, key="limit", type="NUMBER", value="2.50", default_value=None, is_enabled=False)
    await create_flag(client, admin, key="colour", type="STRING", value="grey", default_value="grey", rollout={
        "variants": [{"key": "blue", "weight": 1, "value": "blue"}, {"key": "green", "weight": 1, "value": "green"}]
    })  # fmt: skip
    await create_flag(client, admin, key="on", type="NUMBER", value="2.50")
    customer = next(f"c-{n}" for n in range(100) if variant_bucket("colour", f"c-{n}", 2) == 1)

    timed = _ofrep_evaluations()
    split = await client.post(f"{ONE}/colour", json=context(customer), headers=service_key)
    off = await client.post(f"{ONE}/limit", json=context(customer), headers=service_key)
    on = await client.post(f"{ONE}/on", json=context(), headers=service_key)

    assert split.json() == {
        "key": "colour",
        "value": "green",
        "reason": "SPLIT",
        "variant": "green",
        "metadata": {"enabled": True, "type": "STRING"},
    }
    # A null value is left out: OpenFeature clients then serve their code default.
    assert off.json() == {
        "key": "limit",
        "reason": "DISABLED",
        "variant": None,
        "metadata": {"enabled": False, "type": "NUMBER"},
    }
    assert b'"value":2.50' in on.content  # a JSON number, with the digits it was written with
    assert _ofrep_evaluations() == timed + 3  # qs_flag_evaluation_seconds{source="ofrep"}


async def test_bulk_evaluates_every_flag_and_answers_304_while_nothing_changed(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    await create_flag(client, admin, key="a_flag")
    await create_flag(client, admin, key="split", type="STRING", value="x", rollout={
        "variants": [{"key": "one", "weight": 1, "value": "one"}]
    })  # fmt: skip

    first = await client.post(ONE, json=context("c1"), headers=service_key)
    keyless = await client.post(ONE, json=context(), headers=service_key)
    again = await client.post(ONE, json=context("c1"), headers={**service_key, "If-None-Match": first.headers["etag"]})
    other = await client.post(ONE, json=context("c2"), headers={**service_key, "If-None-Match": first.headers["etag"]})
    await create_flag(client, admin, key="b_flag")
    changed = await client.post(
        ONE, json=context("c1"), headers={**service_key, "If-None-Match": first.headers["etag"]}
    )

    assert first.status_code == 200
    assert [flag["key"] for flag in first.json()["flags"]] == ["a_flag", "split"]
    assert first.json()["flags"][1]["variant"] == "one"
    # Without a targeting key the split cannot place anyone: that flag fails, the others answer.
    assert keyless.json()["flags"][1] == {
        "key": "split",
        "errorCode": "TARGETING_KEY_MISSING",
        "errorDetails": keyless.json()["flags"][1]["errorDetails"],
    }
    assert keyless.json()["flags"][0]["reason"] == "TARGETING_MATCH"
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", first.headers["etag"])
    # Another customer with the same answers gets the same tag; a new flag changes the answers.
    assert other.status_code == 304
    assert changed.status_code == 200
    assert changed.headers["etag"] != first.headers["etag"]
    assert [flag["key"] for flag in changed.json()["flags"]] == ["a_flag", "b_flag", "split"]


async def test_ofrep_targets_by_the_context_attributes_nested_or_dotted(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    rules = [
        {"attribute": "context.channel", "operator": "eq", "values": ["app"]},
        {"attribute": "customer_segment", "operator": "not_in", "values": ["blocked"]},
    ]
    await create_flag(client, admin, rollout={"rules": rules, "regions": ["TR"], "user_segments": ["vip", "new"]})

    async def reason(**attributes: Any) -> str:
        response = await client.post(f"{ONE}/new_checkout", json=context("c1", **attributes), headers=service_key)
        assert response.status_code == 200, response.text
        answer: str = response.json()["reason"]
        return answer

    assert await reason(context={"channel": "APP"}, customer_segment="vip", country="TR") == "TARGETING_MATCH"
    assert (
        await reason(**{"context.channel": "app"}, customer_segment="new", city="x", country="tr") == "TARGETING_MATCH"
    )
    assert await reason(context={"channel": "web"}, customer_segment="vip", country="TR") == "DEFAULT"
    assert await reason(context={"channel": "app"}, customer_segment="vip", country="DE") == "DEFAULT"
    assert await reason(context={"channel": "app"}, country="TR") == "DEFAULT"


async def test_ofrep_answers_the_shared_table_of_cases(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    """tests/fixtures/flag_evaluations.json, as the evaluator's unit tests and the evaluate endpoint answer it."""
    table = flag_cases.load()
    json_headers = {**admin.headers, "content-type": "application/json"}
    for body in table.api_bodies():
        response = await client.post("/api/v1/feature-flags", content=msgspec.json.encode(body), headers=json_headers)
        assert response.status_code == 201, response.text

    for case in table.api_cases():
        response = await client.post(f"{ONE}/{case.flag}", json={"context": case.ofrep_context()}, headers=service_key)
        answer = response.json()
        if case.ofrep is not None:
            assert (response.status_code, answer["errorCode"]) == (400, case.ofrep), case
            continue
        assert response.status_code == 200, (case, response.text)
        expected = case.expected()
        assert answer.get("value") == expected.value, case
        assert (answer["reason"], answer["variant"]) == (expected.reason, expected.variant), case
        assert answer["metadata"]["enabled"] is expected.enabled, case
