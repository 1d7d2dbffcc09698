"""What tax and shipping extensions answered, read and checked, and laid over a quote (docs/extensions.md).

Pure: no I/O, no clock. An extension's answer is read here into the engine's own types, or refused with
the reason its failure is counted under (`BadAnswer`): a tax answer must give every line it was asked
about, and only those, each amount a non-negative plain decimal string (ASCII digits and at most one
point: no exponent, sign, space or other digits) with no more decimals than the currency has; a shipping
answer must give options for sellers it was asked about, each fee likewise.

`apply_taxes` replaces a line's tax with the extension's amounts as they are (never recomputed): a net
line's tax is added on top of its net, a tax-inclusive line's is the part of its gross that is tax (its
net becomes gross - tax). The quote's sums are then exact sums of its lines, as for any quote.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UnsetType
from msgspec.structs import replace

from quote_service.pricing.lines import Line
from quote_service.pricing.money import MAX_AMOUNT, fits_minor_units
from quote_service.pricing.quote import QuoteWarning
from quote_service.pricing.settle import Settled, tax_rules_moved
from quote_service.pricing.shipping import ShippingOption, ShippingProfile
from quote_service.pricing.taxes import LineTax

_RATE_QUANTUM = Decimal("0.0001")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HUNDRED = Decimal(100)


class BadAnswer(Exception):
    """An answer the quote cannot use; `reason` is the metric's label (`malformed`, `invalid`)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class _Tax(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    amount: str
    rate: str | None = None


class _TaxLine(msgspec.Struct, frozen=True):
    line: int
    taxes: list[_Tax]


class _TaxAnswer(msgspec.Struct, frozen=True):
    lines: list[_TaxLine]


class _Option(msgspec.Struct, frozen=True):
    code: Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{1,32}\Z")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    fee: str
    eta_days_min: Annotated[int, msgspec.Meta(ge=0, le=365)]
    eta_days_max: Annotated[int, msgspec.Meta(ge=0, le=365)]
    express: bool = False


class _Shipment(msgspec.Struct, frozen=True):
    seller_id: str | None
    options: Annotated[list[_Option], msgspec.Meta(min_length=1, max_length=32)]


class _ShippingAnswer(msgspec.Struct, frozen=True):
    shipments: list[_Shipment]


_TAX_DECODER = msgspec.json.Decoder(_TaxAnswer)
_SHIPPING_DECODER = msgspec.json.Decoder(_ShippingAnswer)


@dataclass(frozen=True)
class ExternalPricing:
    """The extensions' answers a quote is priced with: taxes by line index, options by seller."""

    taxes: Mapping[int, tuple[LineTax, ...]] = field(default_factory=dict)
    shipping: Mapping[str | None, ShippingProfile] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.taxes or self.shipping)


class Answered(msgspec.Struct, frozen=True):
    """An input of the quote engine (`price_quote(answered=...)`) once its extensions answered (docs/extensions.md):
    where its tax came from and the extensions that failed and were replaced by the service's own rules. A struct:
    built in C, no call."""

    tax_source: Literal["extension", "internal"]
    warnings: list[QuoteWarning] | UnsetType = msgspec.UNSET


def _plain(text: str) -> Decimal | None:
    """`text` as a Decimal when it is a plain decimal string (`-?digits(.digits)?`, ASCII digits, nothing
    around them), else None: Python's Decimal() also reads "1E+3", " 4.75", "٤" and "1_000", which an
    extension's answer may not use (an amount is used as written, so it must be written plainly)."""
    return Decimal(text) if _PLAIN_DECIMAL.fullmatch(text) else None


def _amount(text: str, currency: str, where: str) -> Decimal:
    value = _plain(text)
    if value is None:
        raise BadAnswer("invalid", f"{where}: {text!r} is not a plain decimal amount (digits, one point)")
    if value < 0 or value >= MAX_AMOUNT:
        raise BadAnswer("invalid", f"{where}: {text!r} must be a finite amount >= 0")
    if not fits_minor_units(value, currency):
        raise BadAnswer("invalid", f"{where}: {text!r} has more decimals than {currency} allows")
    return value


