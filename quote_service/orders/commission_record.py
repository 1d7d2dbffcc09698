"""What an order keeps of its commission as docs/commission.md charges it, the pure part. No I/O.

A quote priced under named fees, bases or FLAT fees per line, shipment or order names each line detail's
line (`line`) and lists the fees charged once per shipment or order without one (`per`, `seller_id`). The
order keeps each line's named fees beside its category and seller parts (`order_lines.commission_fees`),
and each fee per shipment or order as a detail of no line, charged to its seller with its own commission
tax (`order_commissions`), until the refund that gives back its shipment's last unit, or the order's,
reverses it (`reversible`). An order whose quote used none of this reads as it always did.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from msgspec import UnsetType

from quote_service.orders import record_math
from quote_service.pricing.commission import is_fee
from quote_service.pricing.money import ZERO, round_money
from quote_service.pricing.quote import CommissionDetail, CommissionFee

FEE_PART = "fee:"
"""A line's part for a named fee as refunds split it: `fee:payment_fee` (beside its tax components, refund_math)."""


def details_on_lines(product_ids: Sequence[str], details: Sequence[CommissionDetail]) -> list[int | None]:
    """The line each detail is on (None: logistics, or a fee charged per shipment or order): as the quote names
    it, else worked out from the details' order (`record_math.detail_lines`)."""
    if any(isinstance(detail.line, int) or not isinstance(detail.per, UnsetType) for detail in details):
        return [detail.line if isinstance(detail.line, int) else None for detail in details]
    return record_math.detail_lines(product_ids, [(d.product_id, d.dimension) for d in details])


def line_fees(count: int, details: Iterable[tuple[int | None, str, Decimal]]) -> list[dict[str, Decimal]]:
    """Each of `count` lines' named fees, summed from (line, component, amount) details."""
    fees: list[dict[str, Decimal]] = [{} for _ in range(count)]
    for line, component, amount in details:
        if line is not None and is_fee(component) and 0 <= line < count:
            fees[line][component] = fees[line].get(component, ZERO) + amount
    return fees


def stored_fees(fees: Mapping[str, Decimal]) -> dict[str, str] | None:
    """A line's fees as jsonb keeps them (exact decimal text); None: it has none."""
    return {name: str(amount) for name, amount in fees.items()} or None


def read_fees(stored: Mapping[str, Any] | None) -> dict[str, Decimal]:
    """A line's fees from jsonb ({} for none)."""
    return {name: Decimal(str(amount)) for name, amount in (stored or {}).items()}


def shown(fees: Mapping[str, Decimal], currency: str) -> list[CommissionFee]:
    """Fees as the API shows them: in name order, with the currency's digits."""
    return [CommissionFee(name=name, amount=round_money(fees[name], currency)) for name in sorted(fees)]


def order_fees(details: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """The named fees of (component, amount) details, summed by name ({}: none)."""
    fees: dict[str, Decimal] = {}
    for component, amount in details:
        if is_fee(component):
            fees[component] = fees.get(component, ZERO) + amount
    return fees


def reversible(
    charges: Iterable[tuple[int, str, str | None]],
    units_left: Mapping[int, int],
    sellers: Mapping[int, str | None],
    *,
    cancel: bool,
) -> list[int]:
    """Of the fees charged per shipment or order not yet reversed, (position, per, seller), those a refund
    reverses: a shipment's when no unit of its seller's lines is left after it, an order's when no unit of
    the order is; a cancel reverses every one. `units_left`: each line's units left after the refund."""
    found = []
    for position, per, seller in charges:
        lines: Collection[int] = [at for at, who in sellers.items() if who == seller] if per == "shipment" else sellers
        if cancel or all(units_left[at] == 0 for at in lines):
            found.append(position)
    return found


# --- reading an order back (rows of order_lines and order_commissions) ----------------------------------

Row = Any
"""A row read by column name (an asyncpg.Record of order_lines or order_commissions)."""


def line_fields(stored: Mapping[str, Any] | None, currency: str) -> dict[str, Any]:
    """A line's (or a refund line's) `fees` as its commission shows them, only when it has some."""
    fees = read_fees(stored)
    return {"fees": shown(fees, currency)} if fees else {}


def breakdown_fields(details: Sequence[Row], currency: str) -> dict[str, Any]:
    """An order's `commission_breakdown.fees`, only when its quote charged a named fee."""
    fees = order_fees((d["dimension"], d["amount"]) for d in details)
    return {"fees": shown(fees, currency)} if fees else {}


def charged_once_fields(detail: Row) -> dict[str, Any]:
    """A stored detail's `per` and `seller_id`: only on a fee charged once per shipment or order."""
    return {} if detail["per"] is None else {"per": detail["per"], "seller_id": detail["seller_id"]}


def seller_fees(lines: Sequence[Row], details: Sequence[Row]) -> dict[str | None, dict[str, Decimal]] | None:
    """Each seller's named fees: its lines' and those charged to it per shipment or order, every name of the
    order's on each seller (0 where it paid none); None: the order has none."""
    names = order_fees((d["dimension"], d["amount"]) for d in details)
    if not names:
        return None
    sellers: dict[str | None, dict[str, Decimal]] = {}
    for line in lines:
        mine = sellers.setdefault(line["seller_id"], dict.fromkeys(names, ZERO))
        for name, amount in read_fees(line["commission_fees"]).items():
            mine[name] += amount
    for detail in details:
        if detail["per"] is not None and detail["dimension"] in names:
            mine = sellers.setdefault(detail["seller_id"], dict.fromkeys(names, ZERO))
            mine[detail["dimension"]] += detail["amount"]
    return sellers
