"""Property (docs/currencies.md): for random rates with 12 decimals and random baskets in TRY, EUR, JPY and KWD,
converted or not, every amount of the quote has its currency's digits, a converted unit is the half-up product
of its catalog unit and rate and times quantity its line, the parts add up, the order equals its quote, and a
full refund gives back exactly what the order charged."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.pricing.money import quantum
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.fx.test_fx_quotes import QUOTE, basket, product_in
from tests.integration.fx.test_fx_rates_api import Client, post_rate
from tests.integration.orders.test_orders_api import key

CURRENCIES = ("TRY", "EUR", "JPY", "KWD")
MONEY = ("subtotal", "discount_amount", "tax_amount", "delivery_fee", "small_basket_fee", "total_amount")
LINE_MONEY = ("unit_price", "line_subtotal", "discount", "tax")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, fx_conversion=True)


def digits_of(amount: str, currency: str) -> bool:
    return Decimal(amount).as_tuple().exponent == quantum(currency).as_tuple().exponent


@examples(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sold_in=st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=3),
    prices=st.lists(st.decimals(Decimal("0.50"), Decimal("900.00"), places=2), min_size=3, max_size=3),
    quantities=st.lists(st.integers(1, 7), min_size=3, max_size=3),
    rates=st.lists(st.decimals(Decimal("0.000001"), Decimal("200"), places=12), min_size=3, max_size=3),
    currency=st.sampled_from(CURRENCIES),
)
async def test_converted_or_not_every_amount_adds_up_and_the_order_and_its_refund_are_exact(
    client: Client,
    admin: Caller,
    sold_in: list[str],
    prices: list[Decimal],
    quantities: list[int],
    rates: list[Decimal],
    currency: str,
) -> None:
    stamp = utcnow().isoformat()
    products = []
    for index, source in enumerate(sold_in):
        price = prices[index].quantize(quantum(source), ROUND_HALF_UP) or quantum(source)
        products.append((await product_in(client, admin, source, str(max(price, Decimal(1)))), source))
        if source != currency:  # the newest rate of the pair (each example's rates are in force from now)
            await post_rate(client, admin, base=source, quote=currency, rate=str(rates[index]), valid_from=stamp)
    body = basket(currency, *[(p["id"], quantities[i]) for i, (p, _) in enumerate(products)])
    quote = expect_ok(await client.post(QUOTE, json=body, headers=admin.headers))

    assert all(digits_of(quote[name], currency) for name in MONEY), quote
    for line, (product, source) in zip(quote["items"], products, strict=True):
        assert all(digits_of(line[name], currency) for name in LINE_MONEY), line
        if source == currency:
            assert "fx" not in line
            continue
        fx: dict[str, Any] = line["fx"]
        unit = (Decimal(fx["source_unit_price"]) * Decimal(fx["rate"])).quantize(quantum(currency), ROUND_HALF_UP)
        assert Decimal(line["list_unit_price"]) == unit, line
        assert Decimal(fx["source_unit_price"]) == Decimal(product["base_price"])
        assert Decimal(line["line_subtotal"]) == Decimal(line["unit_price"]) * line["quantity"], line
    total = sum(Decimal(quote[n]) for n in MONEY[:-1] if n != "discount_amount") - Decimal(quote["discount_amount"])
    assert Decimal(quote["total_amount"]) == total
    assert Decimal(quote["subtotal"]) == sum(Decimal(line["line_subtotal"]) for line in quote["items"])
    if any(source != currency for _, source in products):
        assert "fx" in quote  # and without a converted line, the fees in DEFAULT_CURRENCY may convert
    assert all(rate["quote"] == currency for rate in quote.get("fx", {}).get("rates", [])), quote

    order = expect_ok(
        await client.post("/api/v1/orders", json={"quote_id": quote["quote_id"]}, headers={**admin.headers, **key()}),
        201,
    )
    assert {name: order[name] for name in MONEY} == {name: quote[name] for name in MONEY}
    assert order.get("fx") == quote.get("fx")
    lines = [{"product_id": p["id"], "quantity": quantities[i]} for i, (p, _) in enumerate(products)]
    refund = expect_ok(
        await client.post(
            f"/api/v1/orders/{order['id']}/refunds",
            json={"lines": lines, "include_fees": True},
            headers={**admin.headers, **key()},
        ),
        201,
    )
    assert refund["total_refunded"] == order["total_amount"], (refund, order)
