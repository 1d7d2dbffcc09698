"""One line number per order line (docs/orders-and-refunds.md#line-numbers): an order's `items[].line`, its
commission details' `line`, a seller's view of it, a refund's lines and an edit's `remove[].line` all name a
line by the same number, before and after edits; a refund naming a number the order does not have is told
the numbers it has.
"""

from __future__ import annotations

from typing import Any

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.order_edits.test_edits_api import ORDERS, Client, basket, commit, key, place, preview


def details_by_line(order: dict[str, Any]) -> dict[int, set[str]]:
    """The product ids of each line's commission details, by the line number they name."""
    found: dict[int, set[str]] = {}
    for detail in order["commission_breakdown"]["details"]:
        if "line" in detail:
            found.setdefault(detail["line"], set()).add(detail["product_id"])
    return found


async def test_items_details_refunds_and_edits_name_a_line_by_one_number(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings, password_hash: str
) -> None:
    case = await create_product(client, admin, stock=10, seller_id="seller-a")
    cable = await create_product(client, admin, stock=10, base_price="12.00", min_price="5.00", cost_price="2.00")
    lamp = await create_product(client, admin, stock=10, base_price="40.00", seller_id="seller-b")
    order = await place(client, service_key, basket("lines-1", (case, 2), (cable, 1), (lamp, 1)))
    assert [line["line"] for line in order["items"]] == [0, 1, 2]  # an order never edited: its indexes
    assert details_by_line(order) == {0: {case["id"]}, 1: {cable["id"]}, 2: {lamp["id"]}}

    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": cable["id"], "quantity": 1}]}), 201
    )
    edited = expect_ok(await commit(client, service_key, order["id"], shown["edit_id"]))
    numbers = {line["product_id"]: line["line"] for line in edited["items"]}
    assert sorted(numbers.values()) == [3, 4, 5]  # written anew after the lines it retired
    assert details_by_line(edited) == {number: {product} for product, number in numbers.items()}

    # A seller's view shows its lines and their details by the same numbers.
    seller_b = await make_caller(settings, password_hash, "lines-seller-b", "seller", seller_id="seller-b")
    theirs = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=seller_b.headers))
    assert [line["line"] for line in theirs["items"]] == [numbers[lamp["id"]]]
    assert set(details_by_line(theirs)) == {numbers[lamp["id"]]}

    # A refund takes the number the details show; a number the order does not have is told the ones it has.
    url = f"{ORDERS}/{order['id']}/refunds"
    wrong = {"lines": [{"product_id": cable["id"], "quantity": 1, "line": 1}]}
    answer = await client.post(url, json=wrong, headers={**admin.headers, **key()})
    refused = expect_error(answer, 422, "VALIDATION_FAILED")
    message = field_errors(refused)["lines[0].line"]
    assert "3, 4 and 5" in message, message
    right = {"lines": [{"product_id": cable["id"], "quantity": 1, "line": numbers[cable["id"]]}]}
    made = expect_ok(await client.post(url, json=right, headers={**admin.headers, **key()}), 201)
    assert [line["line"] for line in made["lines"]] == [numbers[cable["id"]]]

    # An edit takes the same number; one the order does not have is told the ones it has, as a refund is.
    body = {"remove": [{"product_id": case["id"], "quantity": 1, "line": numbers[case["id"]]}]}
    expect_ok(await preview(client, admin.headers, order["id"], body), 201)
    for field, body in (
        ("remove[0].line", {"remove": [{"product_id": case["id"], "quantity": 1, "line": 0}]}),
        (
            "replace[0].line",
            {
                "replace": [
                    {
                        "product_id": case["id"],
                        "quantity": 1,
                        "line": 1,
                        "with": {"product_id": cable["id"], "quantity": 1},
                    }
                ]
            },
        ),
    ):
        refused = expect_error(await preview(client, admin.headers, order["id"], body), 422, "VALIDATION_FAILED")
        message = field_errors(refused)[field]
        assert "(its lines are 3, 4 and 5)" in message, message
    # A number the order has, on another product's line, says whose line it is.
    body = {"remove": [{"product_id": case["id"], "quantity": 1, "line": numbers[lamp["id"]]}]}
    refused = expect_error(await preview(client, admin.headers, order["id"], body), 422, "VALIDATION_FAILED")
    message = field_errors(refused)["remove[0].line"]
    assert message == f"line {numbers[lamp['id']]} is product {lamp['id']}, not {case['id']}", message
