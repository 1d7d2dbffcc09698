"""Market rules, pure: the summary, each signal at its threshold, each decision step and guardrail."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from quote_service.pricing import market
from quote_service.pricing.elasticity import ElasticityFit
from quote_service.pricing.market import DecisionInputs, DecisionParams, Observation

T = datetime(2026, 1, 1, tzinfo=UTC)
# Wide enough that only the guardrail a case is about can bite.
LOOSE = DecisionParams(min_margin=D(0), max_margin=D(10), max_change_percent=D(50), min_change_percent=D(1))


def obs(competitor: str, price: str) -> Observation:
    return Observation(competitor=competitor, price=D(price), observed_at=T)


def test_summary_of_latest_prices() -> None:
    summary = market.summarize(D(100), [obs("a", "90"), obs("b", "110"), obs("c", "100")], D("0.01"))
    assert (summary.mean, summary.min, summary.max) == (D("100.00"), D(90), D(110))
    assert summary.stddev == D("8.16")
    assert summary.our_rank == 2
    assert [o.competitor for o in summary.competitors] == ["a", "c", "b"]
    empty = market.summarize(D(100), [], D("0.01"))
    assert empty.mean is None
    assert empty.our_rank is None


@pytest.mark.parametrize(
    ("price", "severity"), [("85", None), ("84.99", "warning"), ("70", "warning"), ("69.99", "critical")]
)
def test_undercut_threshold(price: str, severity: str | None) -> None:
    found = market.competitor_undercut(D(100), [obs("a", "120"), obs("b", price)])
    assert (found.severity if found else None) == severity
    if found:
        assert found.details["competitor"] == "b"


@pytest.mark.parametrize(
    ("now", "kind", "severity"),
    [
        ("115", None, None),
        ("115.01", "competitor_price_increase", "info"),
        ("85", None, None),
        ("84.99", "competitor_price_drop", "warning"),
        ("69.99", "competitor_price_drop", "critical"),
    ],
)
def test_competitor_mean_move_threshold(now: str, kind: str | None, severity: str | None) -> None:
    found = market.competitor_mean_move([D(now), D(now)], [D(100), D(100)])
    assert (found.type if found else None) == kind
    assert (found.severity if found else None) == severity


def test_mean_move_needs_both_windows() -> None:
    assert market.competitor_mean_move([D(50)], []) is None
    assert market.competitor_mean_move([], [D(50)]) is None


HISTORY = [D(p) for p in ("100", "101", "99", "100", "101", "99")]  # mean 100, pstdev 0.8165


@pytest.mark.parametrize(
    ("price", "history", "severity"),
    [
        ("101.63", HISTORY, None),  # z = 1.996
        ("101.64", HISTORY, "info"),  # z = 2.009
        ("98.37", HISTORY, None),
        ("98.36", HISTORY, "info"),
        ("103.3", HISTORY, "warning"),  # z > 4
        ("150", HISTORY[:4], None),  # fewer than 5 past observations
        ("150", [D(100)] * 10, None),  # no spread
    ],
)
def test_price_anomaly_threshold(price: str, history: list[D], severity: str | None) -> None:
    found = market.price_anomaly(obs("a", price), history)
    assert (found.severity if found else None) == severity


def test_price_anomaly_uses_only_the_last_30() -> None:
    old_spread = [D(50), D(150)] * 20
    assert market.price_anomaly(obs("a", "130"), old_spread) is None
    assert market.price_anomaly(obs("a", "130"), old_spread + HISTORY * 5) is not None


@pytest.mark.parametrize(("stock", "severity"), [(11, None), (10, "warning"), (1, "warning"), (0, "critical")])
def test_low_inventory_threshold(stock: int, severity: str | None) -> None:
    found = market.low_inventory(stock)
    assert (found.severity if found else None) == severity


@pytest.mark.parametrize(
    ("last_hour", "last_week", "fires"),
    [(20, 1680, False), (21, 1680, True), (19, 0, False), (20, 0, True), (30, 3360, False), (41, 3360, True)],
)
def test_demand_surge_threshold(last_hour: int, last_week: int, fires: bool) -> None:
    assert (market.demand_surge(last_hour, last_week) is not None) == fires


def inputs(**overrides: object) -> DecisionInputs:
    base: dict[str, object] = {
        "current_price": D(100),
        "cost_price": D(40),
        "min_price": D(40),
        "quantum": D("0.01"),
        "competitor_mean": None,
        "competitor_min": None,
        "competitor_stddev": None,
        "competitors": 0,
        "quotes": 0,
        "orders": 0,
        "stock": 50,
        "elasticity": None,
    }
    base.update(overrides)
    return DecisionInputs(**base)  # type: ignore[arg-type]


def fit(epsilon: float, r2: float = 0.5, distinct: int = 5) -> ElasticityFit:
    return ElasticityFit(elasticity=epsilon, r_squared=r2, points=30, distinct_prices=distinct)


MARKET_110 = {"competitor_mean": D(110), "competitor_min": D(100), "competitor_stddev": D(10), "competitors": 3}


@pytest.mark.parametrize(
    ("case", "overrides", "price", "reasons"),
    [
        ("1 market mean", MARKET_110, "110.00", []),
        ("1 no market", {}, "100.00", ["no_market_data"]),
        ("2 high demand", {"quotes": 100, "orders": 6}, "105.00", ["no_market_data", "high_demand"]),
        ("2 5 % is not high", {"quotes": 100, "orders": 5}, "100.00", ["no_market_data"]),
        ("2 low demand", {"quotes": 50, "orders": 0}, "95.00", ["no_market_data", "low_demand"]),
        ("2 low needs 50 quotes", {"quotes": 49, "orders": 0}, "100.00", ["no_market_data"]),
        ("2 2 % is not low", {"quotes": 100, "orders": 2}, "100.00", ["no_market_data"]),
        ("3 low stock", {"stock": 9}, "102.00", ["no_market_data", "low_inventory"]),
        ("3 10 is not low", {"stock": 10}, "100.00", ["no_market_data"]),
        ("3 high stock", {"stock": 101}, "98.00", ["no_market_data", "high_inventory"]),
        ("3 100 is not high", {"stock": 100}, "100.00", ["no_market_data"]),
        ("4 elasticity", {"elasticity": fit(-2.0)}, "90.00", ["no_market_data", "elasticity_optimum"]),
        ("4 |e| = 1 unused", {"elasticity": fit(-1.0)}, "100.00", ["no_market_data"]),
        ("4 weak r2 unused", {"elasticity": fit(-2.0, r2=0.29)}, "100.00", ["no_market_data"]),
        ("4 few prices unused", {"elasticity": fit(-2.0, distinct=4)}, "100.00", ["no_market_data"]),
    ],
)
def test_each_step_alone(case: str, overrides: dict[str, object], price: str, reasons: list[str]) -> None:
    outcome = market.decide(inputs(**overrides), LOOSE)
    assert outcome.recommended_price == D(price), case
    assert outcome.reasons == reasons, case
    assert outcome.guardrails == [], case


@pytest.mark.parametrize(
    ("case", "overrides", "params", "price", "guardrails"),
    [
        (
            "competitor band",
            {"competitor_mean": D(100), "competitor_stddev": D(2), "competitors": 2, "quotes": 100, "orders": 10},
            LOOSE,
            "104.00",
            ["competitor_band"],
        ),
        ("margin band high", {"cost_price": D(40)}, DecisionParams(max_change_percent=D(60)), "52.00", ["margin_band"]),
        (
            "margin band low",
            {"cost_price": D(99), "min_price": D(99)},
            DecisionParams(max_change_percent=D(60)),
            "103.95",
            ["margin_band"],
        ),
        ("min price", {"min_price": D(99), "quotes": 50, "orders": 0}, LOOSE, "99.00", ["min_price"]),
        (
            "max step",
            {**MARKET_110, "competitor_mean": D(130), "competitor_stddev": D(20)},
            DecisionParams(min_margin=D(0), max_margin=D(10)),
            "110.00",
            ["max_step"],
        ),
        ("margin then max step", {"cost_price": D(40)}, DecisionParams(), "90.00", ["margin_band", "max_step"]),
    ],
)
def test_each_guardrail(
    case: str, overrides: dict[str, object], params: DecisionParams, price: str, guardrails: list[str]
) -> None:
    outcome = market.decide(inputs(**overrides), params)
    assert outcome.recommended_price == D(price), case
    assert outcome.guardrails == guardrails, case


def test_steps_and_guardrails_combined() -> None:
    # 120 x 1.05 x 1.02 = 128.52; inside 120 +- 10; above cost 80 x 1.30 = 104 -> 104; within 10 % of 100.
    outcome = market.decide(
        inputs(
            current_price=D(100),
            cost_price=D(80),
            min_price=D(80),
            competitor_mean=D(120),
            competitor_min=D(110),
            competitor_stddev=D(5),
            competitors=4,
            quotes=100,
            orders=8,
            stock=5,
        ),
        DecisionParams(),
    )
    assert outcome.recommended_price == D("104.00")
    assert outcome.reasons == ["high_demand", "low_inventory"]
    assert outcome.guardrails == ["margin_band"]
    assert outcome.change_percent == D("4.00")
    assert outcome.status == "proposed"
    assert outcome.conversion_rate == 0.08


@pytest.mark.parametrize(
    ("mean", "status", "price"),
    [
        ("100.99", "skipped", "100.99"),
        ("101", "proposed", "101.00"),
        ("99.01", "skipped", "99.01"),
        ("100.005", "skipped", "100.01"),
    ],
)
def test_minimum_move_and_rounding(mean: str, status: str, price: str) -> None:
    outcome = market.decide(inputs(competitor_mean=D(mean), competitor_stddev=D(1), competitors=2), LOOSE)
    assert outcome.status == status
    assert outcome.recommended_price == D(price)


def test_confidence_formula() -> None:
    assert market.confidence(inputs(), 0) == 0.0
    full = inputs(competitor_mean=D(100), competitor_stddev=D(0), competitors=5, quotes=200, elasticity=fit(-2, r2=1.0))
    assert market.confidence(full, 0) == 1.0
    assert market.confidence(full, 2) == 0.64
    spread = inputs(competitor_mean=D(100), competitor_stddev=D(50), competitors=1, quotes=100)
    assert market.confidence(spread, 0) == round(0.5 * 0.2 * 0.5 + 0.25 * 0.5, 4)
