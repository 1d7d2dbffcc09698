"""The quote engine, steps 1-4 and the whole (docs/pricing.md): list price, flash split, price rules, lines."""

from __future__ import annotations

import gc
from datetime import datetime, timedelta
from decimal import Decimal

import msgspec
import pytest

from quote_service.errors import CurrencyNotPriced, ValidationFailed
from quote_service.pricing.flags import Rollout
from quote_service.pricing.quote import CustomerContext, EngineDefaults
from quote_service.pricing.resolution import Resolution
from quote_service.pricing.rules import (
    DeliveryFeeConfig,
    QuantityTier,
    QuantityTierConfig,
    TimeWindowConfig,
    UserTierConfig,
)
from tests.unit.pricing.test_engine_support import (
    NOW,
    QUOTE_ID,
    D,
    flag,
    item,
    offer,
    product,
    quote,
    rate,
    request,
    rule,
    snapshot,
)


def tier_rule(*tiers: tuple[int, str], **fields: object) -> object:
    return rule(
        QuantityTierConfig(tiers=tuple(QuantityTier(min_quantity=q, adjust_percent=D(p)) for q, p in tiers)), **fields
    )


def memos() -> set[int]:
    """The per-window memos (`Resolution`s) alive, by id: compared as sets, so that a memo another test's
    app frees (or makes) meanwhile, on its own thread, does not move the count this test reads."""
    gc.collect()
    return {id(found) for found in gc.get_objects() if isinstance(found, Resolution)}


def percent_rule(percent: str, **fields: object) -> object:
    """A price rule that always applies: a whole-day TIME_WINDOW."""
    return rule(TimeWindowConfig(adjust_percent=D(percent), start_time="00:00", end_time="00:00"), **fields)


# --- the README example -----------------------------------------------------------------------


def test_the_go_readme_example_with_no_configuration() -> None:
    defaults = EngineDefaults(currency="USD")  # DEFAULT_CURRENCY: the default fees are in it
    result = quote(
        request(item("prod-1", 2, unit_price="25.50"), currency="USD", is_express_delivery=True), defaults=defaults
    )

    assert (result.subtotal, result.tax_amount, result.delivery_fee) == (D("51.00"), D("9.18"), D("20.00"))
    assert (result.small_basket_fee, result.total_amount) == (D("0.00"), D("80.18"))
    assert result.commission_breakdown.total_commission == D("7.65")
    assert result.commission_breakdown.category_commission == D("7.65")
    assert result.items[0].price_source == "request"
    assert result.applied_rules == []
    wire = msgspec.json.decode(msgspec.json.encode(result))
    assert (wire["subtotal"], wire["total_amount"], wire["discount_amount"]) == ("51.00", "80.18", "0.00")


def test_the_quote_carries_its_identity_and_validity() -> None:
    result = quote(request(item("p", 1, unit_price="1.00")), config=snapshot(version=42))

    assert result.quote_id == QUOTE_ID
    assert result.customer_id == "c-1"
    assert result.created_at == NOW
    assert result.valid_until == NOW + timedelta(minutes=15)
    assert result.config_version == 42


def test_calculations_run_from_the_list_prices_to_the_total() -> None:
    result = quote(request(item("p", 2, unit_price="10.00")), rules=[percent_rule("-10")])

    steps = [(c.step, c.amount, c.running_total) for c in result.pricing_breakdown.calculations]
    assert steps == [
        ("items", D("20.00"), D("20.00")),
        ("price_rules", D("-2.00"), D("18.00")),
        ("discount", D("0.00"), D("18.00")),
        ("tax", D("3.24"), D("21.24")),
        ("delivery", D("10.00"), D("31.24")),
        ("small_basket", D("5.00"), D("36.24")),
    ]
    assert result.pricing_breakdown.item_total == D("20.00")
    assert result.total_amount == D("36.24")


# --- step 1: list price -----------------------------------------------------------------------


