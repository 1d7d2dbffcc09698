"""Our flags from an application, as a user would read them: the official OpenFeature Python SDK
with its OFREP provider, over HTTP, against a running `quote-service serve` process.

Booleans, strings, integers, floats and objects; variants (the same as a quote's for the same
customer); targeting rules over context attributes; a disabled flag; a missing flag; a context
without the targeting key a split needs; a bad body or context (raw HTTP: the SDK never sends
one); the API key as a bearer token (as the provider's `headers_factory` sends it) and as
X-API-Key; a revoked key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from quote_service.config import Settings
from quote_service.pricing.flags import variant_bucket
from tests.integration.conftest import Caller
from tests.integration.servers import cli_env, running_server

pytestmark = pytest.mark.slow

FLAGS: list[dict[str, Any]] = [
    {"key": "new_checkout", "type": "BOOLEAN", "value": True, "rollout": {"percentage": 100}},
    {"key": "paused", "type": "BOOLEAN", "value": True, "default_value": False, "is_enabled": False},
    {
        "key": "banner_text",
        "type": "STRING",
        "value": "Welcome back",
        "default_value": "Hello",
        "rollout": {"rules": [{"attribute": "customer_tier", "operator": "in", "values": ["gold", "platinum"]}]},
    },
    {
        "key": "new_app_flow",
        "type": "BOOLEAN",
        "value": True,
        "default_value": False,
        "rollout": {
            "rules": [
                {"attribute": "app_version", "operator": "semver_gte", "values": ["2.4.0"]},
                {"attribute": "country", "operator": "eq", "values": ["TR"]},
            ]
        },
    },
    {"key": "max_items", "type": "NUMBER", "value": 12},
    {"key": "express_delivery_multiplier", "type": "NUMBER", "value": "1.5"},
    {"key": "checkout_config", "type": "JSON", "value": {"steps": 2, "theme": "dark", "fee": 1.25}},
    {
        "key": "checkout_colour",
        "type": "STRING",
        "value": "grey",
        "default_value": "grey",
        "rollout": {
            "variants": [
                {"key": "blue", "weight": 1, "value": "blue"},
                {"key": "green", "weight": 1, "value": "green"},
            ]
        },
    },
]


class Live(NamedTuple):
    base: str
    key: str
    """A service API key."""
    revoked: str
    """A service API key revoked since."""


@pytest.fixture
def live(settings: Settings, admin: Caller) -> Iterator[Live]:
    """A running server holding FLAGS, with service keys."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    with running_server(env) as base, httpx.Client(base_url=base, timeout=10, headers=admin.headers) as http:
        for flag in FLAGS:
            response = http.post("/api/v1/feature-flags", json={"name": flag["key"], **flag})
            assert response.status_code == 201, response.text
        revoked = http.post("/api/v1/api-keys", json={"name": "old storefront"}).json()["data"]
        assert http.delete(f"/api/v1/api-keys/{revoked['id']}").status_code == 200
        response = http.post("/api/v1/api-keys", json={"name": "storefront"})
        assert response.status_code == 201, response.text
        yield Live(base, response.json()["data"]["key"], revoked["key"])


def client_for(base: str, headers: dict[str, str]) -> OpenFeatureClient:
    """An OpenFeature client whose provider is OFREP at `base`, as docs/openfeature.md sets it up."""
    api.set_provider(OFREPProvider(base, headers_factory=lambda: headers), domain=base)
    return api.get_client(domain=base)


def customer(key: str, **attributes: Any) -> EvaluationContext:
    return EvaluationContext(targeting_key=key, attributes=attributes)


