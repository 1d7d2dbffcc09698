"""The differential test can fail: a mutation of the engine's coupon, rule, flag, commission or promotion
code is caught.

Each mutation edits the source of one production function (`>=` to `>`, a dropped `break`, a
swapped seed), compiles it in the function's module, puts it wherever the package holds the
original, and runs the differential comparison (`test_engine_differential`) until the engine and
the independent reference disagree. A mutation the comparison cannot see means the reference
(or the random baskets) lost its power to check that code. A mutation whose text is no longer
in the function fails too: the table below must follow the code it mutates.

Some edges the random baskets almost never reach (a basket exactly at a promotion's minimum, a
rounding remainder that must skip a line at its floor): each of those mutations is named with the
unit test that pins the edge, and that test must fail on the mutant (`CAUGHT_BY_A_TEST`).

The reference engine may share types and errors with the package, never a function that
computes (`test_the_reference_imports_no_production_function`).
"""

from __future__ import annotations
import __future__

import ast
import functools
import importlib
import inspect
import sys
import textwrap
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.unit.pricing import (
    test_engine_coupons,
    test_engine_differential,
    test_engine_promotion_kinds,
    test_engine_promotions,
    test_installments,
    test_markets,
    test_minor_units,
    test_taxes,
)
from tests.unit.pricing.test_engine_differential import CHANGES, SEEDS, priced_both

pytestmark = pytest.mark.slow  # tens of seconds: in `make test`, not the unit loop (docs/development.md)

REFERENCE = Path(__file__).parent / "reference_engine"


@dataclass(frozen=True)
class Mutation:
    """Replace `before` (found exactly once) by `after` in `module.function` (or `module.Class.method`)."""

    module: str
    function: str
    before: str
    after: str

    def __str__(self) -> str:
        return f"{self.function}: {self.before.strip()} -> {self.after.strip()}"


COUPONS = "quote_service.pricing.coupons"
TAXES = "quote_service.pricing.taxes"
TAXED = "quote_service.pricing.taxed"
RULES = "quote_service.pricing.rules"
FLAGS = "quote_service.pricing.flags"
COMMISSION = "quote_service.pricing.commission"
TARGETING = "quote_service.pricing.targeting"
ATTRIBUTES = "quote_service.pricing.attributes"
PRICE_LISTS = "quote_service.pricing.price_lists"
LINES = "quote_service.pricing.lines"
PROMOTIONS = "quote_service.pricing.promotions"
DEALS = "quote_service.pricing.promotion_deals"
DISCOUNTS = "quote_service.pricing.discounts"
STEPS = "quote_service.pricing.quote_steps"
DELIVERY = "quote_service.pricing.delivery"
SETTLE = "quote_service.pricing.settle"
PLAN = "quote_service.pricing.plan"
REDUCED = "quote_service.pricing.reduced_lines"
LOCAL_TIME = "quote_service.pricing.local_time"
INSTALLMENTS = "quote_service.pricing.installments"
MINOR = "quote_service.pricing.minor_units"

