"""A reverse-charged buyer's VAT id (docs/taxes.md#exemptions): a real one where python-stdnum knows
the country, a VAT id's shape elsewhere; "x" is never one."""

from __future__ import annotations

import pytest

from quote_service.quotes.tax_ids import tax_id_problem


@pytest.mark.parametrize(
    ("tax_id", "country"),
    [
        ("DE136695976", "DE"),
        ("DE 136 695 976", "DE"),  # as people type it
        ("136695976", "DE"),  # no prefix: the delivery country's rules
        ("DE136695976", "TR"),  # a German buyer's id, whatever the delivery country
        ("4540536920", "TR"),  # a Turkish VKN
        ("EL094259216", "DE"),  # Greece writes EL
        ("FR40303265045", "FR"),
        ("12-3456789", "US"),  # stdnum knows no US VAT: the shape is enough
        ("AB1234", "ZZ"),
    ],
)
def test_a_vat_id_is_taken(tax_id: str, country: str) -> None:
    assert tax_id_problem(tax_id, country) is None


@pytest.mark.parametrize(
    ("tax_id", "country", "why"),
    [
        ("x", "DE", "not a valid VAT number of DE, the delivery country: the number has an invalid format"),
        ("DE136695977", "TR", "not a valid VAT number of DE, the country its prefix DE names: the number's checksum"),
        ("DE123456789", "DE", "not a valid VAT number of DE, the country its prefix DE names: the number's checksum"),
        ("12", "TR", "not a valid VAT number of TR, the delivery country: the number has an invalid length"),
        ("x", "US", "not a VAT number: an optional two-letter country prefix, then 4 to 20 letters and digits"),
        ("ABCDEF", "US", "not a VAT number"),  # no digit
        ("123", "US", "not a VAT number"),  # too short
        ("1" * 21, "US", "not a VAT number"),  # too long
    ],
)
def test_a_made_up_id_is_refused_saying_why(tax_id: str, country: str, why: str) -> None:
    problem = tax_id_problem(tax_id, country)
    assert problem is not None
    assert problem.startswith(why)
