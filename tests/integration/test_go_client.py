"""A client written for the Go Pricing & Commission Service, run unchanged (issue 34's "done when").

It holds an admin API key whose money format is numbers and sends no header of ours; it sets the
Go README's rates up with a bare list on PUT /commission-rates/bulk, changes one with
PUT {"rate": ...}, PUTs a flag's create body back, and prices the README's basket. Every answer
is decoded as Go's encoding/json decodes it: numbers into float64, so a string where the Go
service wrote a number would fail the client.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.commissions.test_commission_components import GO_QUOTE, GO_RATES, rate_body
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.web.test_money_format import decimal_strings, go_decode

Client = AsyncTestClient[Litestar]


async def test_a_go_client_configures_and_quotes_unchanged(client: Client, admin: Caller) -> None:
    body = {"name": "go-client", "role": "admin", "money_format": "number"}
    go = {"X-API-Key": expect_ok(await client.post("/api/v1/api-keys", json=body, headers=admin.headers), 201)["key"]}

    async def call(method: str, path: str, body: Any) -> Any:
        response = await client.request(method, path, json=body, headers=go)
        assert response.status_code in (200, 201), response.text
        data = go_decode(response.text)["data"]
        assert decimal_strings(data) == [], f"{method} {path} wrote decimals as strings"
        return data

    first_seller = {**GO_RATES[0], "rate": 3.0}
    bulk = await call("PUT", "/api/v1/commission-rates/bulk", [rate_body(**r) for r in [first_seller, *GO_RATES[1:]]])
    seller = await call("PUT", f"/api/v1/commission-rates/{bulk['items'][0]['id']}", {"rate": 3.25})
    flag = {"key": "dynamic_pricing", "name": "Dynamic pricing", "type": "BOOLEAN", "value": True}
    created = await call("POST", "/api/v1/feature-flags", flag)
    put_back = await call("PUT", f"/api/v1/feature-flags/{created['id']}", {**flag, "name": "Dynamic pricing (Go)"})
    quote = await call("POST", "/api/v1/quote", GO_QUOTE)

    assert (bulk["created"], [r["rate"] for r in bulk["items"]]) == (3, [3, 1.5, 1.9])
    assert (seller["rate"], seller["seller_id"], seller["commission_type"]) == (3.25, "go-seller", "FLAT")
    assert (put_back["key"], put_back["name"], put_back["value"]) == ("dynamic_pricing", "Dynamic pricing (Go)", True)
    assert (quote["subtotal"], quote["tax_amount"], quote["delivery_fee"], quote["total_amount"]) == (
        51.0,
        9.18,
        20.0,
        80.18,
    )
    assert quote["feature_flags"]["dynamic_pricing"] is True
    breakdown = quote["commission_breakdown"]
    assert (
        breakdown["seller_commission"],
        breakdown["category_commission"],
        breakdown["logistics_commission"],
        breakdown["total_commission"],
    ) == (6.5, 0.77, 0.38, 7.65)
