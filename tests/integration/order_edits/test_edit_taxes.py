"""Tax by code through an edit that moves tax from one code to another (docs/taxes.md#statements): the
statement's `tax_collected_by_code` and `tax_refunded_by_code` add up exactly to its `tax_collected` and
`tax_refunded`, day by day and in total, and the order's lines' components to their tax and to the order's,
before and after the edit and a refund.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.order_edits.test_edits_api import ORDERS, Client, commit, key, place, preview
from tests.integration.price_lists.test_price_list_quotes import basket
from tests.integration.quotes.test_markets import product
from tests.integration.rules.test_compound_taxes_api import OTV_KDV, tax_rule

D = Decimal
SELLER = "taxes-seller"


def add_up(amounts: dict[str, str]) -> Decimal:
    return sum((D(amount) for amount in amounts.values()), D(0))


async def statement(client: Client, admin: Caller) -> dict[str, Any]:
    shown: dict[str, Any] = expect_ok(await client.get(f"/api/v1/sellers/{SELLER}/statement", headers=admin.headers))
    return shown


def check_order(order: dict[str, Any]) -> None:
    for line in order["items"]:
        assert add_up({t["code"]: t["amount"] for t in line["taxes"]}) == D(line["tax"]), line
    assert sum((D(line["tax"]) for line in order["items"]), D(0)) == D(order["tax_amount"])


def check_statement(shown: dict[str, Any]) -> None:
    assert add_up(shown["tax_collected_by_code"]) == D(shown["tax_collected"]), shown
    assert add_up(shown["tax_refunded_by_code"]) == D(shown["tax_refunded"]), shown
    collected = sum((D(day["tax_collected"]) for day in shown["days"]), D(0))
    refunded = sum((D(day["tax_refunded"]) for day in shown["days"]), D(0))
    assert (collected, refunded) == (D(shown["tax_collected"]), D(shown["tax_refunded"]))


async def test_an_edit_moving_tax_between_codes_keeps_the_codes_adding_up_to_the_tax(
    client: Client, admin: Caller
) -> None:
    await tax_rule(client, admin, "phones", OTV_KDV)  # OTV 20 %, then KDV 20 % on the net plus OTV
    await tax_rule(client, admin, "books", {"components": [{"code": "KDV", "rate": 30}]})
    phone = await product(client, admin, "100.00", category_id="phones", seller_id=SELLER, stock=9)
    book = await product(client, admin, "100.00", category_id="books", seller_id=SELLER, stock=9)
    order = await place(client, admin.headers, basket("taxes-1", phone, 2))
    check_order(order)
    before = await statement(client, admin)
    assert before["tax_collected_by_code"] == {"KDV": "48.00", "OTV": "40.00"}
    check_statement(before)

    # A phone for a book: OTV 20.00 and KDV 24.00 go, KDV 30.00 comes: 20.00 of OTV back, 6.00 of KDV more.
    body = {"replace": [{"product_id": phone, "quantity": 1, "with": {"product_id": book, "quantity": 1}}]}
    shown = expect_ok(await preview(client, admin.headers, order["id"], body), 201)
    assert shown["tax_delta"] == "-14.00"
    edited = expect_ok(await commit(client, admin.headers, order["id"], shown["edit_id"]))
    check_order(edited)
    after = await statement(client, admin)
    assert after["tax_collected_by_code"] == {"KDV": "54.00", "OTV": "40.00"}
    assert after["tax_refunded_by_code"] == {"KDV": "0.00", "OTV": "20.00"}
    assert (after["tax_collected"], after["tax_refunded"]) == ("94.00", "20.00")
    assert D(after["tax_collected"]) - D(after["tax_refunded"]) == D(before["tax_collected"]) - 14
    check_statement(after)

    # Then a refund of the book: its KDV comes back, the codes still add up.
    number = next(line["line"] for line in edited["items"] if line["product_id"] == book)
    back = {"lines": [{"product_id": book, "quantity": 1, "line": number}]}
    expect_ok(await client.post(f"{ORDERS}/{order['id']}/refunds", json=back, headers={**admin.headers, **key()}), 201)
    refunded = await statement(client, admin)
    assert refunded["tax_refunded_by_code"] == {"KDV": "30.00", "OTV": "20.00"}
    check_statement(refunded)
    # The ledger's entries still sum to the statement's net tax.
    entries = expect_ok(await client.get(f"/api/v1/sellers/{SELLER}/statement/entries", headers=admin.headers))["items"]
    total = sum((D(entry["tax"]) for entry in entries), D(0))
    assert total == D(refunded["tax_collected"]) - D(refunded["tax_refunded"])
