"""A quote's parts add up (hypothesis), whatever the basket: exempt or not, tax-inclusive lines, a seller-funded
installment option, platform-funded discounts, several sellers, one product id on lines of two sellers.

- total_amount = subtotal - discount_amount + tax_amount + delivery_fee + small_basket_fee (§5, even with an
  exempt tax-inclusive line: its subtotal leaves out the tax its price held, docs/taxes.md#exemptions);
- subtotal is the sum of the lines' subtotals, and each line's net is line_subtotal - discount (- tax inclusive);
- commission_breakdown's parts (seller, category, logistics, installment) add up to total_commission;
- each seller's payout is worked out again from its own `sellers[]` entry by the statement's formula
  (goods - discount + tax + platform_contribution - commission - commission_tax + delivery_fee), and every
  field summed over the sellers is the quote's own figure.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET
from msgspec.structs import replace

from quote_service.pricing.installments import Paying
from quote_service.pricing.quote import EngineDefaults, Quote, QuoteItemIn
from quote_service.pricing.shipping import ShippingOption, ShippingProfile
from quote_service.pricing.taxes import Rounding
from tests.unit.pricing.test_engine_support import NOW, D, coupon, product, quote, request, snapshot
from tests.unit.pricing.test_installments import PLAN

SELLERS = ("s1", "s2", "s3")
CENTS = st.integers(1, 50_000).map(lambda n: Decimal(n).scaleb(-2))
DEFAULTS = EngineDefaults(currency="EUR", commission_tax_rate=D(20))
UNIT_DEFAULTS = replace(DEFAULTS, rounding=Rounding(tax_calculation="UNIT"))
"""One object each: the engine keeps its plans per defaults object."""
STANDARD = ShippingOption(code="standard", name="Standard", base_fee=D("4.90"), eta_days_min=1, eta_days_max=3)


def _money(value: Decimal | Any) -> Decimal:
    """A field shown only when there is some: absent is 0."""
    return value if isinstance(value, Decimal) else D(0)


@st.composite
def baskets(draw: st.DrawFn) -> dict[str, Any]:
    catalog, items = [], []
    for n in range(draw(st.integers(1, 5))):
        seller = draw(st.sampled_from(SELLERS))
        quantity = draw(st.integers(1, 4))
        if draw(st.booleans()):  # a catalog product, tax included or not
            made = replace(product(str(draw(CENTS)), seller=seller), prices_include_tax=draw(st.booleans()))
            catalog.append(made)
            items.append(QuoteItemIn(product_id=str(made.id), quantity=quantity))
        else:  # request-priced: the same product id may come again from another seller
            items.append(
                QuoteItemIn(
                    product_id=draw(st.sampled_from(["shared", f"own-{n}"])),
                    quantity=quantity,
                    unit_price=draw(CENTS),
                    seller_id=seller,
                )
            )
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields |= {"tax_exemption": draw(st.sampled_from(["exempt", "reverse_charge"])), "customer_tax_id": "DE1"}
    codes = draw(st.lists(st.sampled_from(["SELLER10", "PLATFORM5"]), unique=True))
    return {
        "catalog": catalog,
        "items": items,
        "fields": fields,
        "codes": codes,
        "profiled": draw(st.lists(st.sampled_from(SELLERS), unique=True)),
        "installments": draw(st.booleans()),
        "unit": draw(st.booleans()),
    }


def _priced(basket: dict[str, Any]) -> Quote:
    coupons = [coupon("SELLER10", value="10"), coupon("PLATFORM5", "FIXED", "5", funded_by="platform")]
    profiles = [
        ShippingProfile(
            id=UUID(int=n + 1),
            seller_id=seller,
            countries=None,
            regions=None,
            currency="EUR",
            options=(STANDARD,),
            created_at=NOW,
        )
        for n, seller in enumerate(basket["profiled"])
    ]
    defaults = UNIT_DEFAULTS if basket["unit"] else DEFAULTS
    priced = quote(
        request(*basket["items"], coupon_codes=basket["codes"], **basket["fields"]),
        products=basket["catalog"],
        config=snapshot(coupons=coupons, shipping_profiles=profiles),
        defaults=defaults,
        installments=Paying([PLAN], "45436012", 6) if basket["installments"] else None,
    )
    return priced


@settings(max_examples=300, deadline=None)
@given(baskets())
def test_every_quotes_parts_add_up(basket: dict[str, Any]) -> None:
    priced = _priced(basket)

    fees = priced.delivery_fee + priced.small_basket_fee
    assert priced.total_amount == priced.subtotal - priced.discount_amount + priced.tax_amount + fees
    assert priced.subtotal == sum((line.line_subtotal for line in priced.items), D(0))
    for line in priced.items:
        if line.net is not UNSET:
            contained = line.tax if line.prices_include_tax is True else D(0)
            assert line.net == line.line_subtotal - line.discount - contained

    breakdown = priced.commission_breakdown
    parts = breakdown.seller_commission + breakdown.category_commission + breakdown.logistics_commission
    assert breakdown.total_commission == parts + _money(breakdown.installment_commission)

    if priced.sellers is UNSET:
        return
    for entry in priced.sellers:
        assert entry.payout == (
            entry.goods
            - entry.discount
            + entry.tax
            + _money(entry.platform_contribution)
            - entry.commission
            - entry.commission_tax
            + entry.delivery_fee
        )

    def summed(name: str) -> Decimal:
        return sum((_money(getattr(entry, name)) for entry in priced.sellers), D(0))

    assert summed("goods") == priced.subtotal
    assert summed("discount") == priced.discount_amount
    assert summed("tax") == priced.tax_amount
    assert summed("delivery_fee") == priced.delivery_fee
    assert summed("commission") == breakdown.total_commission
    assert summed("tax_exempted") == _money(priced.tax_exempted)
    assert summed("platform_contribution") == sum((_money(line.platform_funded) for line in priced.items), D(0))


def test_an_exempt_customers_tax_inclusive_line_adds_up() -> None:
    # 118.00 tax included (18 %) and 100.00 net, exempt: the first charges its net, 100.00, and its subtotal
    # says so (before, subtotal 218.00 and total 200.00 + delivery did not add up).
    gross = replace(product("118.00"), prices_include_tax=True)
    net = product("100.00")
    priced = quote(
        request(
            QuoteItemIn(product_id=str(gross.id), quantity=1),
            QuoteItemIn(product_id=str(net.id), quantity=1),
            tax_exemption="exempt",
            customer_tax_id="DE1",
        ),
        products=[gross, net],
        defaults=EngineDefaults(currency="EUR"),
    )
    assert [(line.line_subtotal, line.net, line.tax_exempted) for line in priced.items] == [
        (D("100.00"), D("100.00"), D("18.00")),
        (D("100.00"), D("100.00"), UNSET),
    ]
    assert (priced.subtotal, priced.tax_amount, priced.tax_exempted) == (D("200.00"), D("0.00"), D("18.00"))
    assert priced.total_amount == priced.subtotal + priced.delivery_fee + priced.small_basket_fee