def test_the_sdk_reads_every_kind_of_flag_and_targets_by_attributes(live: Live) -> None:
    base, key, _ = live
    flags = client_for(base, {"Authorization": f"Bearer {key}"})
    anyone = customer("customer-7")

    on = flags.get_boolean_details("new_checkout", False, anyone)
    paused = flags.get_boolean_details("paused", True, anyone)
    assert (on.value, on.reason, on.error_code) == (True, Reason.TARGETING_MATCH, None)
    assert (paused.value, paused.reason) == (False, Reason.DISABLED)
    assert flags.get_integer_value("max_items", 0, anyone) == 12
    assert flags.get_float_value("express_delivery_multiplier", 2.0, anyone) == 1.5
    assert flags.get_object_value("checkout_config", {}, anyone) == {"steps": 2, "theme": "dark", "fee": 1.25}
    # The provider checks the wire type: a boolean flag read as a string is the caller's default.
    mismatch = flags.get_string_details("new_checkout", "fallback", anyone)
    assert (mismatch.value, mismatch.error_code) == ("fallback", ErrorCode.TYPE_MISMATCH)

    # Targeting rules read the context's attributes (the key as X-API-Key this time).
    flags = client_for(base, {"X-API-Key": key})

    gold = flags.get_string_details("banner_text", "code default", customer("c1", customer_tier="GOLD"))
    basic = flags.get_string_details("banner_text", "code default", customer("c2", customer_tier="basic"))
    untold = flags.get_string_details("banner_text", "code default", customer("c3"))
    assert (gold.value, gold.reason) == ("Welcome back", Reason.TARGETING_MATCH)
    assert (basic.value, basic.reason) == ("Hello", Reason.DEFAULT)
    assert (untold.value, untold.reason) == ("Hello", Reason.DEFAULT)

    new_app = customer("c4", app_version="2.10.1", country="tr")
    old_app = customer("c4", app_version="2.4.0-beta.2", country="TR")
    elsewhere = customer("c4", app_version="3.0.0", country="DE")
    assert flags.get_boolean_value("new_app_flow", False, new_app) is True
    assert flags.get_boolean_value("new_app_flow", True, old_app) is False
    assert flags.get_boolean_value("new_app_flow", True, elsewhere) is False


@pytest.mark.long
def test_variants_are_the_quotes_and_failures_give_the_code_default(live: Live) -> None:
    base, key, _ = live
    flags = client_for(base, {"X-API-Key": key})
    # One customer on each side of the documented wheel (weights 1 and 1: points 0 and 1).
    blue = next(f"c-{n}" for n in range(1000) if variant_bucket("checkout_colour", f"c-{n}", 2) == 0)
    green = next(f"c-{n}" for n in range(1000) if variant_bucket("checkout_colour", f"c-{n}", 2) == 1)

    for customer_id, expected in ((blue, "blue"), (green, "green")):
        details = flags.get_string_details("checkout_colour", "grey", customer(customer_id))
        assert (details.value, details.variant, details.reason) == (expected, expected, Reason.SPLIT)
        quote = httpx.post(
            f"{base}/api/v1/quote",
            headers={"X-API-Key": key},
            json={
                "customer_id": customer_id,
                "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": "20.00"}],
                "delivery_address": {"city": "Istanbul", "country": "TR"},
                "currency": "TRY",
            },
            timeout=10,
        )
        assert quote.status_code == 200, quote.text
        assert quote.json()["data"]["experiments"] == {"checkout_colour": details.variant}

    # A missing flag, a missing targeting key, bad credentials: the code default and why.
    missing = flags.get_boolean_details("no_such_flag", True, customer("c1"))
    keyless = flags.get_string_details("checkout_colour", "code default", EvaluationContext())
    assert (missing.value, missing.error_code, missing.reason) == (True, ErrorCode.FLAG_NOT_FOUND, Reason.ERROR)
    assert (keyless.value, keyless.error_code) == ("code default", ErrorCode.TARGETING_KEY_MISSING)
    # A flag that splits nobody needs no targeting key.
    assert flags.get_integer_value("max_items", 0, EvaluationContext()) == 12

    revoked = client_for(base, {"Authorization": f"Bearer {live.revoked}"})
    refused = revoked.get_boolean_details("new_checkout", False, customer("c1"))
    assert (refused.value, refused.error_code, refused.error_message) == (False, ErrorCode.GENERAL, "unauthorized")


@pytest.mark.long
def test_a_bad_body_or_context_is_a_400_in_ofreps_words(live: Live) -> None:
    base, key, _ = live
    bad = [
        (b"{not json", "PARSE_ERROR"),
        (b"[1, 2]", "PARSE_ERROR"),
        (b'{"context": "customer-1"}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": 42}}', "INVALID_CONTEXT"),
    ]
    with httpx.Client(
        base_url=base, timeout=10, headers={"X-API-Key": key, "Content-Type": "application/json"}
    ) as http:
        for body, code in bad:
            for path, named in (
                ("/ofrep/v1/evaluate/flags/max_items", {"key": "max_items"}),
                ("/ofrep/v1/evaluate/flags", {}),
            ):
                response = http.post(path, content=body)
                assert response.status_code == 400, response.text
                answer = response.json()
                assert answer == {**named, "errorCode": code, "errorDetails": answer["errorDetails"]}, body
