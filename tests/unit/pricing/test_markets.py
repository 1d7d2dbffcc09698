"""The pure engine in real markets (docs/markets.md): gross lines through flash prices, floors and
promotions; commission rates without a currency; default fees in DEFAULT_CURRENCY."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from quote_service.pricing.promotions import PercentOff
from quote_service.pricing.quote import CatalogProduct, EngineDefaults, FlashOffer
from quote_service.pricing.rules import DeliveryFeeConfig, SmallBasketConfig, TaxRateConfig
from tests.unit.pricing.test_engine_support import SINCE, D, coupon, item, promotion, quote, rate, request, rule

EUR = EngineDefaults(currency="EUR")


def gross(price: str, *, min_price: str = "0", currency: str = "EUR") -> CatalogProduct:
    return CatalogProduct(
        id=uuid4(),
        currency=currency,
        current_price=D(price),
        min_price=D(min_price),
        category_id="books",
        seller_id="s1",
        is_active=True,
        prices_include_tax=True,
    )


def test_a_gross_flash_price_contains_its_tax_and_takes_no_coupon() -> None:
    made = gross("120.00")
    offer = FlashOffer(
        flash_sale_id=uuid4(), product_id=made.id, flash_price=D("60.00"), remaining_stock=1, customer_remaining_limit=1
    )
    taxes = [rule(TaxRateConfig(rate=D(20)))]

    result = quote(
        request(item(made, 2), coupon_codes=["TEN"]),
        products=[made],
        flash={made: offer},
        rules=taxes,
        coupons=[coupon("TEN")],
        defaults=EUR,
    )

    flash_line, rest = result.items
    assert (flash_line.price_source, flash_line.gross, flash_line.tax, flash_line.net) == (
        "flash_sale",
        D("60.00"),
        D("10.00"),
        D("50.00"),
    )
    assert (rest.discount, rest.gross, rest.tax, rest.net) == (D("12.00"), D("108.00"), D("18.00"), D("90.00"))
    assert (result.tax_amount, result.tax_included) == (D("0.00"), D("28.00"))
    assert result.total_amount == D("178.00")  # 180.00 - 12.00 + 0.00 tax added + 10.00 delivery


def test_a_gross_floor_stops_a_promotion_at_min_price_gross() -> None:
    made = gross("100.00", min_price="95.00")

    result = quote(
        request(item(made, 1)), products=[made], promotions=[promotion(PercentOff(percent=D(20)))], defaults=EUR
    )

    line = result.items[0]
    assert (line.discount, line.gross, line.at_min_price) == (D("5.00"), D("95.00"), True)
    assert line.tax == D("14.49")  # 95.00 x 18 / 118 = 14.4915...
    assert line.net == D("80.51")


def test_a_currency_less_percentage_applies_in_every_currency_and_one_in_the_currency_wins_a_tie() -> None:
    # Newer, so only the currency rule lets the EUR rate win their tie (priority, specificity, region).
    anywhere = rate(rate=D(6), currency=None, category_id="books", created_at=SINCE + timedelta(days=1))
    in_euros = rate(rate=D(7), currency="EUR", category_id="books")
    lira_fee = rate(commission_type="FLAT", rate=D("1.00"), currency="TRY", seller_id="s1")
    basket = request(item("b", 2, unit_price="10.00", category_id="books", seller_id="s1"))

    euro = quote(basket, rates=[anywhere, lira_fee], defaults=EUR)
    tied = quote(basket, rates=[anywhere, in_euros], defaults=EUR)
    yen = quote(
        request(item("b", 2, unit_price="1000", category_id="books"), currency="JPY"),
        rates=[anywhere, in_euros],
        defaults=EUR,
    )

    assert [(d.rate_id, d.amount) for d in euro.commission_breakdown.details] == [(anywhere.id, D("1.20"))]
    assert [(d.rate_id, d.amount) for d in tied.commission_breakdown.details] == [(in_euros.id, D("1.40"))]
    assert [(d.rate_id, d.amount) for d in yen.commission_breakdown.details] == [(anywhere.id, D("120"))]


def test_default_fees_apply_only_in_the_default_currency() -> None:
    basket = request(item("x", 1, unit_price="3.337"), currency="KWD", is_express_delivery=True)
    lira = EngineDefaults(currency="TRY")

    bare = quote(basket, defaults=lira)
    kwd_delivery = rule(DeliveryFeeConfig(base_fee=D("1.250"), currency="KWD"))
    kwd_small = rule(SmallBasketConfig(threshold=D(5), fee=D("0.500"), currency="KWD"))
    lira_small = rule(SmallBasketConfig(threshold=D(50), fee=D(5)), priority=9)  # no currency: TRY
    ruled = quote(basket, rules=[kwd_delivery, kwd_small, lira_small], defaults=lira)

    assert (bare.delivery_fee, bare.small_basket_fee) == (D("0.000"), D("0.000"))
    steps = {c.step: c.description for c in bare.pricing_breakdown.calculations}
    assert steps["delivery"] == "no delivery fee in KWD (the default is in TRY), express delivery x2.0"
    assert steps["small_basket"] == "none: no small-basket fee in KWD (the default is in TRY)"
    assert (ruled.delivery_fee, ruled.small_basket_fee) == (D("2.500"), D("0.500"))  # express x2 on 1.250
    assert ruled.total_amount == D("6.938")  # 3.337 + 0.601 + 2.500 + 0.500
