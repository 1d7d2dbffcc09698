"""Market intelligence, pure: the market summary, the signal rules and the pricing decision.

Everything here takes plain values (prices as Decimal, counts, the fitted elasticity) and
returns plain values; the orchestration in `intelligence/` reads the data and stores results.
Thresholds are module constants named after the rule they belong to.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import msgspec

from quote_service.pricing.elasticity import ElasticityFit

HUNDRED = Decimal(100)

# Signal thresholds (strict: "more than 15 %" means 15 % does not raise).
UNDERCUT_PERCENT = Decimal(15)
MEAN_MOVE_PERCENT = Decimal(15)
ANOMALY_Z = 2.0
ANOMALY_HISTORY = 30
ANOMALY_MIN_HISTORY = 5
LOW_INVENTORY_STOCK = 10
SURGE_FACTOR = 2.0
SURGE_MIN_QUOTES = 20
SURGE_BASELINE_HOURS = 7 * 24


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """One competitor's price at one time (the latest per competitor, for a summary)."""

    competitor: str
    price: Decimal
    observed_at: datetime


class MarketSummary(msgspec.Struct, frozen=True, kw_only=True):
    our_price: Decimal
    competitors: list[Observation]
    mean: Decimal | None
    min: Decimal | None
    max: Decimal | None
    stddev: Decimal | None
    # 1 = the cheapest; ties share the better rank (competitors strictly cheaper + 1).
    our_rank: int | None


def summarize(our_price: Decimal, latest: Sequence[Observation], quantum: Decimal) -> MarketSummary:
    """Mean, min, max, population standard deviation of each competitor's latest price."""
    prices = [o.price for o in latest]
    if not prices:
        return MarketSummary(
            our_price=our_price, competitors=[], mean=None, min=None, max=None, stddev=None, our_rank=None
        )
    mean = sum(prices, Decimal(0)) / len(prices)
    stddev = statistics.pstdev(prices)
    return MarketSummary(
        our_price=our_price,
        competitors=sorted(latest, key=lambda o: (o.price, o.competitor)),
        mean=mean.quantize(quantum, ROUND_HALF_UP),
        min=min(prices),
        max=max(prices),
        stddev=stddev.quantize(quantum, ROUND_HALF_UP),
        our_rank=1 + sum(1 for p in prices if p < our_price),
    )


class SignalFinding(msgspec.Struct, frozen=True, kw_only=True):
    """A rule's verdict: raise `type` with this severity and details (or nothing)."""

    type: str
    severity: str
    details: dict[str, object]


