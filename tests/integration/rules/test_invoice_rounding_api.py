"""TAX_CALCULATION = INVOICE over HTTP (docs/taxes.md#rounding-modes): tax per code and rate on the sum of the
lines, rounded once, given back by largest remainder (ties to the lower line); per price list too; the order
keeps it and refunds give back each line's tax exactly."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.price_lists.test_price_list_quotes import priced
from tests.integration.quotes.test_markets import ordered, product
from tests.integration.rules.test_compound_taxes_api import Client


def three(items: list[str], **overrides: object) -> dict[str, object]:
    return {
        "customer_id": "c-invoice",
        "items": [{"product_id": item, "quantity": 1} for item in items],
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "currency": "TRY",
        **overrides,
    }


async def test_a_price_list_rounds_once_per_invoice_and_the_lines_add_up_to_it(client: Client, admin: Caller) -> None:
    """Three lines of 0.10 at 18 %: 0.018 each. Per line 0.02 x 3 = 0.06; per invoice round(0.054) = 0.05,
    given back 0.02, 0.02, 0.01 (equal remainders: the lower lines take the cents)."""
    items = [await product(client, admin, "0.10") for _ in range(3)]
    body = {"name": "Invoice", "currency": "TRY", "customer_groups": ["invoiced"], "tax_calculation": "INVOICE"}
    body["prices"] = [{"product_id": item, "amount": "0.10"} for item in items]
    created = expect_ok(await client.post("/api/v1/price-lists", json=body, headers=admin.headers), 201)
    assert created["tax_calculation"] == "INVOICE"
    bad = {**body, "name": "Bad", "tax_calculation": "PER_BASKET"}
    refused = expect_error(
        await client.post("/api/v1/price-lists", json=bad, headers=admin.headers), 422, "VALIDATION_FAILED"
    )
    assert set(field_errors(refused)) == {"tax_calculation"}

    plain = await priced(client, admin.headers, three(items))
    invoiced = await priced(client, admin.headers, three(items, customer_group="invoiced"))
    assert [line["tax"] for line in plain["items"]] == ["0.02", "0.02", "0.02"]
    assert [line["tax"] for line in invoiced["items"]] == ["0.02", "0.02", "0.01"]
    assert invoiced["tax_amount"] == "0.05"
    assert invoiced["rounding"] == {"mode": "HALF_UP", "tax_calculation": "INVOICE"}
    assert [t["amount"] for line in invoiced["items"] for t in line["taxes"]] == ["0.02", "0.02", "0.01"]

    order = await ordered(client, admin.headers, invoiced["quote_id"], uuid.uuid4().hex)
    assert order["rounding"] == {"mode": "HALF_UP", "tax_calculation": "INVOICE"}
    assert [line["tax"] for line in order["items"]] == ["0.02", "0.02", "0.01"]
    refund = expect_ok(
        await client.post(
            f"/api/v1/orders/{order['id']}/refunds",
            json={"lines": [{"product_id": items[2], "quantity": 1}]},
            headers={**admin.headers, "Idempotency-Key": uuid.uuid4().hex},
        ),
        201,
    )
    assert Decimal(refund["total_refunded"]) == Decimal("0.11")  # 0.10 + the 0.01 of tax that line charged
