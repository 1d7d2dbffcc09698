"""Converting a price into the quote's currency (pricing/fx_convert.py): half up to the currency's minor unit,
lifted to its ending, the rates a quote used locked with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quote_service.pricing.fx_convert import NO_RATES, Converter, ending_problem, lifted
from quote_service.pricing.fx_rates import FxBook, StoredRate
from quote_service.pricing.money import quantum

pytestmark = pytest.mark.unit
AT = datetime(2026, 6, 1, tzinfo=UTC)


def book(*pairs: tuple[str, str, str]) -> FxBook:
    return FxBook(
        StoredRate(
            id=uuid.uuid4(), base=base, quote=quote, rate=Decimal(rate), source="manual",
            valid_from=AT - timedelta(days=1), created_at=AT - timedelta(days=1),
        )
        for base, quote, rate in pairs
    )  # fmt: skip


@pytest.mark.parametrize(
    ("unit", "ending", "cent", "lifted_to"),
    [
        (Decimal("0.87"), "0.99", Decimal("0.01"), Decimal("0.99")),
        (Decimal("1.00"), "0.99", Decimal("0.01"), Decimal("1.99")),
        (Decimal("4.99"), "0.99", Decimal("0.01"), Decimal("4.99")),  # already on its ending: stays
        (Decimal("0.95"), "whole", Decimal("0.01"), Decimal("1.00")),
        (Decimal("3.00"), "whole", Decimal("0.01"), Decimal("3.00")),
        (Decimal("174"), "whole", Decimal("1"), Decimal("174")),
        (Decimal("2.50"), None, Decimal("0.01"), Decimal("2.50")),
        (Decimal("7.10"), "0.00", Decimal("0.01"), Decimal("8.00")),
    ],
)
def test_a_unit_is_lifted_to_the_smallest_price_on_its_ending(
    unit: Decimal, ending: str | None, cent: Decimal, lifted_to: Decimal
) -> None:
    assert lifted(unit, ending, cent) == lifted_to


@given(st.decimals(Decimal("0.01"), Decimal("99999.99"), places=2), st.sampled_from(["whole", "0.99", "0.49", "0.00"]))
def test_a_lifted_unit_is_the_least_on_its_ending_at_or_above_it(unit: Decimal, ending: str) -> None:
    shown = lifted(unit, ending, Decimal("0.01"))
    step = Decimal(1)
    assert unit <= shown < unit + step
    assert shown - shown.to_integral_value(rounding="ROUND_FLOOR") == (0 if ending == "whole" else Decimal(ending))


@pytest.mark.parametrize("ending", ["0.999", "1", "-0.01", "x", "NaN"])
def test_what_is_no_ending_is_named(ending: str) -> None:
    assert ending_problem(ending) is not None
    assert ending_problem("0.99") is None
    assert ending_problem("whole") is None


@given(
    st.decimals(Decimal("0.01"), Decimal("99999.99"), places=2),
    st.decimals(Decimal("0.000000000001"), Decimal("999.999999999999"), places=12),
    st.sampled_from(["EUR", "JPY", "KWD", "TRY"]),
)
def test_a_converted_unit_has_its_currency_s_digits_and_is_the_half_up_product(
    amount: Decimal, rate: Decimal, currency: str
) -> None:
    converter = Converter(book(("SEK", currency, str(rate))), currency, AT, ())
    conversion = converter.rate("SEK")
    assert conversion is not None
    unit, shown = converter.unit(conversion, amount)
    assert unit == (amount * rate).quantize(quantum(currency), ROUND_HALF_UP)
    assert unit.as_tuple().exponent == quantum(currency).as_tuple().exponent
    assert (shown.source_currency, shown.source_unit_price, shown.rate) == ("SEK", amount, rate)


def test_the_quote_locks_each_rate_it_used_once_and_nothing_when_it_converted_nothing() -> None:
    converter = Converter(book(("SEK", "EUR", "0.087"), ("EUR", "NOK", "11.5")), "EUR", AT, (("EUR", "0.99"),))
    assert converter.locked(AT) is None
    first, again = converter.rate("SEK"), converter.rate("SEK")
    assert first is again
    assert converter.rate("NOK") is not None  # the inverse of EUR → NOK
    assert converter.rate("CHF") is None
    locked = converter.locked(AT + timedelta(minutes=15))
    assert locked is not None
    assert [(r.base, r.quote) for r in locked.rates] == [("SEK", "EUR"), ("NOK", "EUR")]
    assert locked.locked_until == AT + timedelta(minutes=15)
    assert Converter(NO_RATES, "EUR", AT, ()).rate("SEK") is None


def test_a_commission_rate_s_amounts_convert_and_its_percentages_stay() -> None:
    from quote_service.pricing.commission import CommissionRate, Tier
    from quote_service.pricing.fx_convert import converted_commission_rate

    conversion = book(("TRY", "EUR", "0.025")).rate("TRY", "EUR", AT)
    assert conversion is not None
    common = {"id": uuid.uuid4(), "currency": "TRY", "effective_from": AT, "created_at": AT}
    flat = CommissionRate(commission_type="FLAT", rate=Decimal("100.00"), min_amount=Decimal("1.01"), **common)
    shown = converted_commission_rate(flat, conversion, "EUR")
    assert (shown.rate, shown.min_amount, shown.max_amount, shown.currency) == (
        Decimal("2.50"),
        Decimal("0.03"),
        None,
        "EUR",
    )  # fmt: skip  (1.01 x 0.025 = 0.02525, half up)
    tiers = (Tier(up_to=Decimal("2000.00"), rate=Decimal("10")), Tier(up_to=None, rate=Decimal("1")))
    tiered = converted_commission_rate(
        CommissionRate(commission_type="TIERED", rate=None, tiers=tiers, **common), conversion, "EUR"
    )
    assert [(t.up_to, t.rate) for t in tiered.tiers] == [(Decimal("50.00"), Decimal("10")), (None, Decimal("1"))]
    percent = CommissionRate(commission_type="PERCENTAGE", rate=Decimal("12.5"), **common)
    assert converted_commission_rate(percent, conversion, "EUR").rate == Decimal("12.5")


def test_a_promotion_s_money_converts_and_the_book_is_kept_per_rates() -> None:
    from quote_service.pricing.fx_convert import converted_promotions
    from quote_service.pricing.promotions import (
        AmountOff,
        Conditions,
        PercentOff,
        Promotion,
        PromotionBook,
        SpendTiers,
        Tier,
    )

    def promotion(config: object, **fields: object) -> Promotion:
        return Promotion(id=uuid.uuid4(), name="p", config=config, starts_at=AT, **fields)  # type: ignore[arg-type]

    lira = promotion(AmountOff(amount=Decimal("200.00"), currency="TRY"), conditions=Conditions(
        min_subtotal=Decimal("2000.00"), currency="TRY"
    ))  # fmt: skip
    tiers = promotion(
        SpendTiers(tiers=(Tier(min_subtotal=Decimal("400.00"), amount=Decimal("40.00")),), currency="TRY")
    )
    euro = promotion(AmountOff(amount=Decimal("3.00"), currency="EUR"))
    budgeted = promotion(AmountOff(amount=Decimal("100.00"), currency="TRY"), budget_currency="TRY")
    anywhere = promotion(PercentOff(percent=Decimal("10")))
    shelf = PromotionBook([lira, tiers, euro, budgeted, anywhere])
    assert shelf.priced_in == frozenset({"TRY", "EUR"})
    rates = book(("TRY", "EUR", "0.025"))
    converted, taken = converted_promotions(shelf, "EUR", lambda source: rates.rate(source, "EUR", AT))
    by_id = {p.id: p for p in converted.ordered}
    assert by_id[lira.id].config == AmountOff(amount=Decimal("5.00"), currency="EUR")
    assert by_id[lira.id].conditions.min_subtotal == Decimal("50.00")
    assert by_id[lira.id].conditions.currency == "EUR"
    assert by_id[tiers.id].config.tiers[0] == Tier(min_subtotal=Decimal("10.00"), amount=Decimal("1.00"))  # type: ignore[union-attr]
    assert by_id[euro.id] is euro  # priced in the quote's currency: as it is
    assert by_id[budgeted.id] is budgeted  # a budget is spent in its own currency only
    assert by_id[anywhere.id] is anywhere
    assert set(taken) == {lira.id, tiers.id}
    again, _ = converted_promotions(shelf, "EUR", lambda source: rates.rate(source, "EUR", AT))
    assert again is converted  # the same rates: the same book
    none, nothing = converted_promotions(shelf, "EUR", lambda source: None)
    assert nothing == {}
    assert {p.id: p for p in none.ordered}[lira.id] is lira
