"""Quotes with tax and shipping extensions (docs/extensions.md), against real loopback HTTP servers: the
example tax engine (examples/tax_extension.py, which checks every signature with `standardwebhooks`) and a
recording receiver that can be slow, failing or malformed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from litestar import Litestar

from quote_service.config import Settings
from quote_service.extensions.caller import ExtensionCaller
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.extensions.helpers import QUOTE, Client, basket, extension, product, tax_engine
from tests.webhook_receiver import Receiver, receiving


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


def tax_answer(*lines: tuple[int, str]) -> bytes:
    return json.dumps({"lines": [{"line": i, "taxes": [{"code": "VAT", "amount": a}]} for i, a in lines]}).encode()


async def quoted(client: Client, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    quote: dict[str, Any] = expect_ok(await client.post(QUOTE, json=body, headers=caller.headers))
    return quote


async def test_the_tax_engine_taxes_its_sellers_lines_and_the_others_keep_the_services_rules(
    client: Client, admin: Caller
) -> None:
    own = await product(client, admin, "10.00", seller="seller-1")
    other = await product(client, admin, "40.00", seller="seller-2")
    internal = await quoted(client, admin, basket((own, 3), (other, 1)))
    assert "tax_source" not in internal

    made = await extension(client, admin, "http://127.0.0.1:9/unused", applies_to={"seller_ids": ["seller-1"]})
    with tax_engine(made["secret"], rate="19") as url:
        expect_ok(await client.patch(f"/api/v1/extensions/{made['id']}", json={"url": url}, headers=admin.headers))
        quote = await quoted(client, admin, basket((own, 3), (other, 1)))
    taxed, untouched = quote["items"]
    assert quote["tax_source"] == "extension"
    assert "warnings" not in quote  # the engine verified the signature: a bad one answers 401, a fallback
    assert (taxed["tax"], taxed["tax_source"], taxed["taxes"]) == (
        "5.70",
        "extension",
        [{"code": "VAT", "rate": "19", "base": "30.00", "amount": "5.70"}],
    )
    assert untouched == internal["items"][1]
    assert Decimal(quote["tax_amount"]) == Decimal(taxed["tax"]) + Decimal(untouched["tax"])
    assert Decimal(quote["total_amount"]) == (
        Decimal(quote["subtotal"])
        - Decimal(quote["discount_amount"])
        + Decimal(quote["tax_amount"])
        + Decimal(quote["delivery_fee"])
        + Decimal(quote["small_basket_fee"])
    )


async def test_a_quote_no_extension_matches_calls_none_and_reads_as_before(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00")
    before = await quoted(client, admin, basket((item, 1), country="FR"))
    await extension(client, admin, receiver.url(), applies_to={"countries": ["DE"]})
    after = await quoted(client, admin, basket((item, 1), country="FR", customer="another"))
    assert receiver.snapshot() == []
    assert "tax_source" not in after
    assert after["items"] == before["items"]
    assert after["total_amount"] == before["total_amount"]


async def test_each_call_is_signed_as_webhooks_are_and_carries_the_matching_lines(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    own = await product(client, admin, "12.50", seller="seller-1")
    other = await product(client, admin, "40.00", seller="seller-2")
    made = await extension(client, admin, receiver.url(), applies_to={"seller_ids": ["seller-1"]})
    receiver.answer = tax_answer((1, "2.38"))
    quote = await quoted(client, admin, basket((other, 1), (own, 2)))
    assert quote["items"][1]["tax"] == "2.38"
    (payload,) = receiver.verified(made["secret"])  # standardwebhooks checks the signature
    assert payload["currency"] == "EUR"
    assert payload["delivery_address"]["country"] == "DE"
    assert payload["lines"] == [
        {
            "line": 1,
            "product_id": own,
            "seller_id": "seller-1",
            "category_id": "books",
            "quantity": 2,
            "net": "25.00",
            "gross": "25.00",
        }
    ]
    assert payload["shipments"] == [{"seller_id": "seller-1", "lines": [1], "goods": "25.00"}]
    # An identical request within the quote's validity reuses the answer: no second call.
    again = await quoted(client, admin, basket((other, 1), (own, 2)))
    assert again["quote_id"] == quote["quote_id"]
    assert len(receiver.snapshot()) == 1


@pytest.mark.parametrize(
    ("status", "answer", "delay"),
    [
        (500, b"{}", 0.0),  # an error
        (200, b"not json", 0.0),  # malformed
        (200, b'{"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": "1.005"}]}]}', 0.0),  # too many decimals
        (200, b'{"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": "-1.00"}]}]}', 0.0),  # negative
        (200, b'{"lines": []}', 0.0),  # a missing line
        (200, b'{"lines": [{"line": 0, "taxes": []}]}', 1.0),  # slower than timeout_ms
        (302, b"", 0.0),  # a redirect is not followed
    ],
)
async def test_a_bad_answer_falls_back_to_the_services_rules_with_a_warning(
    client: Client, admin: Caller, receiver: Receiver, status: int, answer: bytes, delay: float
) -> None:
    item = await product(client, admin, "10.00")
    internal = await quoted(client, admin, basket((item, 1), customer="before"))
    made = await extension(client, admin, receiver.url(), timeout_ms=200)
    receiver.status, receiver.answer, receiver.delay = status, answer, delay
    receiver.location = "http://127.0.0.1:9/elsewhere" if status == 302 else None
    quote = await quoted(client, admin, basket((item, 1)))
    assert quote["warnings"] == [{"code": "EXTENSION_FALLBACK", "extension_id": made["id"]}]
    assert quote["tax_source"] == "internal"
    assert (quote["tax_amount"], quote["total_amount"]) == (internal["tax_amount"], internal["total_amount"])
    assert len(receiver.snapshot()) == 1
    # A fallback quote is not handed out again: the same request asks the extension again.
    await quoted(client, admin, basket((item, 1)))
    assert len(receiver.snapshot()) == 2


async def test_reject_answers_503_with_retry_after_and_stores_nothing(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00")
    await extension(client, admin, receiver.url(), timeout_ms=100, on_failure="reject")
    receiver.delay = 0.5
    response = await client.post(QUOTE, json=basket((item, 1)), headers=admin.headers)
    expect_error(response, 503, "EXTENSION_UNAVAILABLE")
    assert int(response.headers["retry-after"]) > 0


async def test_five_failures_open_the_circuit_for_30_s_then_one_trial_call_closes_it(
    client: Client, app: Litestar, admin: Caller, receiver: Receiver
) -> None:
    caller: ExtensionCaller = app.state.extension_caller
    now = [1000.0]
    caller.clock = lambda: now[0]
    item = await product(client, admin, "10.00")
    made = await extension(client, admin, receiver.url())
    receiver.status = 500
    for n in range(5):
        await quoted(client, admin, basket((item, 1), customer=f"c{n}"))
    assert len(receiver.snapshot()) == 5
    assert caller.circuit(uuid.UUID(made["id"])) == "open"
    # Open: no call, the fallback at once.
    quote = await quoted(client, admin, basket((item, 1), customer="open"))
    assert quote["warnings"] == [{"code": "EXTENSION_FALLBACK", "extension_id": made["id"]}]
    assert len(receiver.snapshot()) == 5
    metrics = (await client.get("/metrics", headers=admin.headers)).text
    assert f'qs_extension_circuit_state{{extension_id="{made["id"]}"}} 1.0' in metrics
    assert f'qs_extension_failures_total{{extension_id="{made["id"]}",reason="circuit_open"}}' in metrics
    assert f'qs_extension_failures_total{{extension_id="{made["id"]}",reason="http_error"}} 5.0' in metrics
    assert f'qs_extension_calls_total{{extension_id="{made["id"]}",kind="tax",result="failed"}} 5.0' in metrics
    assert f'qs_extension_call_seconds_count{{extension_id="{made["id"]}"}} 5.0' in metrics
    # 30 s later one trial call goes through; it succeeds and closes the circuit.
    now[0] += 30
    receiver.status, receiver.answer = 200, tax_answer((0, "1.00"))
    quote = await quoted(client, admin, basket((item, 1), customer="trial"))
    assert quote["tax_amount"] == "1.00"
    assert len(receiver.snapshot()) == 6
    assert caller.circuit(uuid.UUID(made["id"])) == "closed"


async def test_a_shipping_extension_replaces_the_sellers_options(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00", seller="seller-1")
    await extension(client, admin, receiver.url(), kind="shipping")
    receiver.answer = json.dumps(
        {
            "shipments": [
                {
                    "seller_id": "seller-1",
                    "options": [
                        {"code": "dhl", "name": "DHL", "fee": "4.90", "eta_days_min": 1, "eta_days_max": 3},
                        {"code": "post", "name": "Post", "fee": "3.50", "eta_days_min": 2, "eta_days_max": 5},
                    ],
                }
            ]
        }
    ).encode()
    quote = await quoted(client, admin, basket((item, 2)))
    (shipment,) = quote["shipments"]
    assert [(o["code"], o["fee"]) for o in shipment["options"]] == [("dhl", "4.90"), ("post", "3.50")]
    assert (shipment["selected"], shipment["delivery_fee"], quote["delivery_fee"]) == ("post", "3.50", "3.50")
    assert quote["tax_source"] == "internal"
    chosen = await quoted(client, admin, {**basket((item, 2)), "shipping": {"seller-1": "dhl"}})
    assert chosen["delivery_fee"] == "4.90"


async def test_the_order_keeps_the_extensions_amounts_and_refunds_them_pro_rata_exactly(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00")
    await extension(client, admin, receiver.url())
    receiver.answer = json.dumps(
        {"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": "1.00"}, {"code": "ECO", "amount": "0.10"}]}]}
    ).encode()
    quote = await quoted(client, admin, basket((item, 3)))
    assert quote["tax_amount"] == "1.10"
    headers = {**admin.headers, "Idempotency-Key": "ext-order"}
    order = expect_ok(await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers=headers), 201)
    assert order["tax_source"] == "extension"
    (line,) = order["items"]
    assert (line["tax"], line["tax_source"]) == ("1.10", "extension")
    assert [(t["code"], t["amount"]) for t in line["taxes"]] == [("VAT", "1.00"), ("ECO", "0.10")]
    read = expect_ok(await client.get(f"/api/v1/orders/{order['id']}", headers=admin.headers))
    assert read["tax_source"] == "extension"
    given: dict[str, Decimal] = {"VAT": Decimal(0), "ECO": Decimal(0)}
    total_tax = Decimal(0)
    for n in range(3):
        refund = expect_ok(
            await client.post(
                f"/api/v1/orders/{order['id']}/refunds",
                json={"lines": [{"product_id": item, "quantity": 1}]},
                headers={**admin.headers, "Idempotency-Key": f"ext-refund-{n}"},
            ),
            201,
        )
        (back,) = refund["lines"]
        total_tax += Decimal(back["tax"])
        for part in back["taxes"]:
            given[part["code"]] += Decimal(part["amount"])
    assert (total_tax, given) == (Decimal("1.10"), {"VAT": Decimal("1.00"), "ECO": Decimal("0.10")})
    # The seller's statement counts the extension's amounts by code and says how much came from extensions.
    statement = expect_ok(await client.get("/api/v1/sellers/seller-1/statement", headers=admin.headers))
    assert (statement["tax_collected"], statement["tax_refunded"]) == ("1.10", "1.10")
    assert statement["tax_collected_by_code"] == {"ECO": "0.10", "VAT": "1.00"}
    assert (statement["tax_collected_from_extensions"], statement["tax_refunded_from_extensions"]) == ("1.10", "1.10")


async def test_a_quotes_extensions_are_called_at_once_not_one_after_another(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00", seller="seller-1")
    with receiving() as shipper:
        await extension(client, admin, receiver.url(), timeout_ms=1000)
        await extension(client, admin, shipper.url(), kind="shipping", timeout_ms=1000)
        receiver.answer, receiver.delay = tax_answer((0, "1.00")), 0.4
        shipper.delay = 0.4
        shipper.answer = json.dumps(
            {"shipments": [{"seller_id": "seller-1", "options": [
                {"code": "std", "name": "Standard", "fee": "2.00", "eta_days_min": 1, "eta_days_max": 2}]}]}
        ).encode()  # fmt: skip
        quote = await quoted(client, admin, basket((item, 1)))
        (taxed,) = receiver.snapshot()
        (shipped,) = shipper.snapshot()
    assert (quote["tax_amount"], quote["delivery_fee"], quote["tax_source"]) == ("1.00", "2.00", "extension")
    # One after another, the second call would start after the first's 0.4 s answer.
    assert abs(taxed.at - shipped.at) < 0.3