def competitor_undercut(our_price: Decimal, latest: Sequence[Observation]) -> SignalFinding | None:
    """A competitor more than 15 % below our price; critical past 30 %."""
    if our_price <= 0 or not latest:
        return None
    cheapest = min(latest, key=lambda o: o.price)
    gap = (our_price - cheapest.price) / our_price * HUNDRED
    if gap <= UNDERCUT_PERCENT:
        return None
    return SignalFinding(
        type="competitor_undercut",
        severity="critical" if gap > 2 * UNDERCUT_PERCENT else "warning",
        details={
            "competitor": cheapest.competitor,
            "competitor_price": str(cheapest.price),
            "our_price": str(our_price),
            "gap_percent": str(gap.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        },
    )


def competitor_mean_move(current: Sequence[Decimal], previous: Sequence[Decimal]) -> SignalFinding | None:
    """The competitor mean moved more than 15 % against the previous window (drop or increase).

    `current`/`previous` are each competitor's latest price in this window and the one before.
    A drop is a warning (critical past 30 %); an increase is info (room to move up).
    """
    if not current or not previous:
        return None
    now_mean = sum(current, Decimal(0)) / len(current)
    before_mean = sum(previous, Decimal(0)) / len(previous)
    if before_mean <= 0:
        return None
    move = (now_mean - before_mean) / before_mean * HUNDRED
    if abs(move) <= MEAN_MOVE_PERCENT:
        return None
    details: dict[str, object] = {
        "mean": str(now_mean.quantize(Decimal("0.0001"))),
        "previous_mean": str(before_mean.quantize(Decimal("0.0001"))),
        "change_percent": str(move.quantize(Decimal("0.01"), ROUND_HALF_UP)),
    }
    if move < 0:
        severity = "critical" if move < -2 * MEAN_MOVE_PERCENT else "warning"
        return SignalFinding(type="competitor_price_drop", severity=severity, details=details)
    return SignalFinding(type="competitor_price_increase", severity="info", details=details)


def price_anomaly(observation: Observation, history: Sequence[Decimal]) -> SignalFinding | None:
    """|z| > 2 against that competitor's previous observations (the last 30; at least 5, and
    some spread: against a constant history every change would be infinitely anomalous)."""
    recent = [float(p) for p in history[-ANOMALY_HISTORY:]]
    if len(recent) < ANOMALY_MIN_HISTORY:
        return None
    mean = statistics.fmean(recent)
    stddev = statistics.pstdev(recent)
    if stddev == 0:
        return None
    z = (float(observation.price) - mean) / stddev
    if abs(z) <= ANOMALY_Z:
        return None
    return SignalFinding(
        type="price_anomaly",
        severity="warning" if abs(z) > 2 * ANOMALY_Z else "info",
        details={
            "competitor": observation.competitor,
            "price": str(observation.price),
            "z_score": round(z, 3),
            "history_mean": round(mean, 4),
            "history_stddev": round(stddev, 4),
            "history_points": len(recent),
        },
    )


def low_inventory(stock: int) -> SignalFinding | None:
    """Stock at or below 10; critical when sold out."""
    if stock > LOW_INVENTORY_STOCK:
        return None
    return SignalFinding(
        type="low_inventory", severity="critical" if stock == 0 else "warning", details={"stock": stock}
    )


def demand_surge(last_hour: int, last_week: int) -> SignalFinding | None:
    """Quotes with the product in the last hour > 2 * its hourly mean over 7 days, and >= 20.

    `last_week` counts the 7 days' quotes (the last hour included)."""
    hourly_mean = last_week / SURGE_BASELINE_HOURS
    if last_hour < SURGE_MIN_QUOTES or last_hour <= SURGE_FACTOR * hourly_mean:
        return None
    ratio = last_hour / hourly_mean if hourly_mean else math.inf
    return SignalFinding(
        type="demand_surge",
        severity="critical" if ratio > 2 * SURGE_FACTOR else "warning",
        details={
            "quotes_last_hour": last_hour,
            "hourly_mean_7d": round(hourly_mean, 3),
            "ratio": None if math.isinf(ratio) else round(ratio, 2),
        },
    )


# --- Decisions -------------------------------------------------------------------------------


class DecisionParams(msgspec.Struct, frozen=True, kw_only=True):
    min_margin: Decimal = Decimal("0.05")
    max_margin: Decimal = Decimal("0.30")
    max_change_percent: Decimal = Decimal(10)
    min_change_percent: Decimal = Decimal(1)


class DecisionInputs(msgspec.Struct, frozen=True, kw_only=True):
    current_price: Decimal
    cost_price: Decimal
    min_price: Decimal
    quantum: Decimal
    competitor_mean: Decimal | None
    competitor_min: Decimal | None
    competitor_stddev: Decimal | None
    competitors: int
    quotes: int
    orders: int
    stock: int
    elasticity: ElasticityFit | None


class DecisionOutcome(msgspec.Struct, frozen=True, kw_only=True):
    recommended_price: Decimal
    change_percent: Decimal
    reasons: list[str]
    guardrails: list[str]
    confidence: float
    status: str  # proposed | skipped
    conversion_rate: float | None


HIGH_CONVERSION = Decimal("0.05")
LOW_CONVERSION = Decimal("0.02")
LOW_CONVERSION_MIN_QUOTES = 50
ELASTICITY_MIN_ABS = 1.0
ELASTICITY_MIN_R2 = 0.3
ELASTICITY_MIN_DISTINCT = 5


def usable_elasticity(fit: ElasticityFit | None) -> float | None:
    """|ε| > 1, r² >= 0.3 over >= 5 distinct prices: a fit steady enough to price from."""
    if fit is None or fit.elasticity is None or fit.r_squared is None:
        return None
    if abs(fit.elasticity) <= ELASTICITY_MIN_ABS or fit.r_squared < ELASTICITY_MIN_R2:
        return None
    if fit.distinct_prices < ELASTICITY_MIN_DISTINCT:
        return None
    return fit.elasticity


def confidence(inputs: DecisionInputs, guardrails_bitten: int) -> float:
    """How much evidence stands behind a recommendation, 0..1 (docs/market-intelligence.md):

    0.5 * market + 0.25 * demand + 0.25 * fit, times 0.8 per guardrail that bit, where
    market = min(competitors, 5)/5 * (1 - min(stddev/mean, 1)) (0 without competitors),
    demand = min(quotes, 200)/200, fit = r² of the elasticity fit (0 without one).
    """
    market = 0.0
    if inputs.competitors and inputs.competitor_mean and inputs.competitor_mean > 0:
        spread = float((inputs.competitor_stddev or Decimal(0)) / inputs.competitor_mean)
        market = min(inputs.competitors, 5) / 5 * (1 - min(spread, 1.0))
    demand = min(inputs.quotes, 200) / 200
    fit = 0.0
    if inputs.elasticity is not None and inputs.elasticity.r_squared is not None:
        fit = max(0.0, min(inputs.elasticity.r_squared, 1.0))
    return round((0.5 * market + 0.25 * demand + 0.25 * fit) * 0.8**guardrails_bitten, 4)


def decide(inputs: DecisionInputs, params: DecisionParams) -> DecisionOutcome:
    """The six steps: market anchor, demand, inventory, elasticity, guardrails, minimum move."""
    reasons: list[str] = []
    guardrails: list[str] = []
    current = inputs.current_price
    # 1. Anchor on the market.
    if inputs.competitor_mean is not None and inputs.competitors:
        price = inputs.competitor_mean
    else:
        price = current
        reasons.append("no_market_data")
    # 2. Demand: conversion over the last 7 days.
    conversion: Decimal | None = Decimal(inputs.orders) / inputs.quotes if inputs.quotes > 0 else None
    if conversion is not None and conversion > HIGH_CONVERSION:
        price *= Decimal("1.05")
        reasons.append("high_demand")
    elif conversion is not None and conversion < LOW_CONVERSION and inputs.quotes >= LOW_CONVERSION_MIN_QUOTES:
        price *= Decimal("0.95")
        reasons.append("low_demand")
    # 3. Inventory.
    if inputs.stock < 10:
        price *= Decimal("1.02")
        reasons.append("low_inventory")
    elif inputs.stock > 100:
        price *= Decimal("0.98")
        reasons.append("high_inventory")
    # 4. Elasticity: halfway toward the profit-maximising price.
    epsilon = usable_elasticity(inputs.elasticity)
    if epsilon is not None and inputs.cost_price > 0:
        magnitude = Decimal(str(abs(epsilon)))
        optimum = inputs.cost_price * magnitude / (magnitude - 1)
        price = (price + optimum) / 2
        reasons.append("elasticity_optimum")
    # 5. Guardrails, in order; each names itself when it moves the price.
    if inputs.competitor_mean is not None and inputs.competitors:
        spread = 2 * (inputs.competitor_stddev or Decimal(0))
        price = _clamp(
            price, inputs.competitor_mean - spread, inputs.competitor_mean + spread, "competitor_band", guardrails
        )
    if inputs.cost_price > 0:
        low = inputs.cost_price * (1 + params.min_margin)
        high = inputs.cost_price * (1 + params.max_margin)
        price = _clamp(price, low, high, "margin_band", guardrails)
    price = _clamp(price, inputs.min_price, None, "min_price", guardrails)
    step = current * params.max_change_percent / HUNDRED
    price = _clamp(price, current - step, current + step, "max_step", guardrails)
    price = price.quantize(inputs.quantum, ROUND_HALF_UP)
    # 6. Too small a move is not worth making.
    change = ((price - current) / current * HUNDRED).quantize(Decimal("0.01"), ROUND_HALF_UP) if current else Decimal(0)
    status = "skipped" if abs(change) < params.min_change_percent else "proposed"
    return DecisionOutcome(
        recommended_price=price,
        change_percent=change,
        reasons=reasons,
        guardrails=guardrails,
        confidence=confidence(inputs, len(guardrails)),
        status=status,
        conversion_rate=None if conversion is None else round(float(conversion), 6),
    )


def _clamp(price: Decimal, low: Decimal | None, high: Decimal | None, name: str, bitten: list[str]) -> Decimal:
    if low is not None and price < low:
        bitten.append(name)
        return low
    if high is not None and price > high:
        bitten.append(name)
        return high
    return price
