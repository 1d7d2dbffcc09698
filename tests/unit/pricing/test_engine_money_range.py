"""One ceiling for every money amount (docs/quotes-and-orders.md#the-money-ceiling): a quote whose
prices, lines, totals or commission reach 1,000,000,000,000 is refused with 422 naming the field,
instead of being answered and then failing to be stored (numeric(20, 4)) in the quote log and in
its order.

Amounts are written out in full (no `MAX_AMOUNT` import): the ceiling is what the docs promise.
"""

from __future__ import annotations

from typing import Any

import pytest

from quote_service.errors import ValidationFailed
from quote_service.pricing.quote import EngineDefaults
from tests.unit.pricing.test_engine_support import D, item, offer, product, rate, request, snapshot
from tests.unit.pricing.test_engine_support import quote as quote_anew

DEFAULTS = EngineDefaults(currency="EUR")  # the quotes here are in EUR: their default fees too
"""Shared, so consecutive quotes share the snapshot's plan (what is kept there is checked too)."""


def quote(*args: Any, **kwargs: Any) -> Any:
    return quote_anew(*args, defaults=DEFAULTS, **kwargs)


def refusal(*args: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as refused:
        quote(*args, **kwargs)
    assert (refused.value.code, refused.value.status_code) == ("VALIDATION_FAILED", 422)
    return [(d.field, d.message) for d in refused.value.details]


def test_units_times_price_beyond_the_ceiling_name_the_quantity() -> None:
    """The probe that broke the log: a service key's 999999999999.99 x 10,000 units."""
    basket = request(item("ok", 1, unit_price="1.00"), item("huge", 10_000, unit_price="999999999999.99"))

    [(field, message)] = refusal(basket)

    assert field == "items[1].quantity"
    assert "9999999999999900.00" in message
    assert "1000000000000" in message


def test_the_refused_line_is_refused_again_not_served_from_the_plan() -> None:
    config = snapshot()  # one snapshot: one plan, shared by the three quotes
    basket = request(item("huge", 2, unit_price="600000000000.00"))

    answers = [refusal(basket, config=config) for _ in range(3)]

    assert [fields for [(fields, _)] in answers] == ["items[0].quantity"] * 3


def test_a_basket_just_below_the_ceiling_is_quoted() -> None:
    # 2 x 400,000,000,000.00, tax 18 %: total 944,000,000,010.00 with the 10.00 delivery fee.
    result = quote(request(item("big", 2, unit_price="400000000000.00")))

    assert (result.subtotal, result.total_amount) == (D("800000000000.00"), D("944000000010.00"))


def test_lines_that_add_up_beyond_the_ceiling_name_the_items() -> None:
    basket = request(item("a", 1, unit_price="600000000000.00"), item("b", 1, unit_price="600000000000.00"))

    [(field, message)] = refusal(basket)

    assert field == "items"
    assert "subtotal would be 1200000000000.00" in message


def test_tax_that_takes_the_total_beyond_the_ceiling_names_the_items() -> None:
    # 900,000,000,000.00 is below the ceiling; with 18 % tax the total is not.
    [(field, message)] = refusal(request(item("a", 1, unit_price="900000000000.00")))

    assert field == "items"
    assert "total_amount would be 1062000000010.00" in message


def test_a_catalog_price_stored_beyond_the_ceiling_refuses_the_item() -> None:
    """Legacy data (stored before the ceiling was enforced) is refused clearly, not priced."""
    legacy = product("5000000000000.00")

    [(field, message)] = refusal(request(item(legacy, 1)), products=[legacy])

    assert field == "items[0].product_id"
    assert "list price (5000000000000.00)" in message


def test_a_catalog_price_times_units_beyond_the_ceiling_names_the_quantity() -> None:
    """A shopper's route: a catalog price of 4.3e9 (accepted) x 300 units."""
    pricey = product("4300000000.00")

    [(field, _)] = refusal(request(item(pricey, 300)), products=[pricey])

    assert field == "items[0].quantity"


def test_a_flash_price_beyond_the_ceiling_refuses_the_item() -> None:
    cheap = product("10.00")

    [(field, message)] = refusal(request(item(cheap, 1)), products=[cheap], flash={cheap: offer(cheap, "2e12")})

    assert field == "items[0].product_id"
    assert "flash-sale price" in message


def test_commission_beyond_the_ceiling_names_the_items() -> None:
    per_unit = rate(commission_type="FLAT", rate=D("600000000000.00"))

    [(field, message)] = refusal(request(item("a", 2, unit_price="1.00")), rates=[per_unit])

    assert field == "items"
    assert "total_commission would be 1200000000000.00" in message
