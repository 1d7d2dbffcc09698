"""Commission resolution and amounts (docs/pricing.md): the matrix of dimensions, dates, precedence, math."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quote_service.pricing.commission import (
    CommissionIndex,
    CommissionRate,
    ItemComponent,
    Tier,
    commission_amount,
    component_of,
    default_rate,
    resolve_item_rate,
    resolve_logistics_rate,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LAST_MONTH = NOW - timedelta(days=30)
D = Decimal

# The item and quote every resolution below is made for (unless a test says otherwise).
CATEGORY, SELLER, PROVIDER, CITY, COUNTRY = "books", "seller-1", "FastShip", "Istanbul", "TR"


def rate(**fields: Any) -> CommissionRate:
    """A 10 % EUR rate effective since last month, with `fields` overriding.

    Unless `fields` say otherwise it feeds the category component (logistics when it names a
    provider), so that the matching and precedence tests compare rates of one component."""
    defaults: dict[str, Any] = {
        "id": uuid4(),
        "commission_type": "PERCENTAGE",
        "rate": D("10"),
        "currency": "EUR",
        "effective_from": LAST_MONTH,
        "created_at": LAST_MONTH,
        "component": "logistics" if fields.get("logistics_provider") else "category",
    }
    return CommissionRate(**{**defaults, **fields})


def sales(
    rates: Sequence[CommissionRate],
    component: ItemComponent = "category",
    *,
    category_id: str | None = CATEGORY,
    seller_id: str | None = SELLER,
    city: str | None = CITY,
    country: str | None = COUNTRY,
    currency: str = "EUR",
    now: datetime = NOW,
) -> CommissionRate | None:
    return resolve_item_rate(
        CommissionIndex(rates),
        component,
        category_id=category_id,
        seller_id=seller_id,
        city=city,
        country=country,
        currency=currency,
        now=now,
    )


def logistics(
    rates: Sequence[CommissionRate],
    *,
    provider: str | None = PROVIDER,
    seller_id: str | None = SELLER,
    category_ids: Collection[str] = (CATEGORY, "toys"),
    city: str | None = CITY,
    country: str | None = COUNTRY,
    currency: str = "EUR",
    now: datetime = NOW,
) -> CommissionRate | None:
    return resolve_logistics_rate(
        CommissionIndex(rates),
        provider=provider,
        seller_id=seller_id,
        category_ids=category_ids,
        city=city,
        country=country,
        currency=currency,
        now=now,
    )


def resolve(rates: Sequence[CommissionRate], **context: Any) -> CommissionRate | None:
    """Whichever component the rates belong to (they all have a provider, or none has)."""
    if any(r.logistics_provider is not None for r in rates):
        return logistics(rates, **context)
    return sales(rates, **context)


# --- The matrix: every combination of dimensions, with and without a region ----------------------

COMBOS = [
    ("category",),
    ("seller",),
    ("logistics",),
    ("category", "seller"),
    ("category", "logistics"),
    ("seller", "logistics"),
    ("category", "seller", "logistics"),
]
REGIONS = [None, "TR", "Istanbul"]


def combo_rate(combo: Sequence[str], region: str | None = None, **fields: Any) -> CommissionRate:
    return rate(
        category_id=CATEGORY if "category" in combo else None,
        seller_id=SELLER if "seller" in combo else None,
        logistics_provider=PROVIDER if "logistics" in combo else None,
        region=region,
        **fields,
    )


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("combo", COMBOS, ids="+".join)
def test_a_rate_matches_when_every_dimension_it_sets_matches(combo: tuple[str, ...], region: str | None) -> None:
    wanted = combo_rate(combo, region)

    assert resolve([wanted]) == wanted


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("combo", COMBOS, ids="+".join)
def test_sales_and_logistics_rates_never_mix(combo: tuple[str, ...], region: str | None) -> None:
    only = combo_rate(combo, region)

    if "logistics" in combo:
        assert sales([only]) is None
    else:
        assert logistics([only]) is None


# Each way one dimension of the item or quote can differ from what a rate sets.
DIFFERENT = {
    "category": {"category_id": "toys", "category_ids": ("toys", "garden")},
    "seller": {"seller_id": "seller-2"},
    "logistics": {"provider": "SlowShip"},
    "region": {"city": "Ankara", "country": "DE"},
}


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("combo", COMBOS, ids="+".join)
def test_a_rate_does_not_match_when_one_dimension_differs(combo: tuple[str, ...], region: str | None) -> None:
    candidate = combo_rate(combo, region)
    differing = [*combo, "region"] if region else list(combo)

    for dimension in differing:
        context = dict(DIFFERENT[dimension])
        if "logistics" not in combo:
            context.pop("category_ids", None)
        else:
            context.pop("category_id", None)
        assert resolve([candidate], **context) is None, dimension


@pytest.mark.parametrize("combo", COMBOS, ids="+".join)
def test_region_city_beats_country_beats_none(combo: tuple[str, ...]) -> None:
    everywhere, country, city = (combo_rate(combo, region) for region in REGIONS)

    assert resolve([everywhere, country, city]) == city
    assert resolve([everywhere, country]) == country
    assert resolve([everywhere]) == everywhere
    # Delivered elsewhere: only the rate without a region is left.
    assert resolve([everywhere, country, city], city="Lyon", country="FR") == everywhere
    # Same country, another city: the country rate.
    assert resolve([everywhere, country, city], city="Ankara") == country


@pytest.mark.parametrize(("region", "city", "country"), [("istanbul", "ISTANBUL", "TR"), (" tr ", "Ankara", "tr")])
def test_region_is_case_insensitive_and_ignores_spaces(region: str, city: str, country: str) -> None:
    regional = rate(category_id=CATEGORY, region=region)

    assert sales([regional], city=city, country=country) == regional


def test_a_regional_rate_needs_an_address() -> None:
    regional = rate(category_id=CATEGORY, region="TR")

    assert sales([regional], city=None, country=None) is None


# --- Precedence: priority, then specificity, then effective_from, then created_at ------------------


def test_specificity_seller_4_category_2_region_1() -> None:
    seller_category = rate(seller_id=SELLER, category_id=CATEGORY)
    seller_region = rate(seller_id=SELLER, region="TR")
    seller = rate(seller_id=SELLER)
    category_region = rate(category_id=CATEGORY, region="Istanbul")
    category = rate(category_id=CATEGORY)
    region = rate(region="Istanbul")
    everywhere = rate()
    ranked = [seller_category, seller_region, seller, category_region, category, region, everywhere]

    for i, expected in enumerate(ranked):
        assert sales(ranked[i:]) == expected
        assert sales(list(reversed(ranked[i:]))) == expected  # load order does not matter


def test_higher_priority_beats_specificity() -> None:
    specific = rate(seller_id=SELLER, category_id=CATEGORY, region="Istanbul")
    general = rate(priority=1)

    assert sales([specific, general]) == general


def test_negative_priority_loses_to_the_default_zero() -> None:
    demoted = rate(seller_id=SELLER, priority=-1)
    plain = rate()

    assert sales([demoted, plain]) == plain


def test_latest_effective_from_breaks_a_specificity_tie() -> None:
    older = rate(category_id=CATEGORY, effective_from=LAST_MONTH, created_at=NOW - timedelta(hours=1))
    newer = rate(category_id=CATEGORY, effective_from=LAST_MONTH + timedelta(days=1), created_at=LAST_MONTH)

    assert sales([older, newer]) == newer
    assert sales([newer, older]) == newer


def test_latest_created_at_breaks_an_effective_from_tie() -> None:
    first = rate(category_id=CATEGORY, created_at=LAST_MONTH)
    second = rate(category_id=CATEGORY, created_at=LAST_MONTH + timedelta(seconds=1))

    assert sales([first, second]) == second
    assert sales([second, first]) == second


def test_logistics_precedence_follows_the_same_order() -> None:
    provider_only = rate(logistics_provider=PROVIDER)
    with_seller = rate(logistics_provider=PROVIDER, seller_id=SELLER)
    with_category = rate(logistics_provider=PROVIDER, category_id=CATEGORY, region="TR")
    favoured = rate(logistics_provider=PROVIDER, priority=5, effective_from=LAST_MONTH - timedelta(days=1))

    assert logistics([provider_only, with_category, with_seller]) == with_seller
    assert logistics([provider_only, with_category]) == with_category
    assert logistics([provider_only, with_category, with_seller, favoured]) == favoured


# --- Dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effective_from", "effective_to", "matches"),
    [
        (LAST_MONTH, None, True),  # current, open-ended
        (LAST_MONTH, NOW + timedelta(days=1), True),  # current, ends later
        (NOW, None, True),  # starts exactly now: [from, to) includes from
        (NOW + timedelta(seconds=1), None, False),  # future
        (LAST_MONTH, NOW, False),  # ends exactly now: [from, to) excludes to
        (LAST_MONTH, NOW - timedelta(days=1), False),  # expired
    ],
)
@pytest.mark.parametrize("provider", [None, PROVIDER])
def test_a_rate_applies_only_inside_its_half_open_window(
    effective_from: datetime, effective_to: datetime | None, matches: bool, provider: str | None
) -> None:
    windowed = rate(
        category_id=CATEGORY, logistics_provider=provider, effective_from=effective_from, effective_to=effective_to
    )

    assert (resolve([windowed]) == windowed) is matches


def test_overlapping_windows_hand_over_by_time() -> None:
    summer = rate(category_id=CATEGORY, effective_from=datetime(2025, 6, 1, tzinfo=UTC))
    june_promo = rate(
        category_id=CATEGORY,
        effective_from=datetime(2025, 6, 10, tzinfo=UTC),
        effective_to=datetime(2025, 6, 20, tzinfo=UTC),
    )
    rates = [summer, june_promo]

    assert sales(rates, now=datetime(2025, 6, 5, tzinfo=UTC)) == summer  # promo not started
    assert sales(rates, now=datetime(2025, 6, 10, tzinfo=UTC)) == june_promo  # both: the later start wins
    assert sales(rates, now=datetime(2025, 6, 20, tzinfo=UTC)) == summer  # promo over
    assert sales(rates, now=datetime(2025, 5, 31, tzinfo=UTC)) is None  # neither started


def test_an_inactive_rate_never_matches() -> None:
    assert sales([rate(is_active=False)]) is None
    assert logistics([rate(logistics_provider=PROVIDER, is_active=False)]) is None


# --- Other matching rules ------------------------------------------------------------------------------


def test_currency_must_equal_the_quote_currency() -> None:
    dollars = rate(currency="USD")
    shipping_dollars = rate(logistics_provider=PROVIDER, currency="USD")

    assert sales([dollars]) is None
    assert logistics([shipping_dollars]) is None
    assert sales([dollars], currency="USD") == dollars


def test_item_without_seller_is_not_matched_by_a_seller_rate() -> None:
    seller_rate = rate(seller_id=SELLER, priority=9)
    category_rate = rate(category_id=CATEGORY)

    assert sales([seller_rate, category_rate], seller_id=None) == category_rate


def test_no_rates_means_no_match() -> None:
    assert sales([]) is None
    assert logistics([]) is None


def test_logistics_provider_is_case_insensitive_and_needed() -> None:
    shipping = rate(logistics_provider="FastShip")

    assert logistics([shipping], provider="FASTSHIP") == shipping
    assert logistics([shipping], provider=None) is None


def test_logistics_category_matches_when_any_line_has_it() -> None:
    shipping = rate(logistics_provider=PROVIDER, category_id="toys")

    assert logistics([shipping], category_ids=["books", "toys"]) == shipping
    assert logistics([shipping], category_ids=["books"]) is None
    assert logistics([shipping], category_ids=[]) is None


def test_logistics_seller_is_the_quote_level_seller() -> None:
    shipping = rate(logistics_provider=PROVIDER, seller_id=SELLER)

    assert logistics([shipping], seller_id=SELLER) == shipping
    assert logistics([shipping], seller_id=None) is None


def test_index_counts_only_active_rates() -> None:
    index = CommissionIndex([rate(), rate(logistics_provider=PROVIDER), rate(is_active=False)])

    assert len(index) == 2


def test_index_lists_its_sales_and_logistics_rates() -> None:
    seller, region, shipping = rate(seller_id=SELLER), rate(region=CITY), rate(logistics_provider=PROVIDER)

    listed = list(CommissionIndex([seller, rate(is_active=False), shipping, region]).rates())

    assert sorted(listed, key=lambda r: str(r.id)) == sorted([seller, region, shipping], key=lambda r: str(r.id))


# --- Attribution and the default rate --------------------------------------------------------------


def test_component_is_derived_from_the_dimensions_when_not_set() -> None:
    def derived(**fields: Any) -> str:
        return component_of(rate(component=None, **fields))

    assert derived(logistics_provider=PROVIDER) == "logistics"
    assert derived(logistics_provider=PROVIDER, seller_id=SELLER, category_id=CATEGORY) == "logistics"
    assert derived(seller_id=SELLER) == "seller"
    assert derived(seller_id=SELLER, region="TR") == "seller"
    assert derived(seller_id=SELLER, category_id=CATEGORY) == "category"  # a seller's category rate: an override
    assert derived(category_id=CATEGORY) == "category"
    assert derived(region="TR") == "category"
    assert derived() == "category"


def test_a_set_component_wins_over_the_derived_one() -> None:
    assert component_of(rate(seller_id=SELLER, component="category")) == "category"
    assert component_of(rate(category_id=CATEGORY, component="seller")) == "seller"


def test_each_component_has_its_own_winner() -> None:
    category = rate(category_id=CATEGORY, priority=9)
    seller = rate(seller_id=SELLER, component="seller")
    seller_in_books = rate(seller_id=SELLER, category_id=CATEGORY, component="seller")

    assert sales([category, seller, seller_in_books], "category") == category
    assert sales([category, seller, seller_in_books], "seller") == seller_in_books  # more specific
    assert sales([category], "seller") is None
    assert sales([seller], "category") is None


def test_shapes_the_api_refuses_never_match() -> None:
    category_with_provider = rate(category_id=CATEGORY, logistics_provider=PROVIDER, component="category")
    logistics_without_provider = rate(component="logistics")

    assert sales([category_with_provider, logistics_without_provider]) is None
    assert logistics([category_with_provider, logistics_without_provider]) is None
    assert len(CommissionIndex([category_with_provider, logistics_without_provider])) == 0


def test_default_rate_is_an_id_less_category_percentage() -> None:
    fallback = default_rate(D("15"), "EUR")

    assert fallback.id is None
    assert component_of(fallback) == "category"
    # The Go README example: 2 x 25.50 at the default 15 % → 7.65.
    assert commission_amount(fallback, base=D("51.00"), quantity=2, currency="EUR") == D("7.65")


# --- Amounts ------------------------------------------------------------------------------------------


def amount(r: CommissionRate, base: str, quantity: int = 1, currency: str = "EUR", **kw: Any) -> Decimal:
    return commission_amount(r, base=D(base), quantity=quantity, currency=currency, **kw)


def test_percentage_is_base_times_rate_over_100() -> None:
    assert amount(rate(rate=D("12.5")), "80.00") == D("10.00")
    assert amount(rate(rate=D("0")), "80.00") == D("0.00")
    assert amount(rate(rate=D("100")), "80.00") == D("80.00")


def test_flat_is_per_unit() -> None:
    flat = rate(commission_type="FLAT", rate=D("2.50"))

    assert amount(flat, "999.00", quantity=3) == D("7.50")
    assert amount(flat, "0.00", quantity=1) == D("2.50")  # independent of the base


def test_flat_per_order_counts_once() -> None:
    flat = rate(commission_type="FLAT", rate=D("4.00"), logistics_provider=PROVIDER)

    assert amount(flat, "12.00", quantity=5, per_order=True) == D("4.00")


TWO_TIERS = (Tier(up_to=D("1000.00"), rate=D("10")), Tier(up_to=None, rate=D("5")))
THREE_TIERS = (Tier(up_to=D("100"), rate=D("10")), Tier(up_to=D("500"), rate=D("5")), Tier(up_to=None, rate=D("1")))


@pytest.mark.parametrize(
    ("tiers", "base", "expected"),
    [
        (TWO_TIERS, "1200.00", "110.00"),  # 1000 x 10 % + 200 x 5 %
        (TWO_TIERS, "1000.00", "100.00"),  # exactly the bracket boundary
        (TWO_TIERS, "1000.10", "100.01"),  # 100 + 0.10 x 5 % = 100.005 → half up
        (TWO_TIERS, "999.99", "100.00"),  # 99.999 → 100.00
        (TWO_TIERS, "0.00", "0.00"),
        (THREE_TIERS, "50", "5.00"),
        (THREE_TIERS, "100", "10.00"),
        (THREE_TIERS, "500", "30.00"),  # 10 + 400 x 5 %
        (THREE_TIERS, "600", "31.00"),  # 10 + 20 + 100 x 1 %
        ((Tier(up_to=None, rate=D("7.5")),), "200", "15.00"),  # one open tier = a percentage
    ],
)
def test_tiered_is_marginal_like_income_tax(tiers: tuple[Tier, ...], base: str, expected: str) -> None:
    tiered = rate(commission_type="TIERED", rate=None, tiers=tiers)

    assert amount(tiered, base) == D(expected)


@pytest.mark.parametrize(
    ("fields", "base", "expected"),
    [
        ({"min_amount": D("5.00")}, "10.00", "5.00"),  # 1.00 raised to the minimum
        ({"min_amount": D("5.00")}, "0.00", "5.00"),  # even on nothing
        ({"max_amount": D("50.00")}, "1000.00", "50.00"),  # 100.00 capped
        ({"min_amount": D("5.00"), "max_amount": D("50.00")}, "200.00", "20.00"),  # inside: untouched
        ({"min_amount": D("7.00"), "max_amount": D("7.00")}, "200.00", "7.00"),
    ],
)
def test_amount_is_clamped_to_min_and_max(fields: dict[str, Decimal], base: str, expected: str) -> None:
    assert amount(rate(**fields), base) == D(expected)


def test_clamps_apply_to_flat_and_tiered_too() -> None:
    flat = rate(commission_type="FLAT", rate=D("3.00"), max_amount=D("10.00"))
    tiered = rate(commission_type="TIERED", rate=None, tiers=TWO_TIERS, min_amount=D("150.00"))

    assert amount(flat, "1.00", quantity=5) == D("10.00")
    assert amount(tiered, "1200.00") == D("150.00")


@pytest.mark.parametrize(
    ("percent", "base", "currency", "expected"),
    [
        ("10", "0.05", "EUR", "0.01"),  # 0.005 → up
        ("12.5", "0.10", "EUR", "0.01"),  # 0.0125 → down
        ("12.5", "0.20", "EUR", "0.03"),  # 0.025 → up, not to even
        ("15", "10", "JPY", "2"),  # 1.5 → 2
        ("15", "103", "JPY", "15"),  # 15.45 → 15
        ("1.5", "0.100", "KWD", "0.002"),  # 0.0015 → 0.002
    ],
)
def test_amount_is_rounded_half_up_to_minor_units(percent: str, base: str, currency: str, expected: str) -> None:
    result = amount(rate(rate=D(percent), currency=currency), base, currency=currency)

    assert result == D(expected)
    assert str(result) == expected


def test_negative_base_counts_as_zero() -> None:
    assert amount(rate(), "-10.00") == D("0.00")


# --- Properties ------------------------------------------------------------------------------------

money_amounts = st.decimals(min_value=0, max_value=D("1000000000"), places=2, allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def tier_lists(draw: st.DrawFn) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.sets(st.decimals(min_value=D("0.01"), max_value=D("1e9"), places=2), max_size=5)))
    rates = draw(st.lists(percents, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    limits: list[Decimal | None] = [*bounds, None]
    return tuple(Tier(up_to=up_to, rate=r) for up_to, r in zip(limits, rates, strict=True))


@st.composite
def any_rate(draw: st.DrawFn) -> CommissionRate:
    kind = draw(st.sampled_from(["PERCENTAGE", "FLAT", "TIERED"]))
    value = {"PERCENTAGE": percents, "FLAT": money_amounts, "TIERED": st.none()}[kind]
    low, high = draw(st.none() | money_amounts), draw(st.none() | money_amounts)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return rate(
        commission_type=kind,
        rate=draw(value),
        tiers=draw(tier_lists()) if kind == "TIERED" else (),
        min_amount=low,
        max_amount=high,
    )


@given(r=any_rate(), base=money_amounts, quantity=st.integers(min_value=1, max_value=10_000))
def test_commission_is_never_negative_and_respects_the_clamps(r: CommissionRate, base: Decimal, quantity: int) -> None:
    result = commission_amount(r, base=base, quantity=quantity, currency="EUR")

    assert result >= 0
    assert result == result.quantize(D("0.01"))
    if r.min_amount is not None:
        assert result >= r.min_amount
    if r.max_amount is not None:
        assert result <= r.max_amount


@given(tiers=tier_lists(), a=money_amounts, b=money_amounts)
def test_tiered_never_decreases_as_the_base_grows(tiers: tuple[Tier, ...], a: Decimal, b: Decimal) -> None:
    tiered = rate(commission_type="TIERED", rate=None, tiers=tiers)
    low, high = sorted((a, b))

    assert amount(tiered, str(low)) <= amount(tiered, str(high))


@given(tiers=tier_lists(), base=money_amounts)
def test_tiered_stays_between_its_lowest_and_highest_tier_rate(tiers: tuple[Tier, ...], base: Decimal) -> None:
    tiered = rate(commission_type="TIERED", rate=None, tiers=tiers)
    lowest = min(t.rate for t in tiers)
    highest = max(t.rate for t in tiers)

    result = amount(tiered, str(base))

    assert amount(rate(rate=lowest), str(base)) <= result <= amount(rate(rate=highest), str(base))
