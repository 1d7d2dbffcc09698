"""Extensions' answers read and checked (pricing/external.py) and which extension a line is (pricing/extensions.py)."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from quote_service.pricing.extensions import Extension, ExtensionBook
from quote_service.pricing.external import BadAnswer, read_shipping, read_taxes
from quote_service.pricing.taxes import LineTax

D = Decimal
EXT = uuid.UUID(int=1)


def test_a_tax_answer_is_read_as_the_lines_components_with_their_base() -> None:
    body = (
        b'{"lines": [{"line": 2, "taxes": [{"code": "VAT", "rate": "19", "amount": "4.75"},'
        b' {"code": "ECO", "amount": "0.25"}]}]}'
    )
    taxes = read_taxes(body, asked={2: D("25.00")}, currency="EUR")
    assert taxes == {
        2: (
            LineTax(code="VAT", rate=D(19), base=D("25.00"), amount=D("4.75")),
            LineTax(code="ECO", rate=D("1.0000"), base=D("25.00"), amount=D("0.25")),
        )
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"nope", "malformed"),
        (b'{"lines": {}}', "malformed"),
        (b'{"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": 4.75}]}]}', "malformed"),  # a number
        (b'{"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": "4.755"}]}]}', "invalid"),
        (b'{"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": "-1"}]}]}', "invalid"),
        (b'{"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": "NaN"}]}]}', "invalid"),
        (b'{"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": "x"}]}]}', "invalid"),
        (b'{"lines": []}', "invalid"),  # line 0 missing
        (b'{"lines": [{"line": 0, "taxes": []}, {"line": 1, "taxes": []}]}', "invalid"),  # 1 not asked
        (b'{"lines": [{"line": 0, "taxes": []}, {"line": 0, "taxes": []}]}', "invalid"),
        (b'{"lines": [{"line": 0, "taxes": [{"code": "V", "amount": "1"}, {"code": "V", "amount": "1"}]}]}', "invalid"),
    ],
)
def test_a_tax_answer_the_quote_cannot_use_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadAnswer) as refused:
        read_taxes(body, asked={0: D("10.00")}, currency="EUR")
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    "amount",
    [
        "1E+3",  # an exponent (it was echoed as "1E+3")
        "1e2",
        "\u0661\u0662.\u0665\u0660",  # Arabic-Indic digits (12.50)
        " 4.75",  # a leading space
        "4.75 ",
        "+4.75",
        "4.",
        ".75",
        "1_000",
        "4.75\n",
        "Infinity",
    ],
)
def test_a_tax_amount_or_a_fee_is_a_plain_decimal_string_or_the_answer_is_refused(amount: str) -> None:
    """Only `-?digits(.digits)?` in ASCII, with at most the currency's decimals."""
    body = json.dumps({"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": amount}]}]}).encode()
    with pytest.raises(BadAnswer) as refused:
        read_taxes(body, asked={0: D("10.00")}, currency="EUR")
    assert refused.value.reason == "invalid"
    option = {"code": "a", "name": "A", "fee": amount, "eta_days_min": 1, "eta_days_max": 1}
    shipping = json.dumps({"shipments": [{"seller_id": "s1", "options": [option]}]}).encode()
    with pytest.raises(BadAnswer):
        read_shipping(shipping, asked={"s1"}, currency="EUR", extension_id=EXT)


@pytest.mark.parametrize("rate", ["1E+1", " 19", "\u0661\u0669"])
def test_a_tax_rate_is_a_plain_decimal_string_too(rate: str) -> None:
    body = json.dumps({"lines": [{"line": 0, "taxes": [{"code": "VAT", "rate": rate, "amount": "1.90"}]}]}).encode()
    with pytest.raises(BadAnswer):
        read_taxes(body, asked={0: D("10.00")}, currency="EUR")


def test_plain_amounts_are_taken_as_written() -> None:
    taxes = [{"code": "VAT", "rate": "19.5", "amount": "1000"}, {"code": "Z", "amount": "0.5"}]
    body = json.dumps({"lines": [{"line": 0, "taxes": taxes}]}).encode()
    (vat, zero) = read_taxes(body, asked={0: D("10.00")}, currency="EUR")[0]
    assert (str(vat.amount), str(vat.rate), str(zero.amount)) == ("1000", "19.5", "0.5")


def test_a_currency_without_cents_takes_no_decimals() -> None:
    with pytest.raises(BadAnswer):
        read_taxes(
            b'{"lines": [{"line": 0, "taxes": [{"code": "C", "amount": "1.5"}]}]}', asked={0: D(100)}, currency="JPY"
        )


def test_a_shipping_answer_becomes_a_profile_per_seller() -> None:
    body = (
        b'{"shipments": [{"seller_id": "s1", "options": [{"code": "dhl", "name": "DHL", "fee": "4.90",'
        b' "eta_days_min": 1, "eta_days_max": 3, "express": true}]}]}'
    )
    profiles = read_shipping(body, asked={"s1", "s2"}, currency="EUR", extension_id=EXT)
    (option,) = profiles["s1"].options
    assert (option.code, option.base_fee, option.express, profiles["s1"].id) == ("dhl", D("4.90"), True, EXT)
    assert "s2" not in profiles
    for bad in (
        b'{"shipments": [{"seller_id": "s9", "options": [{"code": "a", "name": "A", "fee": "1", "eta_days_min": 1,'
        b' "eta_days_max": 1}]}]}',
        b'{"shipments": [{"seller_id": "s1", "options": [{"code": "a", "name": "A", "fee": "1", "eta_days_min": 3,'
        b' "eta_days_max": 1}]}]}',
        b'{"shipments": [{"seller_id": "s1", "options": []}]}',
    ):
        with pytest.raises(BadAnswer):
            read_shipping(bad, asked={"s1"}, currency="EUR", extension_id=EXT)


def extension(
    n: int, kind: str = "tax", countries: set[str] | None = None, sellers: set[str] | None = None
) -> Extension:
    return Extension(
        id=uuid.UUID(int=n), kind=kind, url="http://x", timeout_ms=300,  # type: ignore[arg-type]
        countries=None if countries is None else frozenset(countries),
        seller_ids=None if sellers is None else frozenset(sellers), on_failure="fallback", secret="whsec_",
    )  # fmt: skip


def test_each_line_goes_to_the_oldest_extension_of_each_kind_that_applies() -> None:
    book = ExtensionBook.of(
        [
            extension(1, countries={"DE"}, sellers={"s1"}),
            extension(2, countries={"DE", "FR"}),
            extension(3, kind="shipping", sellers={"s2"}),
        ]
    )
    assert book is not None
    calls = book.calls("de", ["s1", "s2", None, "s1"])
    assert [(c.extension.id.int, c.lines) for c in calls] == [(1, (0, 3)), (2, (1, 2)), (3, (1,))]
    assert [c.extension.id.int for c in book.calls("IT", ["s1", "s2"])] == [3]
    assert book.countries is None  # the shipping extension serves every country
    assert ExtensionBook.of([]) is None


def test_the_countries_an_extension_names_are_known_in_every_case() -> None:
    book = ExtensionBook.of([extension(1, countries={"DE"})])
    assert book is not None
    assert book.countries == frozenset({"DE", "De", "dE", "de"})
