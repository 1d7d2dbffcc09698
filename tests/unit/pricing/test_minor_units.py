"""A big basket's deals in minor units (pricing/minor_units.py) give exactly what the Decimal way gives.

`spread_minor` against `discounts.spread` on random lines (floors, lines with nothing left, amounts
up to all that is left, tiny amounts over 120 lines), `tax_minor` against `settle.line_tax`'s
arithmetic, `tax_terms` against `tax_minor`, and whole quotes of big baskets under random promotions
priced both ways (minor units switched off through `places_of`; the whole index switched off through
`_INDEX_FROM`), byte for byte. The functions are
called through their module, so that test_engine_mutations.py's mutants of them are the ones called.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from random import Random
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.pricing import minor_units, promotion_deals
from quote_service.pricing.discounts import spread
from quote_service.pricing.lines import Line
from quote_service.pricing.minor_units import TOTAL_LIMIT, from_minor, places_of, to_minor
from quote_service.pricing.promotions import AmountOff, PercentOff, Promotion
from quote_service.pricing.quote import CatalogProduct
from tests.unit.pricing.test_engine_support import product, promotion
from tests.unit.pricing.test_promotion_properties import CATEGORIES, configs, priced

CENT = Decimal("0.01")


def decimal_spread(amount: int, lefts: list[int], floors: list[int]) -> tuple[int, list[int]]:
    """`discounts.spread` on lines holding these amounts (minor units in, minor units out)."""
    lines = [
        Line(SimpleNamespace(floor=from_minor(floor, 2)), from_minor(0, 2), from_minor(0, 2))  # type: ignore[arg-type]
        for floor in floors
    ]
    parts = [from_minor(left, 2) for left in lefts]
    given = spread(from_minor(amount, 2), lines, parts, sum(parts, Decimal(0)), CENT)
    return to_minor(given, 2) or 0, [to_minor(line.discount, 2) or 0 for line in lines]


def random_case(rng: Random) -> tuple[int, list[int], list[int]]:
    count = rng.choice([1, 2, 3, 7, 40, 120])
    lefts = [rng.choice([0, 1, rng.randint(1, 99), rng.randint(100, 2_000_000)]) for _ in range(count)]
    floors = [
        0 if rng.random() < 0.6 else rng.randint(0, left) if rng.random() < 0.9 else left + rng.randint(0, 50)
        for left in lefts
    ]
    total = sum(lefts)
    amount = rng.choice([1, rng.randint(1, 100), rng.randint(1, max(total, 1)), total])
    return amount, lefts, floors


def test_spread_minor_gives_every_share_spread_gives() -> None:
    rng = Random(20261128)
    compared = decided = 0
    for _ in range(10_000):
        amount, lefts, floors = random_case(rng)
        total = sum(lefts)
        if total <= 0:
            continue
        found = minor_units.spread_minor(amount, range(len(lefts)), lefts, total, floors, any(floors))
        if found is None:
            decided += 1
            continue
        compared += 1
        assert found == decimal_spread(amount, lefts, floors), (amount, lefts, floors)
    assert compared > 7_500  # both ways taken
    assert 0 < decided < compared / 10


def test_a_sum_exactly_on_a_half_cent_is_left_to_the_decimal_way() -> None:
    # 15 cents over two 1.00 lines: the first may take 5 (floor 0.95), the second 7.5: 12.5 given, a half cent
    assert minor_units.spread_minor(15, [0, 1], [100, 100], 200, [95, 0], True) is None
    # a remainder the last line cannot take, and a total past the bound, likewise
    assert (
        minor_units.spread_minor(2, [0, 1, 2, 3], [1, 1, 1, 1], 4, [0, 0, 0, 0], False) is None
    )  # four halves round up to 4
    assert minor_units.spread_minor(5, [0], [TOTAL_LIMIT], TOTAL_LIMIT, [0], False) is None


def test_only_grids_of_a_power_of_ten_have_minor_units() -> None:
    assert [places_of(Decimal(grid)) for grid in ("0.01", "1", "0.001", "0.05", "0.10")] == [2, 0, 3, None, None]
    assert to_minor(Decimal("12.30"), 2) == 1230
    assert to_minor(Decimal("12.305"), 2) is None
    assert str(from_minor(0, 2)) == "0.00"
    assert str(from_minor(-5, 3)) == "-0.005"


@st.composite
def big_baskets(draw: st.DrawFn) -> list[tuple[CatalogProduct, int]]:
    lines = []
    for _ in range(draw(st.integers(12, 40))):
        price = Decimal(draw(st.integers(1, 20000))).scaleb(-2)
        floor = ZERO_FLOOR if draw(st.booleans()) else price * draw(st.integers(0, 100)) / 100
        lines.append(
            (
                product(
                    str(price),
                    min_price=str(floor.quantize(CENT, ROUND_FLOOR)),
                    category=draw(st.sampled_from(CATEGORIES)),
                ),
                draw(st.integers(1, 6)),
            )
        )
    return lines


ZERO_FLOOR = Decimal(0)


@st.composite
def many_promotions(draw: st.DrawFn) -> list[Promotion]:
    found = []
    for n in range(draw(st.integers(3, 9))):
        config = draw(
            configs()
            | st.sampled_from([PercentOff(percent=Decimal(3)), AmountOff(amount=Decimal("0.05"), currency="EUR")])
        )
        conditions = {}
        if draw(st.booleans()):
            conditions["category_ids"] = sorted(draw(st.sets(st.sampled_from(CATEGORIES), min_size=1)))
        found.append(
            promotion(
                config,
                name=f"p{n}",
                id=UUID(int=draw(st.integers(1, 2**64)) * 16 + n),
                priority=draw(st.integers(0, 3)),
                combinable=draw(st.booleans()),
                combines_with_coupons=draw(st.booleans()),
                conditions=conditions,
                group=draw(st.sampled_from([None, None, "g"])),
                funded_by=draw(st.sampled_from(["seller", "platform"])),
                on_reduced_lines=draw(st.sampled_from(["stack", "stack", "skip", "best_of"])),
                budget_remaining=draw(st.none() | st.integers(1, 30000).map(lambda cents: Decimal(cents).scaleb(-2))),
                budget_currency="EUR",
            )
        )
    return found


@settings(max_examples=250, deadline=None)
@given(big_baskets(), many_promotions(), st.lists(st.sampled_from(["SAVE10", "FIVE"]), max_size=2, unique=True))
def test_big_baskets_price_byte_for_byte_as_with_decimals(
    basket: list[tuple[CatalogProduct, int]], promos: list[Promotion], codes: list[str]
) -> None:
    with_minor = msgspec.json.encode(priced(basket, promos, codes))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(promotion_deals, "places_of", lambda cent: None)
        with_decimals = msgspec.json.encode(priced(basket, promos, codes))

    assert with_minor == with_decimals


@settings(max_examples=150, deadline=None)
@given(big_baskets(), many_promotions())
def test_big_baskets_price_byte_for_byte_as_without_the_index(
    basket: list[tuple[CatalogProduct, int]], promos: list[Promotion]
) -> None:
    """The index (`Targets`: eligible lines, a BUY_X_GET_Y's lines by position, its units ordered in integers,
    the deals in minor units) against the lines scanned one by one, as a small basket is priced."""
    indexed = msgspec.json.encode(priced(basket, promos, []))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(promotion_deals, "_INDEX_FROM", 10**9)
        scanned = msgspec.json.encode(priced(basket, promos, []))

    assert indexed == scanned


def test_the_minor_way_is_the_one_big_baskets_take(monkeypatch: pytest.MonkeyPatch) -> None:
    """The byte-for-byte test above compares two ways only if the first is taken: a 30-line basket under
    four promotions makes its deals in minor units, spreads them there and prices them from their sums."""
    spreads: list[int] = []
    summed: list[object] = []
    spread_real, sums_real = promotion_deals.spread_minor, promotion_deals.DealMinor.sums
    monkeypatch.setattr(
        promotion_deals, "spread_minor", lambda *args: (spreads.append(len(args[1])), spread_real(*args))[1]
    )
    monkeypatch.setattr(
        promotion_deals.DealMinor, "sums", lambda self: (summed.append(found := sums_real(self)), found)[1]
    )
    basket = [(product(f"{10 + n}.00", category=CATEGORIES[n % 3]), 1) for n in range(30)]
    promos = [promotion(PercentOff(percent=Decimal(n + 1)), name=f"p{n}", combinable=n != 3) for n in range(4)]

    result = priced(basket, promos, [])

    assert spreads == [30, 30, 30, 30]  # the stack's three, then the fourth alone
    assert len(summed) == 2  # the two deals priced from their sums
    assert None not in summed
    assert result.discount_amount > 0
    assert priced(basket, promos, ["SAVE10"]).applied_coupons  # with a code the lines are priced one by one
    assert len(summed) == 2


def test_tax_minor_is_line_tax_to_the_cent() -> None:
    rng = Random(7)
    for _ in range(20_000):
        net = rng.choice([0, 1, rng.randint(1, 999), rng.randint(1, 10**9), rng.randint(1, 10**14)])
        rate = Decimal(rng.randint(0, 4000)).scaleb(-rng.choice([0, 1, 2]))  # 0-40 %, to two decimals
        fraction = rate.scaleb(-2)
        expected = (from_minor(net, 2) * fraction).quantize(CENT, ROUND_HALF_UP)
        assert minor_units.tax_minor(net, minor_units.fraction_parts(fraction)) == to_minor(expected, 2), (
            net,
            fraction,
        )


def test_tax_minor_leaves_what_decimal_might_round_to_the_decimal_way() -> None:
    eighteen = minor_units.fraction_parts(Decimal("0.18"))
    assert minor_units.fraction_parts(Decimal("0.1234567890123")) is None  # 13 digits: the product might pass 28
    assert minor_units.tax_minor(100, None) is None
    assert minor_units.tax_minor(10**15, eighteen) is None
    assert minor_units.tax_minor(-1, eighteen) is None
    assert minor_units.tax_minor(250, eighteen) == 45  # 2.50 x 0.18 = 0.45
    assert minor_units.tax_minor(25, eighteen) == 5  # 0.045: a half, up


def test_tax_terms_give_a_discounted_lines_tax_less_its_tax_before() -> None:
    rng = Random(11)
    for _ in range(20_000):
        subtotal = rng.choice([0, 1, rng.randint(1, 999), rng.randint(1, 10**9), rng.randint(1, 10**14)])
        off = rng.choice([0, subtotal, rng.randint(0, subtotal)])
        fraction = Decimal(rng.randint(0, 4000)).scaleb(-rng.choice([2, 3, 4]))  # 0-40 %, to two decimals
        parts = minor_units.fraction_parts(fraction)
        before = minor_units.tax_minor(subtotal, parts)
        assert before is not None
        twice_numerator, twice_denominator, start = minor_units.tax_terms(subtotal, before, False, fraction)
        assert (start - twice_numerator * off) // twice_denominator == minor_units.tax_minor(
            subtotal - off, parts
        ) - before, (subtotal, off, fraction)
    assert minor_units.tax_terms(1000, 180, True, Decimal("0.18")) == (0, 2, 1)  # inclusive: adds none
    assert minor_units.tax_terms(10**15, 0, False, Decimal("0.18")) == (0, 0, 0)  # past NET_LIMIT
    assert minor_units.tax_terms(100, 18, False, Decimal("0.1234567890123")) == (0, 0, 0)  # 13 digits
    assert minor_units.tax_terms(100, 19, False, Decimal("0.18")) == (0, 0, 0)  # a tax not the subtotal's


def _order(keys: list[Any], gets: list[int], dearest: bool) -> list[int]:
    """`_units_given`'s order of its `get` lines by these keys: cheapest (or dearest) first, then by line."""
    return [i for _, i in sorted(zip([-key for key in keys] if dearest else keys, gets, strict=True))]


