"""The quote engine's steps, each run alone on what the steps before it answered (pricing/quote_steps.py,
pricing/quote_answer.py): what each hands on, and that the calculation steps follow the order they apply."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from msgspec import UNSET

from quote_service.errors import ValidationFailed
from quote_service.pricing.engine import price_quote, region_for
from quote_service.pricing.lines import HeldPrice
from quote_service.pricing.money import MAX_AMOUNT
from quote_service.pricing.quote import (
    CatalogProduct,
    CustomerContext,
    QuantityLimit,
    QuoteRequest,
)
from quote_service.pricing.quote_answer import lines_shown, refuse_beyond_ceiling
from quote_service.pricing.quote_steps import (
    QuoteInputs,
    coupon_codes,
    fees,
    line_taxes,
    quote_lines,
    shipments,
)
from quote_service.pricing.snapshot import ConfigSnapshot
from tests.unit.pricing.test_engine_support import (
    EUR_DEFAULTS,
    NOW,
    QUOTE_ID,
    D,
    coupon,
    item,
    offer,
    product,
    request,
    snapshot,
)

CUSTOMER = CustomerContext(customer_id="c-1")


def inputs_of(
    req: QuoteRequest,
    config: ConfigSnapshot,
    *products: CatalogProduct,
    flags: dict[str, Any] | None = None,
    **kwargs: Any,
) -> QuoteInputs:
    """Steps 1-4 (`quote_lines`): the lines and what steps 5-10 read of them."""
    region = region_for(req, snapshot=config, defaults=EUR_DEFAULTS, now=NOW)
    products_by_id = {str(p.id): p for p in products}
    return quote_lines(
        req, config, region, CUSTOMER, EUR_DEFAULTS, flags or {}, NOW, None, products_by_id, kwargs.get("flash", {}),
        None, kwargs.get("held"), None,
    )  # fmt: skip


def test_the_lines_step_splits_flash_units_and_the_sums_add_them_up() -> None:
    book = product("10.00")
    config = snapshot()
    req = request(item(book, 3))
    sums = inputs_of(req, config, book, flash={str(book.id): offer(book, "6.00", limit=1)})
    assert [(line.priced.source, line.priced.units) for line in sums.lines] == [("flash_sale", 1), ("catalog", 2)]
    assert (sums.item_total, sums.subtotal, sums.has_flash) == (D("30.00"), D("26.00"), True)
    assert (sums.flash_total, sums.flash_list_total, sums.inclusive, sums.compound) == (
        D("6.00"),
        D("10.00"),
        False,
        False,
    )


def test_the_inputs_read_the_flags_knobs_once() -> None:
    book = product("10.00")
    config = snapshot()
    req = request(item(book))
    plain = inputs_of(req, config, book)
    assert (plain.multiplier, plain.threshold, plain.subtotal) == (None, None, D("10.00"))
    served = inputs_of(req, config, book, flags={"express_delivery_multiplier": 2, "small_basket_threshold": "25"})
    assert (served.multiplier, served.threshold) == (D(2), D(25))


def test_the_coupon_step_adds_a_coupon_to_what_the_promotions_took() -> None:
    book = product("10.00")
    config = snapshot(coupons=[coupon("TAKE1", "FIXED", "1.00")])
    req = request(item(book), coupon_codes=["TAKE1"])
    inputs = inputs_of(req, config, book)
    lines = inputs.lines
    results, discount = coupon_codes(inputs, lines, D("0.00"), False)
    assert [(r.code, r.reason, r.amount) for r in results] == [("TAKE1", None, D("1.00"))]
    assert discount == D("1.00") == sum(line.discount for line in lines)


def test_the_tax_step_follows_the_default_terms_unless_an_exemption_is_stated() -> None:
    book = product("10.00")
    config = snapshot()
    for exemption, has_terms in ((None, False), ("reverse_charge", True)):
        req = request(item(book), tax_exemption=exemption)
        inputs = inputs_of(req, config, book)
        taxed = line_taxes(inputs, inputs.lines, None, None)
        settled, terms, _ = taxed
        assert (terms is not None) is has_terms
        assert len(settled.items) == 1


def test_without_shipping_profiles_there_are_no_shipments_and_one_delivery_fee() -> None:
    book = product("10.00")
    config = snapshot()
    req = request(item(book))
    inputs = inputs_of(req, config, book)
    assert shipments(inputs, inputs.lines, {str(book.id): book}, None, None) is None
    delivery, fee, _, applied, rejected, waived_by = fees(inputs, D("10.00"), None, None, [])
    assert fee == inputs.delivery(D("10.00")).amount == delivery.amount
    assert (waived_by, applied, rejected) == ("coupon", [], [])


def test_the_lines_shown_carry_each_held_price_s_offer_by_position() -> None:
    book = product("10.00")
    config = snapshot()
    req = request(item(book), item(book, 2))
    offer_id = uuid4()
    held = [
        HeldPrice("catalog", D("10.00"), D("10.00"), D(0), False, "books", "seller-1", book.id),
        HeldPrice("catalog", D("10.00"), D("10.00"), D(0), False, "books", "seller-1", book.id, offer_id=offer_id),
    ]
    inputs = inputs_of(req, config, book, held=held)
    items = line_taxes(inputs, inputs.lines, None, None)[0].items
    shown = lines_shown(items, req, (held, None), None, inputs.region.zero)
    assert [line.offer_id for line in shown] == [UNSET, offer_id]
    assert lines_shown(items, req, (None, None), None, inputs.region.zero) is items


def test_the_ceiling_names_the_first_sum_that_reaches_it() -> None:
    book = product("10.00")
    sums = inputs_of(request(item(book)), snapshot(), book)
    refusal = refuse_beyond_ceiling(sums, MAX_AMOUNT, MAX_AMOUNT)
    assert isinstance(refusal, ValidationFailed)
    assert "total_amount" in str(refusal.details)
    assert "total_commission" in str(refuse_beyond_ceiling(sums, D("10.00"), MAX_AMOUNT).details)


@pytest.mark.parametrize("flash", [False, True])
def test_the_calculation_steps_are_built_in_the_order_they_apply(flash: bool) -> None:
    book = product("10.00")
    config = snapshot()
    req = request(item(book, 2))
    limit = QuantityLimit(product_id=str(book.id), max_per_customer=5, window_days=30, remaining_for_customer=3)
    quote = price_quote(
        req, snapshot=config, products={str(book.id): book}, flash={str(book.id): offer(book, "6.00")} if flash else {},
        customer=CUSTOMER, defaults=EUR_DEFAULTS, now=NOW, quote_id=QUOTE_ID, quantity_limits=[limit],
    )  # fmt: skip
    steps = [step.step for step in quote.pricing_breakdown.calculations]
    first = ["items", "flash_sale"] if flash else ["items"]
    assert steps == [*first, "price_rules", "discount", "tax", "delivery", "small_basket"]
    assert quote.pricing_breakdown.calculations[-1].running_total == quote.total_amount
    assert quote.quantity_limits == [limit]
