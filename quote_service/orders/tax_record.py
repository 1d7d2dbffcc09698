"""What an order keeps of docs/taxes.md: each line's tax components and exemption, and the order's terms
(rounding, exemption, installment). Stored as jsonb with exact decimal text; absent for an order whose
quote used none of them, so such an order reads as it always did."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from msgspec import UNSET

from quote_service.pricing.money import round_money
from quote_service.pricing.quote import Quote, SelectedInstallment
from quote_service.pricing.taxes import LineTax, Rounding


def order_terms(quote: Quote) -> dict[str, Any] | None:
    """The order's tax terms from its quote, or None when the quote used none."""
    terms: dict[str, Any] = {}
    if quote.rounding is not UNSET:
        terms["rounding"] = msgspec.to_builtins(quote.rounding)
    for name in ("tax_exemption", "customer_tax_id", "tax_exempted"):
        value = getattr(quote, name)
        if value is not UNSET:
            terms[name] = str(value) if isinstance(value, Decimal) else value
    if quote.installment is not UNSET:
        terms["installment"] = msgspec.to_builtins(quote.installment)
    if quote.tax_source is not UNSET:  # docs/extensions.md
        terms["tax_source"] = quote.tax_source
    return terms or None


def line_taxes(quote: Quote) -> list[dict[str, Any] | None] | None:
    """Each line's components, exemption and tax source (`order_lines.taxes`), or None when the quote shows none
    (a line's share of a seller-funded installment option's commission is no tax: `installment_commission`)."""
    taxed = quote.rounding is not UNSET
    funded = isinstance(quote.installment, SelectedInstallment) and quote.installment.installment_commission
    external = quote.tax_source == "extension"
    if not taxed and not funded and not external:
        return None
    kept: list[dict[str, Any] | None] = []
    for line in quote.items:
        entry: dict[str, Any] = {}
        if taxed or line.tax_source is not UNSET:
            entry["taxes"] = msgspec.to_builtins(line.taxes if line.taxes is not UNSET else [])
        if line.tax_source is not UNSET:  # docs/extensions.md: the extension's amounts, refunded part by part
            entry["tax_source"] = line.tax_source
        if line.tax_exemption is not UNSET:
            entry["tax_exemption"] = line.tax_exemption
        if line.tax_exempted is not UNSET:
            entry["tax_exempted"] = str(line.tax_exempted)
        kept.append(entry or None)
    return kept


def kept(stored: dict[str, Any] | None) -> bool:
    """The line kept its tax components (docs/taxes.md#statements: its tax counts by their codes)."""
    return stored is not None and "taxes" in stored


def external(stored: dict[str, Any] | None) -> bool:
    """A tax extension answered the line's tax (docs/extensions.md)."""
    return stored is not None and stored.get("tax_source") == "extension"


def exempted(stored: dict[str, Any] | None) -> Decimal:
    """The tax an exempt tax-inclusive line's price held and did not charge (0: none)."""
    if not stored or "tax_exempted" not in stored:
        return Decimal(0)
    return Decimal(stored["tax_exempted"])


def components(stored: dict[str, Any] | None) -> list[LineTax]:
    """A stored line's components ([]: none kept)."""
    if not stored:
        return []
    return [msgspec.convert(part, LineTax, strict=False) for part in stored.get("taxes", [])]


def line_fields(stored: dict[str, Any] | None, currency: str, installment: Decimal | None = None) -> dict[str, Any]:
    """An order line's `taxes`, `tax_exemption` and `tax_exempted`, as its quote showed them, and its
    `installment_commission` (`installment`: `order_lines.installment_commission`)."""
    fields: dict[str, Any] = {}
    if installment is not None:
        fields["installment_commission"] = round_money(installment, currency)
    if stored is None:
        return fields
    if "taxes" in stored:
        fields["taxes"] = [
            LineTax(
                code=part.code,
                rate=part.rate,
                base=round_money(part.base, currency),
                amount=round_money(part.amount, currency),
            )
            for part in components(stored)
        ]
    if "tax_exemption" in stored:
        fields["tax_exemption"] = stored["tax_exemption"]
    if "tax_exempted" in stored:
        fields["tax_exempted"] = round_money(Decimal(stored["tax_exempted"]), currency)
    if "tax_source" in stored:
        fields["tax_source"] = stored["tax_source"]
    return fields


def order_fields(stored: dict[str, Any] | None, currency: str) -> dict[str, Any]:
    """An order's `rounding`, `tax_exemption`, `customer_tax_id`, `tax_exempted`, `installment` and `tax_source`."""
    if stored is None:
        return {}
    fields: dict[str, Any] = {}
    if "rounding" in stored:
        fields["rounding"] = msgspec.convert(stored["rounding"], Rounding)
    for name in ("tax_exemption", "customer_tax_id"):
        if name in stored:
            fields[name] = stored[name]
    if "tax_exempted" in stored:
        fields["tax_exempted"] = round_money(Decimal(stored["tax_exempted"]), currency)
    if "installment" in stored:
        fields["installment"] = msgspec.convert(stored["installment"], SelectedInstallment, strict=False)
    if "tax_source" in stored:
        fields["tax_source"] = stored["tax_source"]
    return fields


def installment_breakdown(stored: dict[str, Any] | None, currency: str) -> dict[str, Any]:
    """The order's `commission_breakdown.installment_commission`: a seller-funded option's commission, which
    its `total_commission` includes (so the breakdown's parts add up to it); {} for an order without one."""
    installment = (stored or {}).get("installment") or {}
    amount = installment.get("installment_commission")
    return {} if amount is None else {"installment_commission": round_money(Decimal(str(amount)), currency)}


def rounding_of(stored: dict[str, Any] | None) -> Rounding:
    """The order's rounding (its refunds use it); the default for an order that kept none."""
    if not stored or "rounding" not in stored:
        return Rounding()
    return msgspec.convert(stored["rounding"], Rounding)
