"""A buyer's VAT id under `tax_exemption: reverse_charge` (docs/taxes.md#exemptions): checked before
the quote is priced, so "x" is no longer enough to take the tax off every line.

The id is checked by the rules of a country python-stdnum knows: the country its two-letter prefix
names (`DE136695976`: Germany's USt-IdNr., as EU VAT ids are written), else the delivery country
(`4540536920` delivered to TR: a Turkish VKN) — its length, format and check digit, with the spaces,
dots and dashes people type. When stdnum knows neither, the shape any VAT id has: an optional
two-letter prefix, then 4 to 20 letters and digits with at least one digit. Only a quote that
states reverse_charge reaches this module: no other quote pays for it (stdnum is imported on
first use).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stdnum.util import NumberValidationModule

_SEPARATORS = re.compile(r"[\s.\-/]")
_SHAPE = re.compile(r"(?:[A-Z]{2})?(?=[A-Z0-9]*[0-9])[A-Z0-9]{4,20}")
_PREFIXES = {"EL": "GR", "XI": "GB"}
"""VAT prefixes that are not the country's ISO code: Greece's EL, Northern Ireland's XI."""


def tax_id_problem(tax_id: str, country: str) -> str | None:
    """Why `tax_id` is not a VAT id (see the module's docstring) for a delivery to `country` (ISO
    3166 alpha-2), or None."""
    from stdnum.exceptions import ValidationError

    compact = _SEPARATORS.sub("", tax_id).upper()
    found = _rules(compact, country.upper())
    if found is None:
        if _SHAPE.fullmatch(compact) is None:
            return (
                "not a VAT number: an optional two-letter country prefix, then 4 to 20 letters and digits "
                "(at least one digit)"
            )
        return None
    rules, whose = found
    try:
        rules.validate(tax_id)
    except ValidationError as exc:
        why = str(exc).rstrip(".")
        return f"not a valid VAT number of {whose}: {why[:1].lower()}{why[1:]}"
    return None


def _rules(compact: str, country: str) -> tuple[NumberValidationModule, str] | None:
    """stdnum's VAT module for the id's own prefix, else for the delivery country, with whose it is."""
    from stdnum import get_cc_module

    prefix = compact[:2]
    if re.fullmatch(r"[A-Z]{2}", prefix):
        own = _PREFIXES.get(prefix, prefix)
        rules = get_cc_module(own.lower(), "vat")
        if rules is not None:
            return rules, f"{own}, the country its prefix {prefix} names"
    rules = get_cc_module(country.lower(), "vat")
    return None if rules is None else (rules, f"{country}, the delivery country")