MUTATIONS = [
    Mutation(COUPONS, "check_coupon", "now >= coupon.valid_to", "now > coupon.valid_to"),
    Mutation(
        COUPONS,
        "check_coupon",
        "customer_uses >= coupon.per_customer_limit",
        "customer_uses > coupon.per_customer_limit",
    ),
    Mutation(COUPONS, "check_coupon", "subtotal < coupon.min_subtotal", "subtotal <= coupon.min_subtotal"),
    Mutation(COUPONS, "check_coupon", "coupon.category_ids.isdisjoint(", "not coupon.category_ids.isdisjoint("),
    Mutation(RULES, "apply_price_rules", "break", "pass"),
    Mutation(RULES, "in_time_window", "start <= minute < end", "start < minute < end"),
    Mutation(RULES, "window_zone", "config.timezone or default_zone", "default_zone"),
    Mutation(RULES, "window_zone", "config.timezone or default_zone", 'config.timezone or "UTC"'),
    Mutation(RULES, "adjustment_percent", "tier.min_quantity <= quantity", "tier.min_quantity < quantity"),
    Mutation(RULES, "_in_effect", "now < rule.effective_to", "now <= rule.effective_to"),
    Mutation(RULES, "_precedence", "(-match, -rule.priority", "(match, -rule.priority"),
    Mutation(FLAGS, "_hash", 'f"{flag_key}:{user_id}"', 'f"{user_id}:{flag_key}"'),
    Mutation(FLAGS, "bucket", "% BUCKETS", "% 1000"),
    Mutation(FLAGS, "variant_bucket", "VARIANT_SEED", "BUCKET_SEED"),
    Mutation(TARGETING, "_ordering", "number > bound", "number >= bound"),
    Mutation(TARGETING, "_ordering", "number >= bound", "number > bound"),
    Mutation(TARGETING, "_ordering", "number < bound", "number <= bound"),
    Mutation(TARGETING, "_ordering", "number <= bound", "number < bound"),
    Mutation(TARGETING, "compile_rule", "and not _member(raw, folded)", "and _member(raw, folded)"),
    Mutation(TARGETING, "_member", "number in numbers", "number not in numbers"),
    Mutation(TARGETING, "_fold", "text.strip().casefold()", "text.strip()"),
    Mutation(TARGETING, "_known", "raw is not None and", ""),
    Mutation(TARGETING, "_text_test", "text.startswith(part)", "text.endswith(part)"),
    Mutation(TARGETING, "_text_test", "text.endswith(part)", "part.endswith(text)"),
    Mutation(TARGETING, "_text_test", "part in text", "text in part"),
    Mutation(TARGETING, "compile_rule", "(found >= version) == at_least", "(found > version) == at_least"),
    Mutation(TARGETING, "semver_key", "return core, 1, ()", "return core, 0, ()"),
    Mutation(ATTRIBUTES, "quote_attributes", "sum(item.quantity for item in request.items)", "len(request.items)"),
    Mutation(ATTRIBUTES, "_subtotal", "(price * item.quantity)", "price"),
    Mutation(COMMISSION, "commission_amount", "min(amount, rate.max_amount)", "max(amount, rate.max_amount)"),
    Mutation(COMMISSION, "commission_amount", "1 if per_order else", "2 if per_order else"),
    Mutation(COMMISSION, "_precedence", "(4 if rate.seller_id", "(1 if rate.seller_id"),
    Mutation(COMMISSION, "tiered_amount", "percent_of(upper - lower, tier.rate)", "percent_of(upper, tier.rate)"),
    Mutation(
        COMMISSION, "resolve_logistics_rate", "rate.category_id not in category_ids", "rate.category_id in category_ids"
    ),
    Mutation(PRICE_LISTS, "precedence", "price_list.specificity, ", ""),
    Mutation(PRICE_LISTS, "precedence", "price_list.created_at, ", ""),
    Mutation(PRICE_LISTS, "label", "value.strip().casefold()", "value.strip()"),
    Mutation(LINES, "_item_price", "product.min_price if own_currency else ZERO", "product.min_price"),
    Mutation(LINES, "price_lines", "is not None and own else None", "is not None else None"),
    Mutation(PROMOTIONS, "_stacking_key", "(-promotion.priority", "(promotion.priority"),
    Mutation(PROMOTIONS, "_folded", "value.strip().casefold()", "value.strip()"),
    Mutation(DEALS, "_units_given", "[lefts[i] / units[i] for i in gets]", "[-lefts[i] / units[i] for i in gets]"),
    Mutation(DEALS, "_units_given", "key=each.__getitem__)]", "key=each.__getitem__, reverse=True)]"),
    Mutation(DEALS, "_units_given", "sum(compress(units, in_buy))", "sum(units)"),
    Mutation(DEALS, "_fits", "buy_units - from_buy >=", "buy_units >="),
    Mutation(
        DEALS,
        "_fits",
        "from_buy += wanted - (taken[k - 1] if k else 0)",
        "from_buy += taken[k] - (taken[k - 1] if k else 0)",
    ),
    Mutation(SETTLE, "discounted_parts", "tax=tax,", "tax=kept[0].tax,"),
    Mutation(SETTLE, "discounted_parts", "base=base, amount=category", "base=base, amount=seller"),
    Mutation(
        DEALS, "apply_promotions", "outcome.blocks_coupons = chosen.blocks_coupons", "outcome.blocks_coupons = False"
    ),
    Mutation(DEALS, "_deal", "if deal.free_delivery is None:", "if True:"),
    # docs/promotions.md#reduced-lines and #partial-free-delivery
    Mutation(REDUCED, "is_reduced", "< own", "<= own"),
    Mutation(REDUCED, "reduced_view", 'if policy == "skip":', 'if policy == "best_of":'),
    Mutation(REDUCED, "best_of_parts", "max(left - seen[position] + share, ZERO)", "(left - seen[position] + share)"),
    Mutation(REDUCED, "mark_own_prices", 'if priced.source != "price_list":', "if True:"),
    Mutation(DISCOUNTS, "apply_coupons", 'if policy == "best_of":', "if False:"),
    Mutation(DEALS, "_give", 'if promotion.on_reduced_lines == "best_of":', "if False:"),
    Mutation(PROMOTIONS, "waived_fee", "part = min(part, config.max)", "part = part"),
    Mutation(PROMOTIONS, "waived_fee", ".quantize(cent, ROUND_HALF_UP)", ".quantize(cent)"),
    Mutation(DEALS, "_cheapest", "paid[index][0] < paid[best][0]", "paid[index][0] <= paid[best][0]"),
    Mutation(DEALS, "_cheapest", "paid[index][0] < paid[best][0]", "paid[index][0] > paid[best][0]"),
    Mutation(DEALS, "_beaten", "refused = loser.blocks_coupons and coupons_saved", "refused = coupons_saved"),
    Mutation(DEALS, "_left_nothing", "if cap_left <= 0:", "if cap_left < 0:"),
    Mutation(STEPS, "QuoteInputs.pays", "return goods + tax + fee + small,", "return goods + fee + small,"),
    Mutation(STEPS, "QuoteInputs.pays", "taken, blocks_coupons)", "taken, False)"),
    Mutation(STEPS, "QuoteInputs.pays", "charged = zero\n", "charged = goods\n"),
    Mutation(DELIVERY, "_charge", "if any(step[0] is not None for step in steps)", "if False"),
    Mutation(DELIVERY, "_waived", "(*charged.parts, waived)", "(*charged.rules, waived)"),
    Mutation(SETTLE, "response_parts", "after <= floor", "after < floor"),
    # docs/markets.md: the tax a gross line contains, and that it is never added to the total
    Mutation(PLAN, "LinePlan.contained_tax", "gross * self.tax_rate / self.tax_divisor", "gross * self.tax_fraction"),
    Mutation(STEPS, "QuoteInputs.pays", "if not priced.inclusive:", "if True:"),
    Mutation(RULES, "fee_rule", "fee_currency(rule, default_currency) != currency", "False"),
    # docs/orders-and-refunds.md#who-funds-a-discount: a platform-funded share stays in the commission base
    Mutation(SETTLE, "settle", "if line.funded:", "if False:"),
    Mutation(SETTLE, "seller_funded_base", "after - line_tax(priced, seller_discount, cent)", "after"),
    Mutation(DISCOUNTS, "spread", "if platform:", "if False:"),
    Mutation(DEALS, "_give", 'platform = promotion.funded_by == "platform"', "platform = False"),
    Mutation(DEALS, "_bundled", "(-(lefts[i] / units[i]), i)", "(lefts[i] / units[i], i)"),
    Mutation(DEALS, "_tiered", "max(reached, key=lambda t: t.min_subtotal)", "reached[0]"),
    Mutation(DEALS, "spread_even", "if position < extra else base", "if position >= extra else base"),
    Mutation(DEALS, "_best_in_groups", "(worth[i], -i)", "(-worth[i], -i)"),
    Mutation(DEALS, "apply_promotions", "line.funded = settled[position].funded", "pass"),
    # docs/taxes.md: compound components, the exact inverse, exemptions, rounding modes
    Mutation(TAXES, "_forward", "line_base = net + line_before if component.compound else net", "line_base = net"),
    Mutation(
        TAXES,
        "multiplier",
        "total += coefficient * total if component.compound else coefficient",
        "total += coefficient",
    ),
    Mutation(TAXES, "contained", "remainder = tax - taken", "remainder = tax - taken - cent"),
    Mutation(TAXES, "added", 'units = quantity if rounding.tax_calculation == "UNIT" else 1', "units = 1"),
    Mutation(TAXED, "_settle_line", "exempted, tax = after - net, zero", "exempted, tax = zero, zero"),
]