def test_unit_prices_order_the_lines_as_their_decimal_unit_prices_do() -> None:
    """`_unit_prices`' integer keys (a left in minor units times a common multiple of the units over its units)
    order a BUY_X_GET_Y's `get` lines exactly as lefts / units in Decimal do, equal unit prices (3 for 3.00 and
    1 for 1.00; the same price twice) included, both ways."""
    rng = Random(11)
    ordered = 0
    for _ in range(4000):
        count = rng.randint(1, 24)
        units = [rng.choice([1, 1, 2, 3, 4, 6, 7, 12, rng.randint(1, 10_000)]) for _ in range(count)]
        lefts = [
            rng.choice([0, units[k] * rng.randint(0, 40), rng.randint(0, 600), rng.randint(0, 10**13)])
            for k in range(count)
        ]
        gets = sorted(rng.sample(range(count), rng.randint(1, count)))
        keys = promotion_deals._unit_prices(lefts, units, gets)
        if keys is None:  # only for many different unit counts (their common multiple past 64 bits)
            assert len({units[i] for i in gets}) > 4
            continue
        ordered += 1
        decimals = [from_minor(lefts[i], 2) / units[i] for i in gets]
        for dearest in (False, True):
            assert _order(keys, gets, dearest) == _order(decimals, gets, dearest)
    assert ordered > 3000


def test_unit_prices_leave_amounts_past_their_bound_to_decimal() -> None:
    limit = promotion_deals.EXACT_ORDER_LIMIT
    assert promotion_deals._unit_prices([limit // 3 - 1, 5], [3, 1], [0, 1]) == [limit // 3 - 1, 15]
    assert promotion_deals._unit_prices([limit - 1], [1], [0]) == [limit - 1]
    assert promotion_deals._unit_prices([limit], [1], [0]) is None
    past = -(-limit // 3)  # 3 units of it reach the bound
    assert promotion_deals._unit_prices([past, 5], [3, 1], [0, 1]) is None
    assert promotion_deals._unit_prices([5, -past], [1, 3], [0, 1]) is None
    assert promotion_deals._unit_prices([past, 5], [3, 1], [1]) == [5]  # only the `get` lines count
