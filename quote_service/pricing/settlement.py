"""The money primitives every calculator after the quote shares: what a seller is paid, what a line's commission
is, the tax on a commission, a line's goods, and the one way an amount is shared out. Pure: no I/O, no clock.

Each is written once here, and every place that needs it calls it (the quote's per-seller totals, the order's
record and its changes, the refunds, the edits, the seller statements and ledgers, the payout preview):

- `payout`: what the seller statement pays a seller for an entry,

      payout = goods + tax + platform_contribution - commission - commission_tax + delivery

  with `goods` after every discount and without tax, `tax` its tax (added or contained), `commission` every
  part the seller pays (`line_commission` of its lines, its shipment's logistics commission, the named fees
  charged to it once per shipment or order) and `delivery` its shipment's fee.
- `line_commission`: a line's commission, category + seller + its installment commission + its named fees.
- `commission_tax`: the tax on a commission at COMMISSION_TAX_RATE percent, rounded half up once.
- `goods`: a line (or part of one) after every discount, without tax: a tax-inclusive line's contained tax is
  taken out (an exempt tax-inclusive line's amount already leaves out the tax its price held).
- `prorate` / `units_share`: the one remainder rule (below).

## The remainder rule

`prorate(amount, weights, cent)` shares `amount` in proportion to `weights`: each share is `amount x weight /
total` rounded half up to `cent`, never more than what is left of `amount` (nor than the share's `cap`, when
given); the rounding remainder goes to the last share with room, walking back from the end. The shares add up
to `amount` exactly (to what the caps let through, with caps). Splitting an order's discounts by source (the
priced record) and a shipment's delivery fee over its lines follow it; so does a refund of some of a line's
units, as `units_share` (each unit weighs the same: a unit's share of a part is the part / quantity rounded, n
units take n of them but never more than is left, and the units that are last take exactly what is left, so
refunding everything in any split gives back exactly what was charged).

Two splits keep rules of their own, because unifying them would change what a quote answers, and both are
what the customer or the card scheme expects:
- `pricing/discounts.py spread`: a promotion's or coupon's discount is rounded once in total, then spread with
  shares clipped at each line's floor, a clipped share never moved to another line (another product, often
  another seller) — moving the remainder would move discounts between sellers;
- `pricing/installments.py split`: the installments are each the total / count rounded down and the first
  takes the rest, as card schemes show them (the first installment is never the smaller one).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from msgspec import UnsetType

from quote_service.pricing.quote import SellerTotals

ZERO = Decimal(0)


def payout(
    *, goods: Decimal, tax: Decimal, platform: Decimal, commission: Decimal, commission_tax: Decimal, delivery: Decimal
) -> Decimal:
    """What an entry pays its seller (the module docstring's formula)."""
    return goods + tax + platform - commission - commission_tax + delivery


def seller_payout(totals: SellerTotals) -> Decimal:
    """A quote's seller's payout from its totals (`tax` there is the tax added; the contained one is in its goods
    after discount)."""
    platform = totals.platform_contribution
    return payout(
        goods=totals.goods - totals.discount, tax=totals.tax,
        platform=ZERO if isinstance(platform, UnsetType) else platform, commission=totals.commission,
        commission_tax=totals.commission_tax, delivery=totals.delivery_fee,
    )  # fmt: skip


def line_commission(category: Decimal, seller: Decimal, installment: Decimal, fees: Decimal) -> Decimal:
    """A line's commission: its category and seller parts, its installment commission and its named fees."""
    return category + seller + installment + fees


def commission_tax(commission: Decimal, percent: Decimal, cent: Decimal) -> Decimal:
    """The tax on a commission at `percent`, rounded half up once (0 on the grid without a rate)."""
    if not percent:
        return ZERO.quantize(cent)
    return (commission * percent / 100).quantize(cent, ROUND_HALF_UP)


def goods(amount: Decimal, discount: Decimal, tax: Decimal, *, inclusive: bool) -> Decimal:
    """After every discount, without tax: a tax-inclusive line's contained `tax` is taken out."""
    return amount - discount - (tax if inclusive else ZERO)


def prorate(
    amount: Decimal, weights: Sequence[Decimal], cent: Decimal, caps: Sequence[Decimal] | None = None
) -> list[Decimal]:
    """`amount` shared in proportion to `weights` (the module docstring's remainder rule); with no weight above
    zero, the last share takes it all."""
    total = sum(weights, ZERO)
    shares: list[Decimal] = []
    given = ZERO
    for index, weight in enumerate(weights):
        share = (amount * weight / total).quantize(cent, ROUND_HALF_UP) if total > 0 else ZERO
        share = min(share, amount - given)
        if caps is not None:
            share = min(share, caps[index])
        shares.append(share)
        given += share
    for index in reversed(range(len(shares))):  # the remainder: the last share with room first
        left = amount - given
        if left == 0:
            break
        moved = left if caps is None else min(left, caps[index] - shares[index])
        shares[index] += moved
        given += moved
    return shares


def units_share(
    charged: Decimal, quantity: int, done_units: int, done: Decimal, units: int, cent: Decimal, rounding: str
) -> Decimal:
    """What `units` more of `quantity` units take of a part charged `charged`, when earlier takes took `done` of
    it over `done_units` units: `prorate` over equal units, taken in order (a unit's share is charged / quantity,
    rounded in `rounding`; never more than is left; the last units take exactly what is left)."""
    left = charged - done
    if done_units + units >= quantity:
        return left
    take = (charged / quantity).quantize(cent, rounding) * units
    # A share rounded up can, times many units, run past what is left (0.02 over 4 units:
    # 0.01 each, 3 units = 0.03): never take more than is left, the last units get the rest.
    return min(take, left) if left >= ZERO else max(take, left)