def test_the_catalog_price_wins_over_the_client_unit_price() -> None:
    book = product("30.00", category="novels", seller="acme")

    result = quote(request(item(book, 1, unit_price="1.00", category_id="cheap", seller_id="me")), products=[book])

    line = result.items[0]
    assert (line.list_unit_price, line.unit_price, line.line_subtotal) == (D("30.00"), D("30.00"), D("30.00"))
    assert (line.price_source, line.category_id, line.seller_id) == ("catalog", "novels", "acme")


def test_a_client_priced_item_takes_its_category_and_seller_else_the_quote_seller() -> None:
    result = quote(
        request(
            item("a", 1, unit_price="5.00", category_id="toys", seller_id="s-a"),
            item("b", 1, unit_price="5.00"),
            seller_id="s-q",
        )
    )

    assert [(line.category_id, line.seller_id) for line in result.items] == [("toys", "s-a"), (None, "s-q")]


def test_an_inactive_catalog_product_is_priced_from_the_request() -> None:
    gone = product("30.00", active=False)

    result = quote(request(item(gone, 1, unit_price="12.00")), products=[gone])

    assert (result.items[0].unit_price, result.items[0].price_source) == (D("12.00"), "request")


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (None, "required"),
        ("0", "greater than 0"),
        ("-1.00", "greater than 0"),
        ("NaN", "finite"),
        ("sNaN", "finite"),  # cannot even be hashed
        ("Infinity", "finite"),
        ("1.005", "decimals"),
        ("1000000000000", "less than"),
    ],
)
def test_a_product_without_a_usable_unit_price_is_refused(price: str | None, message: str) -> None:
    ok = item("ok", 1, unit_price="1.00")
    bad = item("unknown", 1, unit_price=None if price is None else D(price))

    with pytest.raises(ValidationFailed) as refused:
        quote(request(ok, bad))

    assert refused.value.code == "VALIDATION_FAILED"
    assert [d.field for d in refused.value.details] == ["items[1].unit_price"]
    assert message in refused.value.details[0].message


def test_every_bad_item_is_named_at_once() -> None:
    with pytest.raises(ValidationFailed) as refused:
        quote(request(item("a", 1), item("b", 1, unit_price="1.00"), item("c", 1, unit_price="-2")))

    assert [d.field for d in refused.value.details] == ["items[0].unit_price", "items[2].unit_price"]


def test_a_catalog_price_in_another_currency_and_no_price_list_is_not_priced() -> None:
    dollars = product("10.00", currency="USD")

    with pytest.raises(CurrencyNotPriced) as refused:
        quote(request(item("x", 1, unit_price="1.00"), item(dollars, 1)), products=[dollars])

    assert refused.value.code == "CURRENCY_NOT_PRICED"  # docs/price-lists.md (CURRENCY_MISMATCH before price lists)
    assert refused.value.status_code == 422
    assert [d.field for d in refused.value.details] == ["items[1].product_id"]


def test_a_mismatch_next_to_an_invalid_item_is_reported_with_it() -> None:
    dollars = product("10.00", currency="USD")

    with pytest.raises(ValidationFailed) as refused:
        quote(request(item(dollars, 1), item("x", 1)), products=[dollars])

    assert refused.value.code == "VALIDATION_FAILED"
    assert sorted(d.field for d in refused.value.details) == ["items[0].product_id", "items[1].unit_price"]