CAUGHT_BY_A_TEST = [
    (
        # The second pass of a repeated hour: a window edge inside it must not close or open again.
        Mutation(LOCAL_TIME, "wall_clock", "if not local.fold:", "if True:"),
        functools.partial(
            test_engine_differential.test_time_windows_open_and_close_as_the_reference_says_across_a_clock_change,
            CHANGES[0],
        ),
    ),
    (
        # bisect_left would leave out a basket exactly at the minimum: the condition is `>=`.
        Mutation(PROMOTIONS, "_Entry.reached", "bisect_right(", '__import__("bisect").bisect_left('),
        test_engine_promotions.test_a_basket_exactly_at_a_promotions_minimum_subtotal_gets_it,
    ),
    (
        # A tie between a rate in the quote's currency and a currency-less one is rare in random worlds.
        Mutation(COMMISSION, "_precedence", "in_currency = rate.currency is not None", "in_currency = False"),
        test_markets.test_a_currency_less_percentage_applies_in_every_currency_and_one_in_the_currency_wins_a_tie,
    ),
    (
        Mutation(DISCOUNTS, "_settle", "rooms[i] - rounded[i]", "rooms[i]"),
        test_engine_coupons.test_a_remainder_moved_off_the_last_line_never_takes_a_line_below_its_min_price,
    ),
    (
        # The random baskets' spend tiers are never met to the cent.
        Mutation(DEALS, "_tiered", "tier.min_subtotal <= goods", "tier.min_subtotal < goods"),
        test_engine_promotion_kinds.test_a_basket_exactly_at_a_spend_tiers_minimum_reaches_that_tier,
    ),
    (
        # A UNIT-level tie (the unit's tax exactly half a minor unit) needs an inexact unit: 3.25 / 3.
        Mutation(TAXES, "_forward", "line_base * component.rate / divisor", "line_base / units * component.rate / 100"),
        test_taxes.test_unit_tax_rounds_an_exact_half_cent_per_unit_up,
    ),
    # A big basket's deals in minor units: the random baskets are small (no index), so the minor way's own
    # differential tests (Decimal against integers) pin it.
    (
        Mutation(
            MINOR, "spread_minor", "(twice_amount * left + total) // twice_total", "twice_amount * left // twice_total"
        ),
        test_minor_units.test_spread_minor_gives_every_share_spread_gives,
    ),
    (
        Mutation(MINOR, "spread_minor", "if exact >= room * total:", "if exact > room * total:"),
        test_minor_units.test_spread_minor_gives_every_share_spread_gives,
    ),
    (
        Mutation(MINOR, "tax_minor", "(2 * net * numerator + denominator)", "(2 * net * numerator)"),
        test_minor_units.test_tax_minor_is_line_tax_to_the_cent,
    ),
    (
        Mutation(DEALS, "DealMinor.sums", "map(sub, starts, map(mul", "map(add, starts, map(mul"),
        test_minor_units.test_big_baskets_price_byte_for_byte_as_with_decimals,
    ),
    # A BUY_X_GET_Y's lines by position (`Held`) against the lines scanned one by one.
    (
        Mutation(DEALS, "_units_given", "[position in in_buy_set for", "[position in in_get for"),
        test_minor_units.test_big_baskets_price_byte_for_byte_as_without_the_index,
    ),
    # A BUY_X_GET_Y's units ordered in integers (`_unit_prices`), against the Decimal unit prices.
    (
        Mutation(DEALS, "_unit_prices", "value * (common // count)", "value * count"),
        test_minor_units.test_unit_prices_order_the_lines_as_their_decimal_unit_prices_do,
    ),
    (
        Mutation(DEALS, "_unit_prices", "return values", "return [-value for value in values]"),
        test_minor_units.test_unit_prices_order_the_lines_as_their_decimal_unit_prices_do,
    ),
    (
        Mutation(DEALS, "_unit_prices", ">= EXACT_ORDER_LIMIT", "> EXACT_ORDER_LIMIT"),
        test_minor_units.test_unit_prices_leave_amounts_past_their_bound_to_decimal,
    ),
    # Installments are priced after the engine (quotes/service.py), outside the differential comparison.
    (
        Mutation(INSTALLMENTS, "_seller_funded", "(goods(item) * rate / 100)", "(item.line_subtotal * rate / 100)"),
        test_installments.test_it_is_on_the_goods_after_the_discount,
    ),
    (
        Mutation(INSTALLMENTS, "_seller_funded", ".quantize(cent, ROUND_HALF_UP)", ".quantize(cent, ROUND_DOWN)"),
        test_installments.test_it_rounds_half_up_once_per_line,
    ),
    (
        Mutation(INSTALLMENTS, "goods", "return net if isinstance(net, Decimal) else", "return"),
        test_installments.test_it_is_on_a_tax_inclusive_lines_net,
    ),
]