def read_taxes(body: bytes, *, asked: Mapping[int, Decimal], currency: str) -> dict[int, tuple[LineTax, ...]]:
    """A tax answer's components by line; `asked`: each line asked about, with its net (the base)."""
    try:
        answer = _TAX_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise BadAnswer("malformed", str(exc)) from exc
    taxes: dict[int, tuple[LineTax, ...]] = {}
    for entry in answer.lines:
        if entry.line not in asked:
            raise BadAnswer("invalid", f"line {entry.line} was not asked about")
        if entry.line in taxes:
            raise BadAnswer("invalid", f"line {entry.line} answered twice")
        base = asked[entry.line]
        components = []
        if len({tax.code for tax in entry.taxes}) != len(entry.taxes):
            raise BadAnswer("invalid", f"lines[{entry.line}]: a tax code twice")
        for tax in entry.taxes:
            amount = _amount(tax.amount, currency, f"lines[{entry.line}].{tax.code}")
            rate = None if tax.rate is None else _rate(tax.rate, entry.line)
            if rate is None:  # the effective rate, for the record: never used to compute anything
                rate = (amount * _HUNDRED / base).quantize(_RATE_QUANTUM) if base else Decimal(0)
            components.append(LineTax(code=tax.code, rate=rate, base=base, amount=amount))
        taxes[entry.line] = tuple(components)
    missing = sorted(set(asked) - set(taxes))
    if missing:
        raise BadAnswer("invalid", f"lines {missing} missing from the answer")
    return taxes


def _rate(text: str, line: int) -> Decimal:
    rate = _plain(text)
    if rate is None:
        raise BadAnswer("invalid", f"lines[{line}]: rate {text!r} is not a plain decimal (digits, one point)")
    if rate < 0 or rate > 1000:
        raise BadAnswer("invalid", f"lines[{line}]: rate {text!r} must be a percent from 0 to 1000")
    return rate


def read_shipping(
    body: bytes, *, asked: Collection[str | None], currency: str, extension_id: UUID
) -> dict[str | None, ShippingProfile]:
    """A shipping answer as one profile per seller (options replacing its own profile's, docs/shipping.md)."""
    try:
        answer = _SHIPPING_DECODER.decode(body)
    except msgspec.DecodeError as exc:
        raise BadAnswer("malformed", str(exc)) from exc
    profiles: dict[str | None, ShippingProfile] = {}
    for shipment in answer.shipments:
        seller = shipment.seller_id
        if seller not in asked:
            raise BadAnswer("invalid", f"seller {seller!r} was not asked about")
        codes: set[str] = set()
        options = []
        for option in shipment.options:
            if option.code in codes:
                raise BadAnswer("invalid", f"seller {seller!r}: option {option.code!r} twice")
            if option.eta_days_min > option.eta_days_max:
                raise BadAnswer("invalid", f"seller {seller!r}: option {option.code!r} eta_days_min > eta_days_max")
            codes.add(option.code)
            fee = _amount(option.fee, currency, f"shipments[{seller}].{option.code}.fee")
            options.append(
                ShippingOption(
                    code=option.code,
                    name=option.name,
                    base_fee=fee,
                    eta_days_min=option.eta_days_min,
                    eta_days_max=option.eta_days_max,
                    express=option.express,
                )
            )
        profiles[seller] = ShippingProfile(
            id=extension_id,
            seller_id=seller,
            countries=None,
            regions=None,
            currency=currency,
            options=tuple(options),
            created_at=_EPOCH,
        )
    return profiles


def apply_taxes(
    settled: Settled, lines: Sequence[Line], taxes: Mapping[int, tuple[LineTax, ...]], zero: Decimal
) -> None:
    """Each line of `taxes` taxed with the extension's components as they are: the line's `tax`, `taxes`,
    its tax split and the quote's sums follow; the TAX_RATE rules then show the tax of the other lines."""
    items = settled.items
    for index, components in taxes.items():
        item = items[index]
        external = sum((c.amount for c in components), zero)
        inclusive = lines[index].priced.inclusive
        if inclusive:
            settled.tax_included += external - item.tax
        else:
            settled.tax += external - item.tax
        rates = [c.rate for c in components]
        changed = replace(item, tax=external, taxes=list(components), tax_source="extension", tax_rate=sum(rates, zero))
        if item.net is not msgspec.UNSET and item.gross is not msgspec.UNSET:
            if inclusive:
                changed = replace(changed, net=item.gross - external)
            else:
                changed = replace(changed, gross=item.net + external)
        items[index] = changed
    own = [index for index in range(len(lines)) if index not in taxes]
    settled.tax_rules = tax_rules_moved(
        [lines[i] for i in own], [zero if lines[i].priced.inclusive else items[i].tax for i in own]
    )