@pytest.mark.parametrize("currency", ["XYZ", "EUX", "usx"])
def test_the_quote_currency_must_be_iso_4217(currency: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        quote(request(item("p", 1, unit_price="1.00"), currency=currency))

    assert [d.field for d in refused.value.details] == ["currency"]


def test_the_currency_code_is_read_in_any_case() -> None:
    assert quote(request(item("p", 1, unit_price="1.00"), currency="eur")).currency == "EUR"


# --- money: minor units and half-up -----------------------------------------------------------


def test_a_zero_decimal_currency_has_no_minor_digits() -> None:
    defaults = EngineDefaults(currency="JPY", delivery_fee=D("10"))
    result = quote(request(item("p", 2, unit_price="25"), currency="JPY", is_express_delivery=True), defaults=defaults)

    wire = msgspec.json.decode(msgspec.json.encode(result))
    assert (wire["subtotal"], wire["tax_amount"], wire["delivery_fee"], wire["total_amount"]) == ("50", "9", "20", "79")
    assert wire["small_basket_fee"] == "0"


def test_a_zero_decimal_currency_refuses_fractions() -> None:
    with pytest.raises(ValidationFailed):
        quote(request(item("p", 1, unit_price="25.5"), currency="JPY"))


def test_a_three_decimal_currency_shows_three_digits() -> None:
    result = quote(request(item("p", 1, unit_price="51.125"), currency="KWD"), defaults=EngineDefaults(currency="KWD"))

    assert str(result.subtotal) == "51.125"
    assert str(result.tax_amount) == "9.203"  # 9.2025 rounds half up
    assert str(result.delivery_fee) == "10.000"


def test_tax_rounds_half_up() -> None:
    result = quote(request(item("p", 1, unit_price="0.25")))

    assert result.items[0].tax == D("0.05")  # 18 % of 0.25 = 0.045 -> 0.05 (half-even would give 0.04)


def test_a_line_rounds_half_up_from_the_exact_unit_price() -> None:
    result = quote(request(item("p", 1, unit_price="0.05")), rules=[percent_rule("-50")])

    assert result.items[0].line_subtotal == D("0.03")  # 0.025 -> 0.03


def test_the_line_is_computed_from_the_exact_unit_price_and_the_unit_price_is_shown_rounded() -> None:
    result = quote(request(item("p", 3, unit_price="25.55")), rules=[percent_rule("-10")])

    line = result.items[0]
    assert line.unit_price == D("23.00")  # 22.995 shown rounded
    assert line.line_subtotal == D("68.99")  # 3 x 22.995 = 68.985 -> 68.99, not 3 x 23.00


# --- step 2: flash sales ----------------------------------------------------------------------


def test_flash_units_are_limited_by_the_customers_remaining_allowance() -> None:
    phone = product("100.00")
    sale = offer(phone, "60.00", stock=50, limit=2)

    result = quote(request(item(phone, 5)), products=[phone], flash={phone: sale})

    flash_line, rest = result.items
    assert (flash_line.quantity, flash_line.unit_price, flash_line.line_subtotal) == (2, D("60.00"), D("120.00"))
    assert (flash_line.price_source, flash_line.flash_sale_id, flash_line.list_unit_price) == (
        "flash_sale",
        sale.flash_sale_id,
        D("100.00"),
    )
    assert (rest.quantity, rest.unit_price, rest.price_source, rest.flash_sale_id) == (3, D("100.00"), "catalog", None)
    assert result.subtotal == D("420.00")


def test_flash_units_are_limited_by_the_remaining_stock() -> None:
    phone = product("100.00")

    result = quote(request(item(phone, 5)), products=[phone], flash={phone: offer(phone, "60.00", stock=1, limit=9)})

    assert [(line.quantity, line.price_source) for line in result.items] == [(1, "flash_sale"), (4, "catalog")]


def test_all_units_at_the_flash_price_leave_no_catalog_line() -> None:
    phone = product("100.00")

    result = quote(request(item(phone, 2)), products=[phone], flash={phone: offer(phone, "60.00")})

    assert [(line.quantity, line.price_source) for line in result.items] == [(2, "flash_sale")]


@pytest.mark.parametrize(("stock", "limit"), [(0, 5), (5, 0), (-1, 5)])
def test_no_flash_line_without_stock_or_allowance(stock: int, limit: int) -> None:
    phone = product("100.00")

    result = quote(
        request(item(phone, 2)), products=[phone], flash={phone: offer(phone, "60.00", stock=stock, limit=limit)}
    )

    assert [(line.quantity, line.price_source) for line in result.items] == [(2, "catalog")]


def test_the_same_product_twice_shares_one_flash_allowance() -> None:
    phone = product("100.00")

    result = quote(
        request(item(phone, 2), item(phone, 2)), products=[phone], flash={phone: offer(phone, "60.00", limit=3)}
    )

    assert [(line.quantity, line.price_source) for line in result.items] == [
        (2, "flash_sale"),
        (1, "flash_sale"),
        (1, "catalog"),
    ]


def test_flash_units_take_no_price_rules_and_the_rest_do() -> None:
    phone = product("100.00")

    result = quote(
        request(item(phone, 3)),
        products=[phone],
        flash={phone: offer(phone, "60.00", limit=1)},
        rules=[percent_rule("-10")],
    )

    flash_line, rest = result.items
    assert (flash_line.unit_price, flash_line.applied_rules) == (D("60.00"), [])
    assert rest.unit_price == D("90.00")
    assert [step.step for step in result.pricing_breakdown.calculations][:3] == ["items", "flash_sale", "price_rules"]


# --- step 3: price rules ----------------------------------------------------------------------


def test_rules_compound_in_descending_priority() -> None:
    up = percent_rule("10", name="up", priority=1)
    down = percent_rule("-10", name="down", priority=5)

    result = quote(request(item("p", 1, unit_price="100.00")), rules=[up, down])

    assert result.items[0].unit_price == D("99.00")  # 100 x 0.9 x 1.1
    assert [r.name for r in result.items[0].applied_rules] == ["down", "up"]
    assert [r.amount for r in result.items[0].applied_rules] == [D("-10.00"), D("9.00")]


def test_an_exclusive_rule_stops_the_chain() -> None:
    first = percent_rule("-20", name="first", priority=9, exclusive=True)
    later = percent_rule("-50", name="later", priority=1)

    result = quote(request(item("p", 1, unit_price="100.00")), rules=[first, later])

    assert result.items[0].unit_price == D("80.00")
    assert [r.name for r in result.applied_rules] == ["first"]


def test_an_exclusive_rule_that_does_not_apply_does_not_stop_the_chain() -> None:
    gold_only = rule(UserTierConfig(tiers={"gold": D("-20")}), name="gold", priority=9, exclusive=True)
    later = percent_rule("-10", name="later", priority=1)

    result = quote(request(item("p", 1, unit_price="100.00")), rules=[gold_only, later])

    assert result.items[0].unit_price == D("90.00")


@pytest.mark.parametrize(("quantity", "unit"), [(4, "100.00"), (5, "95.00"), (9, "95.00"), (10, "90.00")])
def test_the_highest_quantity_tier_reached_applies(quantity: int, unit: str) -> None:
    tiers = tier_rule((5, "-5"), (10, "-10"))

    result = quote(request(item("p", quantity, unit_price="100.00")), rules=[tiers])

    assert result.items[0].unit_price == D(unit)


def test_quantity_tiers_count_the_flash_units_of_the_item() -> None:
    phone = product("100.00")

    result = quote(
        request(item(phone, 5)),
        products=[phone],
        flash={phone: offer(phone, "60.00", limit=1)},
        rules=[tier_rule((5, "-10"))],
    )

    assert result.items[1].quantity == 4
    assert result.items[1].unit_price == D("90.00")


def test_user_tier_rules_use_the_customers_tier() -> None:
    tiers = rule(UserTierConfig(tiers={"gold": D("-10"), "silver": D("-5")}))
    req = request(item("p", 1, unit_price="100.00"))

    gold = quote(req, rules=[tiers], customer=CustomerContext(customer_id="c-1", tier="Gold"))
    nobody = quote(req, rules=[tiers])

    assert (gold.items[0].unit_price, nobody.items[0].unit_price) == (D("90.00"), D("100.00"))


def test_a_time_window_applies_only_inside_it() -> None:
    lunch = rule(TimeWindowConfig(adjust_percent=D("-20"), start_time="12:00", end_time="13:00"))
    req = request(item("p", 1, unit_price="100.00"))

    assert quote(req, rules=[lunch], now=NOW).items[0].unit_price == D("80.00")
    assert quote(req, rules=[lunch], now=NOW + timedelta(hours=1)).items[0].unit_price == D("100.00")


def test_the_rules_stop_at_the_min_price() -> None:
    book = product("100.00", min_price="85.00")

    result = quote(request(item(book, 2)), products=[book], rules=[percent_rule("-30")])

    assert (result.items[0].unit_price, result.items[0].line_subtotal) == (D("85.00"), D("170.00"))
    assert result.applied_rules[0].amount == D("-30.00")


def test_rules_scoped_to_another_product_or_category_do_not_apply() -> None:
    book = product("100.00", category="books")
    other = product("50.00", category="toys")

    result = quote(
        request(item(book, 1), item(other, 1)),
        products=[book, other],
        rules=[percent_rule("-10", product_id=other.id), percent_rule("-50", category_id="games")],
    )

    assert [line.unit_price for line in result.items] == [D("100.00"), D("45.00")]


def test_dynamic_pricing_off_skips_the_price_rules() -> None:
    req = request(item("p", 1, unit_price="100.00"))
    rules = [percent_rule("-10")]

    off = quote(req, rules=rules, flags=[flag("dynamic_pricing", True, is_enabled=False)])
    on = quote(req, rules=rules, flags=[flag("dynamic_pricing", True)])
    absent = quote(req, rules=rules)
    off_for_others = quote(
        req,
        rules=rules,
        flags=[flag("dynamic_pricing", True, rollout=Rollout(user_segments=("vip",)))],
    )

    assert off.items[0].unit_price == D("100.00")
    assert off.applied_rules == []
    assert (on.items[0].unit_price, absent.items[0].unit_price) == (D("90.00"), D("90.00"))
    assert off_for_others.items[0].unit_price == D("100.00")


def test_applied_rules_sum_each_rule_over_the_lines_with_its_id_and_version() -> None:
    ten = percent_rule("-10", name="ten", version=3)

    result = quote(request(item("a", 1, unit_price="10.00"), item("b", 2, unit_price="5.00")), rules=[ten])

    assert [(r.rule_id, r.name, r.type, r.version, r.amount) for r in result.applied_rules] == [
        (ten.id, "ten", "TIME_WINDOW", 3, D("-2.00"))
    ]
    assert [line.applied_rules[0].amount for line in result.items] == [D("-1.00"), D("-1.00")]


def test_the_same_inputs_give_the_same_quote() -> None:
    config = snapshot(rules=[percent_rule("-7")])
    req = request(item("a", 3, unit_price="9.99"), item("b", 1, unit_price="0.01"))

    assert quote(req, config=config) == quote(req, config=config)


def test_a_rule_leaves_at_the_end_of_its_window_under_the_same_snapshot() -> None:
    ends = NOW + timedelta(minutes=5)
    config = snapshot(rules=[percent_rule("-10", effective_to=ends), percent_rule("5", effective_from=ends)])
    req = request(item("p", 1, unit_price="100.00"))

    before = quote(req, config=config, now=ends - timedelta(microseconds=1))
    at = quote(req, config=config, now=ends)
    again = quote(req, config=config, now=ends - timedelta(seconds=1))

    assert (before.items[0].unit_price, at.items[0].unit_price, again.items[0].unit_price) == (
        D("90.00"),
        D("105.00"),
        D("90.00"),
    )


def test_fees_and_commission_rates_leave_at_the_end_of_their_window_under_the_same_snapshot() -> None:
    ends = NOW + timedelta(minutes=5)
    config = snapshot(
        rules=[
            rule(DeliveryFeeConfig(base_fee=D("7.00")), effective_to=ends),
            rule(DeliveryFeeConfig(base_fee=D("9.00")), effective_from=ends),
        ],
        rates=[rate(rate=D("10"), effective_to=ends), rate(rate=D("20"), effective_from=ends)],
    )
    req = request(item("p", 1, unit_price="100.00"))

    results = [quote(req, config=config, now=now) for now in (ends - timedelta(microseconds=1), ends, NOW)]

    assert [(r.delivery_fee, r.commission_breakdown.total_commission) for r in results] == [
        (D("7.00"), D("10.00")),
        (D("9.00"), D("20.00")),
        (D("7.00"), D("10.00")),
    ]


def test_answers_follow_now_across_many_windows_in_any_order() -> None:
    edges = [NOW + timedelta(hours=hours) for hours in (1, 2, 3)]
    starts = [NOW - timedelta(days=1), *edges]
    ends: list[datetime | None] = [*edges, None]
    config = snapshot(
        rules=[
            percent_rule(f"-{n + 1}", effective_from=start, effective_to=end)
            for n, (start, end) in enumerate(zip(starts, ends, strict=True))
        ]
    )
    req = request(item("p", 1, unit_price="100.00"))
    order = [3, 0, 2, 1, 0, 3, 3, 1, 2, 0]

    prices = [quote(req, config=config, now=starts[n] + timedelta(minutes=1)).items[0].unit_price for n in order]

    assert prices == [D(99 - n) for n in order]


def test_snapshots_never_share_memo_entries() -> None:
    req = request(item("p", 1, unit_price="100.00"))
    first, second = snapshot(rules=[percent_rule("-10")]), snapshot(rules=[percent_rule("-10")])

    quote(req, config=first)

    assert first.resolver.at(NOW) is not second.resolver.at(NOW)
    assert len(first.resolver.at(NOW)) > 0
    assert len(second.resolver.at(NOW)) == 0


def test_snapshots_made_one_after_another_each_price_with_their_own_rules() -> None:
    """A snapshot dropped before the next is built often leaves it its memory (and id()): nothing carries over."""
    req = request(item("p", 1, unit_price="100.00"))
    prices = []
    for percent in range(1, 21):
        prices.append(quote(req, config=snapshot(rules=[percent_rule(f"-{percent}")], version=1)).items[0].unit_price)

    assert prices == [D(100 - percent) for percent in range(1, 21)]


def test_a_dropped_snapshot_takes_its_memo_with_it() -> None:
    before = memos()
    config = snapshot(rules=[percent_rule("-10")])
    quote(request(item("p", 1, unit_price="100.00")), config=config)
    made = memos() - before
    assert len(made) == 1

    del config

    assert not made & memos()


def test_a_decimal_unit_price_round_trips() -> None:
    assert quote(request(item("p", 1, unit_price=Decimal("19.90")))).subtotal == D("19.90")


def test_a_new_snapshot_prices_with_its_own_rules_at_once() -> None:
    req = request(item("p", 1, unit_price="100.00"))
    first = snapshot(rules=[percent_rule("-10")], version=1)
    second = snapshot(rules=[percent_rule("-20")], version=2)
    third = snapshot(version=3)

    prices = [quote(req, config=config).items[0].unit_price for config in (first, second, third, first, third)]

    assert prices == [D("90.00"), D("80.00"), D("100.00"), D("90.00"), D("100.00")]


def test_answers_stay_exact_when_the_memo_starts_over(monkeypatch: pytest.MonkeyPatch) -> None:
    from quote_service.pricing import resolution

    monkeypatch.setattr(resolution, "MAX_ENTRIES", 3)
    config = snapshot(rules=[tier_rule((2, "-10")), percent_rule("-5", category_id="toys")])
    reqs = [
        request(item(f"p{n}", n % 4 + 1, unit_price=f"{n + 1}.00", category_id="toys" if n % 2 else None))
        for n in range(12)
    ]

    memoized = [quote(r, config=config) for r in reqs * 2]
    fresh = [
        quote(r, config=snapshot(rules=[tier_rule((2, "-10")), percent_rule("-5", category_id="toys")])) for r in reqs
    ]

    assert [q.total_amount for q in memoized] == [q.total_amount for q in fresh] * 2
    assert len(config.resolver.at(NOW)) <= 3


def test_the_biggest_basket_twice_in_other_quantities_fits_the_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    """A quote of QUOTE_LINES_CEILING catalog lines, then the same products in other quantities: the
    second is priced from the plans the first built (nothing forgotten), as exactly as afresh."""
    from quote_service.pricing import resolution
    from quote_service.validation import QUOTE_LINES_CEILING

    forgotten: list[Resolution] = []
    forget = Resolution.forget
    monkeypatch.setattr(Resolution, "forget", lambda self: (forgotten.append(self), forget(self))[1])
    rules = [tier_rule((2, "-10")), percent_rule("-5", category_id="toys")]
    config = snapshot(rules=rules)
    catalog = [
        product(f"{n % 90 + 10}.00", category="toys" if n % 3 else "books", seller=f"s-{n % 20}")
        for n in range(QUOTE_LINES_CEILING)
    ]
    first = request(*(item(p, 1) for p in catalog))
    second = request(*(item(p, 2 + n % 2) for n, p in enumerate(catalog)))

    quote(first, config=config, products=catalog)
    kept = len(config.resolver.at(NOW))
    again = quote(second, config=config, products=catalog)

    assert not forgotten
    assert kept < len(config.resolver.at(NOW)) <= resolution.MAX_ENTRIES
    assert again.total_amount == quote(second, config=snapshot(rules=rules), products=catalog).total_amount


def test_new_customers_do_not_make_the_memo_forget_its_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from quote_service.pricing import resolution

    monkeypatch.setattr(resolution, "MAX_ENTRIES", 50)
    monkeypatch.setattr(resolution, "MAX_CUSTOMERS", 5)

    def config() -> object:
        return snapshot(
            rules=[tier_rule((2, "-10"))],
            flags=[flag("new_banner", True, rollout=Rollout(percentage=D("50")))],
        )

    memoized, defaults = (
        config(),
        EngineDefaults(currency="EUR"),
    )  # one plan per defaults object, as the service keeps one
    req = request(item("p", 2, unit_price="100.00"), item("q", 3, unit_price="7.50"))
    quote(req, config=memoized, defaults=defaults)
    [plan] = memoized.resolver.at(NOW).plans.values()
    lines = dict(plan.priced)
    customers = [CustomerContext(customer_id=f"c-{n}") for n in range(200)]

    # 40 times the customers' bound, 4 times the memo's:
    served = [quote(req, config=memoized, defaults=defaults, customer=c) for c in customers]

    [still] = memoized.resolver.at(NOW).plans.values()
    assert still is plan
    assert plan.priced == lines
    assert all(plan.priced[key] is found for key, found in lines.items())
    assert 1 <= len(plan.flags) <= 5
    fresh = [quote(req, config=config(), customer=c) for c in customers]
    assert [q.feature_flags for q in served] == [q.feature_flags for q in fresh]
    assert {"new_banner" in q.feature_flags for q in served} == {True, False}  # the rollout splits them
    assert [q.total_amount for q in served] == [q.total_amount for q in fresh]


def test_a_snapshot_keeps_the_answers_of_two_windows_at_most() -> None:
    edges = [NOW + timedelta(hours=hours) for hours in range(6)]
    config = snapshot(rules=[percent_rule("-1", effective_from=edge) for edge in edges])
    before = memos()

    for edge in edges:
        quote(request(item("p", 1, unit_price="100.00")), config=config, now=edge)

    assert len(memos() - before) <= 2
