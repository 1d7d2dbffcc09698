"""Money: ISO 4217 minor units and the one rounding rule (ROUND_HALF_UP)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quote_service.pricing import money


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("2.675", "EUR", "2.68"),  # the classic float trap: exact decimal, rounded up
        ("2.665", "EUR", "2.67"),  # half up, not half even
        ("2.674999", "EUR", "2.67"),
        ("-2.675", "EUR", "-2.68"),  # halves move away from zero
        ("0.5", "JPY", "1"),
        ("1.5", "JPY", "2"),
        ("2.5", "JPY", "3"),
        ("0.49", "JPY", "0"),
        ("1.0005", "KWD", "1.001"),
        ("1.00005", "CLF", "1.0001"),
        ("10", "USD", "10.00"),
        ("0.004", "USD", "0.00"),
    ],
)
def test_round_money_is_half_up_to_minor_units(amount: str, currency: str, rounded: str) -> None:
    result = money.round_money(Decimal(amount), currency)

    assert result == Decimal(rounded)
    assert str(result) == rounded  # exactly the currency's digits, as the API prints them


def test_round_money_of_unknown_currency_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        money.round_money(Decimal("1.00"), "XXX")


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("USD", 2), ("EUR", 2), ("TRY", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_minor_units(currency: str, digits: int) -> None:
    assert money.minor_units(currency) == digits
    assert money.quantum(currency) == Decimal(1).scaleb(-digits)


def test_minor_units_of_unknown_currency_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        money.minor_units("ABC")


def test_quantum_is_printed_with_the_currency_digits() -> None:
    assert str(money.quantum("EUR")) == "0.01"
    assert str(money.quantum("JPY")) == "1"


@pytest.mark.parametrize(("code", "known"), [("USD", True), ("JPY", True), ("usd", False), ("XXX", False), ("", False)])
def test_is_currency(code: str, known: bool) -> None:
    assert money.is_currency(code) is known


@pytest.mark.parametrize(
    ("amount", "currency", "fits"),
    [
        ("1.10", "EUR", True),
        ("1.1", "EUR", True),
        ("1", "EUR", True),
        ("1.105", "EUR", False),
        ("1.100", "EUR", True),  # trailing zeros need no rounding
        ("1", "JPY", True),
        ("1.0", "JPY", True),
        ("0.5", "JPY", False),
        ("1.001", "KWD", True),
        ("1.0001", "KWD", False),
        ("-0.01", "USD", True),
        ("NaN", "USD", False),
        ("Infinity", "USD", False),
    ],
)
def test_fits_minor_units(amount: str, currency: str, fits: bool) -> None:
    assert money.fits_minor_units(Decimal(amount), currency) is fits


def test_percent_of_is_exact_and_unrounded() -> None:
    assert money.percent_of(Decimal("19.99"), Decimal("12.5")) == Decimal("2.49875")
    assert money.percent_of(Decimal("100"), Decimal("0")) == money.ZERO


def test_money_adds_and_subtracts_within_one_currency() -> None:
    total = money.Money(Decimal("10.00"), "EUR") + money.Money(Decimal("2.50"), "EUR")
    assert total == money.Money(Decimal("12.50"), "EUR")
    assert total - money.Money(Decimal("0.50"), "EUR") == money.Money(Decimal("12.00"), "EUR")
    assert (total / 3).rounded() == money.Money(Decimal("4.17"), "EUR")
    assert (total * 2).amount == Decimal("25.00")
    assert money.Money(Decimal("1.00"), "EUR") != money.Money(Decimal("1.00"), "TRY")


@pytest.mark.parametrize("operation", ["add", "subtract"])
def test_money_refuses_arithmetic_across_currencies(operation: str) -> None:
    eur, try_ = money.Money(Decimal("10.00"), "EUR"), money.Money(Decimal("1000.00"), "TRY")
    with pytest.raises(money.MixedCurrencies, match="TRY and EUR"):
        _ = eur + try_ if operation == "add" else eur - try_


def test_money_by_currency_never_mixes_currencies() -> None:
    sums = money.MoneyByCurrency([money.Money(Decimal("10.00"), "EUR"), money.Money(Decimal("1000.00"), "TRY")])
    sums.add(money.Money(Decimal("0.005"), "EUR"))
    assert sums.currencies() == ["EUR", "TRY"]
    assert sums.single() is None  # two currencies: no single sum
    assert sums.rounded() == {"EUR": Decimal("10.01"), "TRY": Decimal("1000.00")}
    assert sums.get("TRY") == money.Money(Decimal("1000.00"), "TRY")
    assert sums.get("USD") == money.Money.zero("USD")

    one = money.MoneyByCurrency()
    assert one.single() is None  # nothing: no currency either
    one.include("JPY")
    assert one.single() == money.Money.zero("JPY")
    assert one.rounded() == {"JPY": Decimal("0")}
    one.add(money.Money(Decimal("5"), "JPY"))
    assert one.single() == money.Money(Decimal("5"), "JPY")