def mutant(mutation: Mutation) -> tuple[Any, Any]:
    """(the original function, its mutant compiled in the original's module)."""
    module = importlib.import_module(mutation.module)
    original: Any = module
    for name in mutation.function.split("."):
        original = getattr(original, name)
    source = textwrap.dedent(inspect.getsource(original))
    assert source.count(mutation.before) == 1, f"{mutation}: the text is not in the function once; update the table"
    code = compile(
        source.replace(mutation.before, mutation.after),
        f"<mutant of {mutation.module}.{mutation.function}>",
        "exec",
        flags=__future__.annotations.compiler_flag,
        dont_inherit=True,
    )
    namespace = dict(vars(module))
    exec(code, namespace)  # noqa: S102 - the package's own source, one operator changed
    return original, namespace[original.__name__]


def install(monkeypatch: pytest.MonkeyPatch, original: Any, replacement: Any) -> int:
    """Put `replacement` wherever a package module holds `original` (its module and every importer),
    or a package class (a method)."""
    places = 0
    for name, module in list(sys.modules.items()):
        if name == "quote_service" or name.startswith("quote_service."):
            for attribute, value in list(vars(module).items()):
                holders = [(module, attribute, value)]
                if isinstance(value, type) and value.__module__ == name:
                    holders += [(value, member, held) for member, held in vars(value).items()]
                for holder, member, held in holders:
                    if held is original:
                        monkeypatch.setattr(holder, member, replacement)
                        places += 1
    return places


