"""The guardrail's verdicts (docs/experiments.md#the-guardrail): which variant to roll back and why,
on the metric the guardrail watches — conversion, or revenue per quote."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quote_service.analytics import health, stats
from quote_service.analytics.experiments import Measured
from quote_service.pricing.flags import Guardrail

_AFTER = "every user gets the control from now on"


@dataclass(frozen=True)
class Rollback:
    """A variant to roll back: the history's reason and the signal's details."""

    reason: str
    details: dict[str, Any]


def conversion_rollback(measured: Measured, guardrail: Guardrail) -> Rollback | None:
    """The first variant converting significantly (sequential test) and too much worse than the control."""
    variants = measured.experiment.variants
    c = variants[0]
    drop, least = guardrail.max_drop_percent, guardrail.min_exposures
    for v in variants[1:]:
        if not stats.should_roll_back(
            c.orders, c.exposures, v.orders, v.exposures, max_drop_percent=drop, min_exposures=least
        ):
            continue
        test = stats.msprt(c.orders, c.exposures, v.orders, v.exposures)
        lift = stats.lift_percent(c.orders / c.exposures, v.orders / v.exposures)
        assert test is not None  # should_roll_back held: both exist
        assert lift is not None
        reason = (
            f"guardrail: variant {v.key!r} converts {v.orders}/{v.exposures} ({v.conversion_rate} %) against "
            f"control {c.key!r} {c.orders}/{c.exposures} ({c.conversion_rate} %): lift {lift:.2f} % "
            f"(limit -{drop:g} %), {v.exposures} exposures (minimum {least}), "
            f"sequential test (mSPRT) p = {test.p_value:.3g} < 0.05 "
            f"(likelihood ratio {test.likelihood_ratio:.3g}); {_AFTER}"
        )
        details = {
            "variant": v.key,
            "control": c.key,
            "variant_exposures": v.exposures,
            "variant_orders": v.orders,
            "control_exposures": c.exposures,
            "control_orders": c.orders,
            "lift": round(lift, 2),
            "sequential_p_value": test.p_value,
            "max_drop_percent": drop,
            "min_exposures": least,
        }
        return Rollback(reason, details)
    return None


def revenue_rollback(measured: Measured, guardrail: Guardrail) -> Rollback | None:
    """The first variant earning significantly (sequential test) and too much less per quote than the
    control, in the experiment's one currency (none while it spans currencies)."""
    experiment, samples = measured.experiment, measured.revenue
    control = experiment.control
    drop, least = guardrail.max_drop_percent, guardrail.min_exposures
    if control not in samples:
        return None
    c = samples[control]
    for arm in experiment.variants[1:]:
        v = samples.get(arm.key)
        verdict = None if v is None else health.revenue_verdict(c, v, max_drop_percent=drop, min_exposures=least)
        if v is None or verdict is None:
            continue
        currency = experiment.currency
        reason = (
            f"guardrail: variant {arm.key!r} earns {v.mean():.2f} {currency} per quote over {v.exposures} exposures "
            f"against control {control!r} {c.mean():.2f} over {c.exposures}: lift {verdict.lift:.2f} % "
            f"(limit -{drop:g} %, minimum {least} exposures), sequential test (mSPRT) p = "
            f"{verdict.sequential_p:.3g} < 0.05 (likelihood ratio {verdict.likelihood_ratio:.3g}); {_AFTER}"
        )
        details = {
            "variant": arm.key,
            "control": control,
            "currency": currency,
            "variant_exposures": v.exposures,
            "control_exposures": c.exposures,
            "variant_revenue_per_quote": round(v.mean(), 4),
            "control_revenue_per_quote": round(c.mean(), 4),
            "lift": round(verdict.lift, 2),
            "sequential_p_value": verdict.sequential_p,
            "max_drop_percent": drop,
            "min_exposures": least,
        }
        return Rollback(reason, details)
    return None
