"""Versioned pricing rules: version selection, precedence, configurations, price adjustments."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quote_service.pricing.rules import (
    DecimalRange,
    DeliveryFeeConfig,
    PricingRule,
    QuantityTier,
    QuantityTierConfig,
    RuleBook,
    RuleConfig,
    TaxRateConfig,
    TimeWindowConfig,
    UserTierConfig,
    adjustment_percent,
    apply_price_rules,
    effective_version,
    fee_rule,
    in_time_window,
    price_rule_order,
    price_rules,
    tax_rule,
)
from quote_service.rules.schemas import configuration_json, parse_configuration

MONDAY_NOON = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)  # 2025-06-02 is a Monday
DAY = timedelta(days=1)
DELIVERY = DeliveryFeeConfig(base_fee=Decimal("10.00"))
PRODUCT = uuid.uuid4()


def make(
    name: str = "rule",
    version: int = 1,
    configuration: RuleConfig = DELIVERY,
    *,
    effective_from: datetime = MONDAY_NOON - 30 * DAY,
    **fields: Any,
) -> PricingRule:
    rule_type = type(configuration).__struct_config__.tag
    return PricingRule(
        id=uuid.uuid4(),
        name=name,
        version=version,
        type=rule_type,
        configuration=configuration,
        effective_from=effective_from,
        **fields,
    )


def fee(name: str, region: str | None = None, **fields: Any) -> PricingRule:
    return make(name, configuration=DeliveryFeeConfig(base_fee=Decimal(len(name))), region=region, **fields)


def window(percent: str, start: str, end: str, days: tuple[int, ...] | None = None) -> TimeWindowConfig:
    return TimeWindowConfig(adjust_percent=Decimal(percent), start_time=start, end_time=end, days_of_week=days)


def at(day: int, clock: str) -> datetime:
    """June 2025, where June 2 is a Monday (ISO 1) and June 8 a Sunday (ISO 7)."""
    hour, minute = map(int, clock.split(":"))
    return datetime(2025, 6, day, hour, minute, tzinfo=UTC)


# --- effective version --------------------------------------------------------------------------


def test_the_current_version_applies() -> None:
    v1 = make(version=1)
    assert effective_version(RuleBook([v1]), "rule", MONDAY_NOON) == v1
    assert effective_version(RuleBook([v1]), "other", MONDAY_NOON) is None


def test_a_future_version_waits_while_the_current_one_runs() -> None:
    v1 = make(version=1)
    v2 = make(version=2, effective_from=MONDAY_NOON + DAY)
    book = RuleBook([v2, v1])

    assert effective_version(book, "rule", MONDAY_NOON) == v1
    assert effective_version(book, "rule", MONDAY_NOON + DAY - timedelta(microseconds=1)) == v1
    assert effective_version(book, "rule", MONDAY_NOON + DAY) == v2  # the window is half-open


def test_an_expired_version_no_longer_applies() -> None:
    v1 = make(version=1, effective_to=MONDAY_NOON)
    book = RuleBook([v1])

    assert effective_version(book, "rule", MONDAY_NOON - timedelta(microseconds=1)) == v1
    assert effective_version(book, "rule", MONDAY_NOON) is None  # effective_to is excluded


def test_overlapping_windows_go_to_the_highest_version() -> None:
    v1 = make(version=1, effective_from=MONDAY_NOON - 10 * DAY)
    v2 = make(version=2, effective_from=MONDAY_NOON - 20 * DAY, effective_to=MONDAY_NOON + DAY)
    v3 = make(version=3, effective_from=MONDAY_NOON + 5 * DAY)
    book = RuleBook([v1, v3, v2])

    assert effective_version(book, "rule", MONDAY_NOON) == v2
    assert effective_version(book, "rule", MONDAY_NOON - 15 * DAY) == v2
    assert effective_version(book, "rule", MONDAY_NOON + 2 * DAY) == v1  # v2 ended, v3 not started
    assert effective_version(book, "rule", MONDAY_NOON + 6 * DAY) == v3


def test_an_inactive_version_is_skipped() -> None:
    v1 = make(version=1)
    v2 = make(version=2, is_active=False)

    assert effective_version(RuleBook([v1, v2]), "rule", MONDAY_NOON) == v1


def test_a_retired_name_never_applies() -> None:
    retired = MONDAY_NOON - DAY
    book = RuleBook([make(version=1, retired_at=retired), make(version=2, retired_at=retired)])

    assert effective_version(book, "rule", MONDAY_NOON) is None
    assert fee_rule(book, "DELIVERY_FEE", city=None, country=None, now=MONDAY_NOON) is None


def test_the_book_indexes_by_name_and_scope() -> None:
    generic = make("generic", configuration=window("5", "00:00", "00:00"))
    scoped = make("scoped", configuration=window("5", "00:00", "00:00"), product_id=PRODUCT)
    book = RuleBook([generic, scoped, make("fee")])

    assert len(book) == 3
    assert book.names("TIME_WINDOW", product_id=None, category_id=None) == ["generic"]
    assert book.names("TIME_WINDOW", product_id=PRODUCT, category_id="books") == ["generic", "scoped"]
    assert book.names("DELIVERY_FEE", product_id=None, category_id=None) == ["fee"]
    assert book.versions("missing") == ()


def test_the_book_lists_every_version_of_every_name() -> None:
    versions = [make("a", 1), make("a", 2, is_active=False), make("b", 1, retired_at=MONDAY_NOON), make("c", 7)]

    assert sorted(RuleBook(versions).all_versions(), key=lambda r: (r.name, r.version)) == versions
    assert list(RuleBook([]).all_versions()) == []


# --- fee rules: region precedence ---------------------------------------------------------------


def test_city_beats_country_beats_no_region() -> None:
    everywhere = fee("everywhere", priority=100)
    country = fee("country", region="TR", priority=50)
    city = fee("city", region="istanbul")
    book = RuleBook([everywhere, country, city])

    assert fee_rule(book, "DELIVERY_FEE", city="Istanbul", country="TR", now=MONDAY_NOON) == city
    assert fee_rule(book, "DELIVERY_FEE", city="Ankara", country="tr", now=MONDAY_NOON) == country
    assert fee_rule(book, "DELIVERY_FEE", city="Berlin", country="DE", now=MONDAY_NOON) == everywhere
    assert fee_rule(RuleBook([country, city]), "DELIVERY_FEE", city="Berlin", country="DE", now=MONDAY_NOON) is None


def test_within_a_region_level_priority_then_version_decide() -> None:
    low = fee("low", region="TR", priority=1)
    high = fee("high", region="TR", priority=2)
    book = RuleBook([low, high])
    assert fee_rule(book, "DELIVERY_FEE", city=None, country="TR", now=MONDAY_NOON) == high

    older = fee("a-older", region="TR", priority=2)
    newer = make("b-newer", version=4, configuration=DELIVERY, region="TR", priority=2)
    book = RuleBook([older, newer])
    assert fee_rule(book, "DELIVERY_FEE", city=None, country="TR", now=MONDAY_NOON) == newer


def test_fee_rules_are_chosen_per_type() -> None:
    delivery = fee("delivery")
    tax = make("tax", configuration=TaxRateConfig(rate=Decimal(8)))
    book = RuleBook([delivery, tax])

    assert fee_rule(book, "DELIVERY_FEE", city=None, country=None, now=MONDAY_NOON) == delivery
    assert fee_rule(book, "EXPRESS_FEE", city=None, country=None, now=MONDAY_NOON) is None


def test_a_fee_rule_uses_the_effective_version_of_its_name() -> None:
    v1 = fee("delivery", region="Istanbul")
    v2 = make("delivery", version=2, configuration=DELIVERY, region="Ankara")
    book = RuleBook([v1, v2])

    assert fee_rule(book, "DELIVERY_FEE", city="Istanbul", country="TR", now=MONDAY_NOON) is None
    assert fee_rule(book, "DELIVERY_FEE", city="Ankara", country="TR", now=MONDAY_NOON) == v2


# --- tax rules ----------------------------------------------------------------------------------


def tax(name: str, rate: str, **fields: Any) -> PricingRule:
    return make(name, configuration=TaxRateConfig(rate=Decimal(rate)), **fields)


def test_a_category_rate_beats_a_generic_one_even_from_a_wider_region() -> None:
    generic_city = tax("istanbul", "20", region="Istanbul")
    books_country = tax("books-tr", "8", region="TR", category_id="books")
    books_city = tax("books-istanbul", "5", region="Istanbul", category_id="books")
    book = RuleBook([generic_city, books_country])

    assert tax_rule(book, category_id="books", city="Istanbul", country="TR", now=MONDAY_NOON) == books_country
    assert tax_rule(book, category_id="toys", city="Istanbul", country="TR", now=MONDAY_NOON) == generic_city
    assert tax_rule(book, category_id=None, city="Ankara", country="DE", now=MONDAY_NOON) is None
    book = RuleBook([generic_city, books_country, books_city])
    assert tax_rule(book, category_id="books", city="Istanbul", country="TR", now=MONDAY_NOON) == books_city


# --- price rules: which apply, in which order ---------------------------------------------------


def test_price_rules_match_product_category_and_region_in_priority_order() -> None:
    always = window("1", "00:00", "00:00")
    generic = make("b-generic", configuration=always)
    for_product = make("for-product", configuration=always, product_id=PRODUCT, priority=5)
    for_category = make("a-category", configuration=always, category_id="books")
    other_product = make("other-product", configuration=always, product_id=uuid.uuid4())
    elsewhere = make("elsewhere", configuration=always, region="Berlin")
    in_city = make("in-city", configuration=always, region="istanbul", priority=-1)
    not_price = fee("delivery")
    book = RuleBook([generic, for_product, for_category, other_product, elsewhere, in_city, not_price])

    found = price_rules(book, product_id=PRODUCT, category_id="books", city="Istanbul", country="TR", now=MONDAY_NOON)

    assert [r.name for r in found] == ["for-product", "a-category", "b-generic", "in-city"]
    found = price_rules(book, product_id=None, category_id=None, city=None, country=None, now=MONDAY_NOON)
    assert [r.name for r in found] == ["b-generic"]


# --- adjustments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "now", "inside"),
    [
        ("09:00", "17:00", at(2, "09:00"), True),
        ("09:00", "17:00", at(2, "16:59"), True),
        ("09:00", "17:00", at(2, "17:00"), False),  # half-open
        ("09:00", "17:00", at(2, "08:59"), False),
        ("22:00", "02:00", at(2, "23:30"), True),  # crosses midnight
        ("22:00", "02:00", at(3, "01:59"), True),
        ("22:00", "02:00", at(3, "02:00"), False),
        ("22:00", "02:00", at(2, "12:00"), False),
        ("06:00", "06:00", at(2, "05:59"), True),  # equal times (refused on write; a stored one): a whole day
        ("00:00", "24:00", at(2, "00:00"), True),  # 24:00: the end of the day
        ("00:00", "24:00", at(2, "23:59"), True),
        ("22:00", "24:00", at(2, "23:59"), True),
        ("22:00", "24:00", at(3, "00:00"), False),
        ("22:00", "24:00", at(2, "21:59"), False),
    ],
)
def test_time_windows(start: str, end: str, now: datetime, inside: bool) -> None:
    assert in_time_window(window("-10", start, end), now) is inside


def test_time_windows_compare_in_utc() -> None:
    istanbul = timezone(timedelta(hours=3))
    config = window("-10", "09:00", "10:00")

    assert in_time_window(config, datetime(2025, 6, 2, 12, 30, tzinfo=istanbul))  # 09:30 UTC
    assert not in_time_window(config, datetime(2025, 6, 2, 9, 30, tzinfo=istanbul))  # 06:30 UTC


def test_days_of_week_are_iso_and_name_the_day_a_window_starts() -> None:
    friday_night = window("-10", "22:00", "02:00", days=(5,))

    assert in_time_window(friday_night, at(6, "23:00"))  # Friday 23:00
    assert in_time_window(friday_night, at(7, "01:00"))  # Saturday 01:00: Friday's window
    assert not in_time_window(friday_night, at(7, "23:00"))  # Saturday's own window
    assert not in_time_window(friday_night, at(6, "01:00"))  # Thursday's window
    sunday = window("5", "00:00", "00:00", days=(7,))
    assert in_time_window(sunday, at(8, "12:00"))
    assert not in_time_window(sunday, at(9, "12:00"))
    assert in_time_window(window("5", "23:00", "01:00", days=(7,)), at(9, "00:30"))  # Monday 00:30: Sunday's


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_weekends_in_istanbul_are_one_rule() -> None:
    """Saturday 00:00 to Monday 00:00 Istanbul time (UTC+3): Friday 21:00 to Sunday 21:00 UTC."""
    weekend = TimeWindowConfig(
        adjust_percent=Decimal(-10),
        start_time="00:00",
        end_time="00:00",
        days_of_week=(6, 7),
        timezone="Europe/Istanbul",
    )

    assert not in_time_window(weekend, utc("2025-06-06T20:59"))  # Friday 23:59 in Istanbul
    assert in_time_window(weekend, utc("2025-06-06T21:00"))  # Saturday 00:00 (still Friday in UTC)
    assert in_time_window(weekend, utc("2025-06-07T23:30"))  # Sunday 02:30
    assert in_time_window(weekend, utc("2025-06-08T20:59"))  # Sunday 23:59
    assert not in_time_window(weekend, utc("2025-06-08T21:00"))  # Monday 00:00 (still Sunday in UTC)


def test_a_window_without_a_zone_reads_the_business_zone() -> None:
    lunch = window("-10", "12:00", "14:00")
    now = utc("2025-06-02T10:30")  # 13:30 in Istanbul, 12:30 in Berlin, 10:30 in UTC

    assert not in_time_window(lunch, now)
    assert in_time_window(lunch, now, "Europe/Istanbul")
    assert in_time_window(lunch, now, "Europe/Berlin")
    in_utc = TimeWindowConfig(adjust_percent=Decimal(-10), start_time="12:00", end_time="14:00", timezone="UTC")
    assert not in_time_window(in_utc, now, "Europe/Istanbul")  # its own zone wins


def berlin(start: str, end: str) -> TimeWindowConfig:
    return TimeWindowConfig(adjust_percent=Decimal(5), start_time=start, end_time=end, timezone="Europe/Berlin")


def test_on_the_day_clocks_spring_forward_a_window_edge_in_the_skipped_hour_moves_to_its_end() -> None:
    """2025-03-30 in Berlin: 02:00 CET becomes 03:00 CEST at 01:00 UTC (02:00-02:59 never shows)."""
    half_past_two = berlin("02:30", "03:30")
    assert not in_time_window(half_past_two, utc("2025-03-30T00:59"))  # 01:59 CET
    assert in_time_window(half_past_two, utc("2025-03-30T01:00"))  # 03:00 CEST: past 02:30, opened
    assert in_time_window(half_past_two, utc("2025-03-30T01:29"))  # 03:29
    assert not in_time_window(half_past_two, utc("2025-03-30T01:30"))  # 03:30: 30 minutes that day
    assert in_time_window(half_past_two, utc("2025-03-31T00:30"))  # the next day: 02:30 CEST, a full hour
    inside_the_gap = berlin("02:00", "02:45")
    for minute in range(0, 24 * 60, 5):
        assert not in_time_window(inside_the_gap, utc("2025-03-29T23:00") + timedelta(minutes=minute))
    assert in_time_window(inside_the_gap, utc("2025-03-29T01:30"))  # the day before: 02:30 CET
    night = berlin("22:00", "06:00")  # 8 hours by the clock, 7 in fact that night
    opened = [m for m in range(0, 24 * 60) if in_time_window(night, utc("2025-03-29T18:00") + timedelta(minutes=m))]
    assert (opened[0], opened[-1] + 1) == (3 * 60, 10 * 60)  # 21:00 to 04:00 UTC


def test_on_the_day_clocks_fall_back_a_window_opens_and_closes_once() -> None:
    """2025-10-26 in Berlin: 03:00 CEST becomes 02:00 CET at 01:00 UTC (02:00-02:59 shows twice)."""
    repeated = berlin("02:00", "03:00")  # the whole repeated hour: open for both passes, two hours
    assert not in_time_window(repeated, utc("2025-10-25T23:59"))  # 01:59 CEST
    assert in_time_window(repeated, utc("2025-10-26T00:00"))  # 02:00 CEST
    assert in_time_window(repeated, utc("2025-10-26T01:30"))  # 02:30 CET, the second pass
    assert not in_time_window(repeated, utc("2025-10-26T02:00"))  # 03:00 CET
    ends_inside = berlin("01:00", "02:30")  # closes at the first 02:30 and stays closed
    assert in_time_window(ends_inside, utc("2025-10-26T00:29"))  # 02:29 CEST
    assert not in_time_window(ends_inside, utc("2025-10-26T00:30"))  # 02:30 CEST
    assert not in_time_window(ends_inside, utc("2025-10-26T01:00"))  # 02:00 CET: not again
    assert not in_time_window(ends_inside, utc("2025-10-26T01:15"))  # 02:15 CET
    starts_inside = berlin("02:30", "04:00")  # opens at the first 02:30 and stays open
    assert not in_time_window(starts_inside, utc("2025-10-26T00:29"))  # 02:29 CEST
    assert in_time_window(starts_inside, utc("2025-10-26T00:30"))  # 02:30 CEST
    assert in_time_window(starts_inside, utc("2025-10-26T01:00"))  # 02:00 CET: not closed again
    assert in_time_window(starts_inside, utc("2025-10-26T02:59"))  # 03:59 CET
    assert not in_time_window(starts_inside, utc("2025-10-26T03:00"))  # 04:00 CET: 3 h 30 that day
    assert not in_time_window(berlin("02:00", "02:30"), utc("2025-10-26T01:10"))  # 02:10 CET: closed at 02:30 CEST


def test_new_york_windows_across_both_changes() -> None:
    happy = TimeWindowConfig(adjust_percent=Decimal(-5), start_time="17:00", end_time="19:00")
    # 17:00 in New York is 21:00 UTC in summer (EDT) and 22:00 UTC in winter (EST)
    assert in_time_window(happy, utc("2025-11-01T21:00"), "America/New_York")
    assert not in_time_window(happy, utc("2025-11-02T21:00"), "America/New_York")
    assert in_time_window(happy, utc("2025-11-02T22:00"), "America/New_York")
    late = TimeWindowConfig(adjust_percent=Decimal(-5), start_time="23:00", end_time="02:30", days_of_week=(7,))
    # Sunday 2026-03-08 23:00 EDT to Monday 02:30 EDT; and the Saturday's window is not Sunday's
    assert in_time_window(late, utc("2026-03-09T03:00"), "America/New_York")  # Sunday 23:00 EDT
    assert in_time_window(late, utc("2026-03-09T06:29"), "America/New_York")  # Monday 02:29 EDT
    assert not in_time_window(late, utc("2026-03-08T07:00"), "America/New_York")  # Sunday 03:00 EDT: Saturday's


def test_a_zone_no_longer_in_the_database_never_opens() -> None:
    gone = TimeWindowConfig(adjust_percent=Decimal(5), start_time="00:00", end_time="00:00", timezone="Mars/Olympus")

    assert not in_time_window(gone, MONDAY_NOON)


def test_quantity_tiers_give_the_highest_tier_reached() -> None:
    tiers = QuantityTierConfig(
        tiers=(
            QuantityTier(min_quantity=5, adjust_percent=Decimal(-5)),
            QuantityTier(min_quantity=10, adjust_percent=Decimal(-10)),
            QuantityTier(min_quantity=50, adjust_percent=Decimal(-20)),
        )
    )
    rule = make(configuration=tiers)

    def percent(quantity: int) -> Decimal | None:
        return adjustment_percent(rule, quantity=quantity, user_tier=None, now=MONDAY_NOON)

    assert percent(4) is None
    assert percent(5) == Decimal(-5)
    assert percent(49) == Decimal(-10)
    assert percent(10_000) == Decimal(-20)


def test_user_tiers_match_case_insensitively() -> None:
    rule = make(configuration=UserTierConfig(tiers={"Gold": Decimal(-10), "silver": Decimal("-5.5")}))

    def percent(tier: str | None) -> Decimal | None:
        return adjustment_percent(rule, quantity=1, user_tier=tier, now=MONDAY_NOON)

    assert percent("gold") == Decimal(-10)
    assert percent(" SILVER ") == Decimal("-5.5")
    assert percent("bronze") is None
    assert percent(None) is None


def test_non_price_rules_adjust_nothing() -> None:
    assert adjustment_percent(fee("delivery"), quantity=1, user_tier="gold", now=MONDAY_NOON) is None


def always(percent: str, name: str, **fields: Any) -> PricingRule:
    return make(name, configuration=window(percent, "00:00", "00:00"), **fields)


def test_rules_compound_in_order() -> None:
    rules = [always("-10", "a"), always("10", "b"), always("-50", "c", effective_from=MONDAY_NOON + DAY)]

    price, applied = apply_price_rules(
        rules[:2], unit_price=Decimal("100.00"), quantity=1, user_tier=None, min_price=Decimal(0), now=MONDAY_NOON
    )

    assert price == Decimal("99.00")  # 100 x 0.90 x 1.10, unrounded
    assert [(r.name, p) for r, p in applied] == [("a", Decimal(-10)), ("b", Decimal(10))]


def test_an_applied_exclusive_rule_stops_the_chain() -> None:
    night_only = make("night", configuration=window("-30", "22:00", "23:00"), exclusive=True)
    exclusive = always("-20", "exclusive", exclusive=True)
    rules = [always("10", "first"), night_only, exclusive, always("-50", "never")]

    price, applied = apply_price_rules(
        rules, unit_price=Decimal(50), quantity=1, user_tier=None, min_price=Decimal(0), now=MONDAY_NOON
    )

    assert [r.name for r, _ in applied] == ["first", "exclusive"]  # the night rule did not apply
    assert price == Decimal(44)  # 50 x 1.10 x 0.80


def test_the_price_never_goes_below_min_price() -> None:
    price, applied = apply_price_rules(
        [always("-50", "half")],
        unit_price=Decimal(100),
        quantity=1,
        user_tier=None,
        min_price=Decimal(80),
        now=MONDAY_NOON,
    )

    assert price == Decimal(80)
    assert len(applied) == 1


percents = st.decimals(min_value=Decimal("-99.99"), max_value=Decimal(200), places=2)


@settings(max_examples=200, deadline=None)
@given(
    adjustments=st.lists(st.tuples(percents, st.integers(-3, 3), st.booleans()), max_size=6),
    unit_price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100_000), places=2),
    min_share=st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=2),
    seed=st.integers(0, 1000),
)
def test_price_rules_never_go_below_min_price_and_ignore_input_order(
    adjustments: list[tuple[Decimal, int, bool]], unit_price: Decimal, min_share: Decimal, seed: int
) -> None:
    rules = [
        always(str(percent), f"rule-{i}", priority=priority, exclusive=exclusive)
        for i, (percent, priority, exclusive) in enumerate(adjustments)
    ]
    shuffled = rules[:]
    random.Random(seed).shuffle(shuffled)
    min_price = unit_price * min_share

    def run(given_rules: list[PricingRule]) -> tuple[Decimal, list[str]]:
        price, applied = apply_price_rules(
            sorted(given_rules, key=price_rule_order),
            unit_price=unit_price,
            quantity=1,
            user_tier=None,
            min_price=min_price,
            now=MONDAY_NOON,
        )
        return price, [r.name for r, _ in applied]

    price, names = run(rules)
    assert price >= min_price
    assert (price, names) == run(shuffled)
    assert price_rules(
        RuleBook(shuffled), product_id=None, category_id=None, city=None, country=None, now=MONDAY_NOON
    ) == sorted(rules, key=price_rule_order)


# --- configuration validation -------------------------------------------------------------------

VALID: list[tuple[str, dict[str, Any]]] = [
    ("DELIVERY_FEE", {"base_fee": "10.00"}),
    (
        "DELIVERY_FEE",
        {
            "base_fee": 8,
            "per_km": "0.5",
            "max_fee": 30,
            "distance_bands": [{"max_km": 3, "fee": 8}, {"max_km": "10.5", "fee": 12}],
        },
    ),
    ("EXPRESS_FEE", {"multiplier": "2.0"}),
    ("EXPRESS_FEE", {"multiplier": 1.5, "base_fee": 15, "distance_factor": "0.75", "max_fee": 60}),
    ("SMALL_BASKET", {"threshold": "50.00", "fee": "5.00"}),
    ("FREE_DELIVERY", {"min_subtotal": 0}),
    ("REGIONAL_FEE", {"amount": "4.90"}),
    ("TAX_RATE", {"rate": 0}),
    ("TAX_RATE", {"rate": "100"}),
    ("TIME_WINDOW", {"adjust_percent": -10, "start_time": "22:00", "end_time": "02:00"}),
    ("TIME_WINDOW", {"adjust_percent": "12.5", "start_time": "00:00", "end_time": "23:59", "days_of_week": [1, 7]}),
    ("TIME_WINDOW", {"adjust_percent": -10, "start_time": "00:00", "end_time": "24:00", "timezone": "Europe/Istanbul"}),
    ("TIME_WINDOW", {"adjust_percent": -10, "start_time": "22:00", "end_time": "02:00", "timezone": "Etc/UTC"}),
    (
        "QUANTITY_TIER",
        {"tiers": [{"min_quantity": 1, "adjust_percent": 0}, {"min_quantity": 10, "adjust_percent": -5}]},
    ),
    ("USER_TIER", {"tiers": {"gold": -10, "silver": "-5"}}),
    (
        "INVENTORY_LEVEL",
        {
            "low_threshold": 0,
            "low_adjust_percent": 10,
            "high_threshold": 1,
            "high_adjust_percent": -10,
            "cooldown_hours": 0,
        },
    ),
]


@pytest.mark.parametrize(("rule_type", "raw"), VALID)
def test_valid_configurations_parse_and_round_trip(rule_type: Any, raw: dict[str, Any]) -> None:
    config, errors = parse_configuration(rule_type, raw)

    assert errors == []
    assert config is not None
    assert type(config).__struct_config__.tag == rule_type
    again, _ = parse_configuration(rule_type, configuration_json(config))
    assert again == config  # what is stored parses back to the same configuration


def test_amounts_are_exact_decimals() -> None:
    config, _ = parse_configuration("DELIVERY_FEE", {"base_fee": 0.1, "per_km": "1e3"})

    assert isinstance(config, DeliveryFeeConfig)
    assert config.base_fee == Decimal("0.1")
    assert configuration_json(config) == {"base_fee": "0.1", "per_km": "1000"}


INVALID: list[tuple[str, dict[str, Any], set[str]]] = [
    ("DELIVERY_FEE", {}, {"configuration.base_fee"}),
    ("DELIVERY_FEE", {"base_fee": "-0.01"}, {"configuration.base_fee"}),
    ("DELIVERY_FEE", {"base_fee": "NaN"}, {"configuration.base_fee"}),
    ("DELIVERY_FEE", {"base_fee": "-Infinity"}, {"configuration.base_fee"}),
    ("DELIVERY_FEE", {"base_fee": True}, {"configuration.base_fee"}),
    ("DELIVERY_FEE", {"base_fee": [1]}, {"configuration.base_fee"}),
    ("DELIVERY_FEE", {"base_fee": 1, "fee": 2}, {"configuration.fee"}),
    ("DELIVERY_FEE", {"base_fee": 1, "type": "TAX_RATE"}, {"configuration.type"}),
    ("DELIVERY_FEE", {"base_fee": 10, "max_fee": 5}, {"configuration.max_fee"}),
    ("DELIVERY_FEE", {"base_fee": 1, "distance_bands": []}, {"configuration.distance_bands"}),
    (
        "DELIVERY_FEE",
        {"base_fee": 1, "distance_bands": [{"max_km": 5, "fee": 1}, {"max_km": 5, "fee": 2}]},
        {"configuration.distance_bands[1].max_km"},
    ),
    (
        "DELIVERY_FEE",
        {"base_fee": 1, "distance_bands": [{"max_km": 0, "fee": 1}, {"fee": -1}]},
        {
            "configuration.distance_bands[0].max_km",
            "configuration.distance_bands[1].max_km",
            "configuration.distance_bands[1].fee",
        },
    ),
    ("EXPRESS_FEE", {"multiplier": 0}, {"configuration.multiplier"}),
    (
        "EXPRESS_FEE",
        {"multiplier": 2, "distance_factor": "-1", "base_fee": "x"},
        {"configuration.distance_factor", "configuration.base_fee"},
    ),
    ("SMALL_BASKET", {"threshold": 50}, {"configuration.fee"}),
    ("SMALL_BASKET", {"threshold": "1e12", "fee": 5}, {"configuration.threshold"}),
    ("FREE_DELIVERY", {"min_subtotal": None}, {"configuration.min_subtotal"}),
    ("REGIONAL_FEE", {"amount": -5}, {"configuration.amount"}),
    ("TAX_RATE", {"rate": "100.01"}, {"configuration.rate"}),
    ("TAX_RATE", {"rate": 18, "category_id": "books"}, {"configuration.category_id"}),
    (
        "TIME_WINDOW",
        {"adjust_percent": -100, "start_time": "9:00", "end_time": "24:01"},
        {"configuration.adjust_percent", "configuration.start_time", "configuration.end_time"},
    ),
    ("TIME_WINDOW", {"adjust_percent": 5, "start_time": "24:00", "end_time": "02:00"}, {"configuration.start_time"}),
    (  # an empty window (docs/http.md)
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "08:00", "end_time": "08:00"},
        {"configuration.start_time", "configuration.end_time"},
    ),
    (
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "00:00", "end_time": "00:00", "days_of_week": [6, 7]},
        {"configuration.start_time", "configuration.end_time"},
    ),
    (
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "08:00", "end_time": "09:00", "timezone": "localtime"},
        {"configuration.timezone"},
    ),
    (
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "08:00", "end_time": "09:00", "timezone": "posixrules"},
        {"configuration.timezone"},
    ),
    (
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "08:00", "end_time": "09:00", "days_of_week": [0, 8]},
        {"configuration.days_of_week[0]", "configuration.days_of_week[1]"},
    ),
    (
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "08:00", "end_time": "09:00", "days_of_week": [2, 2]},
        {"configuration.days_of_week"},
    ),
    (
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "08:00", "end_time": "09:00", "timezone": "Europe/Atlantis"},
        {"configuration.timezone"},
    ),
    (
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "08:00", "end_time": "09:00", "timezone": "europe/istanbul"},
        {"configuration.timezone"},
    ),
    (
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "08:00", "end_time": "09:00", "timezone": 3},
        {"configuration.timezone"},
    ),
    (
        "TIME_WINDOW",
        {"adjust_percent": 5, "start_time": "08:00", "end_time": "09:00", "timezone": ""},
        {"configuration.timezone"},
    ),
    ("QUANTITY_TIER", {"tiers": []}, {"configuration.tiers"}),
    ("QUANTITY_TIER", {"tiers": [{"min_quantity": 0, "adjust_percent": 1}]}, {"configuration.tiers[0].min_quantity"}),
    (
        "QUANTITY_TIER",
        {"tiers": [{"min_quantity": 5, "adjust_percent": 1}, {"min_quantity": 2, "adjust_percent": 2}]},
        {"configuration.tiers[1].min_quantity"},
    ),
    (
        "QUANTITY_TIER",
        {"tiers": [{"min_quantity": 1.5, "adjust_percent": 1, "x": 1}]},
        {"configuration.tiers[0].min_quantity", "configuration.tiers[0].x"},
    ),
    ("USER_TIER", {"tiers": {}}, {"configuration.tiers"}),
    ("USER_TIER", {"tiers": ["gold"]}, {"configuration.tiers"}),
    (
        "USER_TIER",
        {"tiers": {"gold": -100, "silver": "abc"}},
        {"configuration.tiers.gold", "configuration.tiers.silver"},
    ),
    ("USER_TIER", {"tiers": {"gold": -10, "GOLD": -5}}, {"configuration.tiers.GOLD"}),
    (
        "INVENTORY_LEVEL",
        {
            "low_threshold": 10,
            "low_adjust_percent": 5,
            "high_threshold": 10,
            "high_adjust_percent": -5,
            "cooldown_hours": 24,
        },
        {"configuration.low_threshold"},
    ),
    (
        "INVENTORY_LEVEL",
        {
            "low_threshold": -1,
            "low_adjust_percent": 5,
            "high_threshold": 10,
            "high_adjust_percent": "-100",
            "cooldown_hours": "24",
        },
        {"configuration.low_threshold", "configuration.high_adjust_percent", "configuration.cooldown_hours"},
    ),
]


@pytest.mark.parametrize(("rule_type", "raw", "fields"), INVALID)
def test_invalid_configurations_name_every_bad_field(rule_type: Any, raw: dict[str, Any], fields: set[str]) -> None:
    config, errors = parse_configuration(rule_type, raw)

    assert config is None
    assert {e.field for e in errors} == fields
    assert all(e.message for e in errors)


def test_unknown_and_missing_fields_say_so() -> None:
    _, errors = parse_configuration("SMALL_BASKET", {"treshold": 50, "fee": 5})

    assert {(e.field, e.message) for e in errors} == {
        ("configuration.treshold", "unknown field"),
        ("configuration.threshold", "required field missing"),
    }


def test_decimal_range_messages() -> None:
    bounds = DecimalRange(gt=Decimal(-100), le=Decimal(1000))

    assert bounds.problem(Decimal("-99.99")) is None
    assert bounds.problem(Decimal(-100)) == "must be a finite number > -100 and <= 1000"
    assert bounds.problem(Decimal("NaN")) is not None
    assert bounds.problem(Decimal("Infinity")) is not None