def differs() -> bool:
    """Whether some basket is priced differently by the engine and the reference."""
    return any(new != old for seed in SEEDS for new, old, _ in priced_both(seed))


def install_mutant(mutation: Mutation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the mutant of `mutation` wherever the package holds the original (undone after the test)."""
    original, replacement = mutant(mutation)
    assert install(monkeypatch, original, replacement) >= 1


@pytest.mark.parametrize("mutation", MUTATIONS, ids=str)
def test_the_differential_catches_a_mutation(mutation: Mutation, monkeypatch: pytest.MonkeyPatch) -> None:
    install_mutant(mutation, monkeypatch)
    assert differs(), f"the differential test does not see the mutation {mutation}"


@pytest.mark.parametrize(("mutation", "test"), CAUGHT_BY_A_TEST, ids=[str(m) for m, _ in CAUGHT_BY_A_TEST])
def test_a_unit_test_catches_a_mutation_the_random_baskets_miss(
    mutation: Mutation,
    test: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    test()  # passes on the code as it is
    install_mutant(mutation, monkeypatch)
    with pytest.raises(AssertionError):
        test()


def _production_imports(path: Path) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("quote_service"):
            found += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names if alias.name.startswith("quote_service")]
    return found


def test_the_reference_imports_no_production_function() -> None:
    """Types (Structs, Literals) and errors only: a shared function could not be checked by it."""
    shared = [(path.name, *imported) for path in REFERENCE.glob("*.py") for imported in _production_imports(path)]
    assert shared, "the scan found no imports at all: has the reference moved?"
    for file, module, name in shared:
        assert name, f"{file} imports the module {module}: import the types it needs by name"
        value = getattr(importlib.import_module(module), name)
        is_type = isinstance(value, type) or typing.get_origin(value) is not None  # a class or a Literal
        allowed = is_type or module == "quote_service.errors" or not callable(value)
        assert allowed, f"{file} imports {module}.{name}, which computes: write it again from the docs"
