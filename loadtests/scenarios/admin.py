"""The admin's configuration changes: the next version of a pricing rule, a feature flag flipped.

Each change alternates between a nudged definition and the original one, so a long run
oscillates around the starting configuration instead of drifting; the test restores the
original at the end. Every change bumps the configuration version, so every process reloads
its snapshot and drops cached quotes while checkout traffic is running.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Rule types with a harmless numeric knob; other types (tax, time windows, ...) are left alone.
NUDGEABLE = frozenset({"QUANTITY_TIER", "USER_TIER", "SMALL_BASKET", "DELIVERY_FEE", "EXPRESS_FEE"})
PRICE_RULES = frozenset({"TIME_WINDOW", "QUANTITY_TIER", "USER_TIER"})


def _add(value: Any, delta: str) -> str:
    """`value + delta`, written with as many decimals as `value` had ("12.00" + "1" -> "13.00")."""
    original = Decimal(str(value))
    return str((original + Decimal(delta)).quantize(original))


def nudge(rule_type: str, configuration: dict[str, Any]) -> dict[str, Any]:
    """A slightly different configuration of the same type (valid whenever the original was)."""
    config = dict(configuration)
    if rule_type == "QUANTITY_TIER":  # one point more bulk discount
        config["tiers"] = [{**t, "adjust_percent": _add(t["adjust_percent"], "-1")} for t in config["tiers"]]
    elif rule_type == "USER_TIER":  # one point more loyalty discount
        config["tiers"] = {tier: _add(percent, "-1") for tier, percent in config["tiers"].items()}
    elif rule_type == "SMALL_BASKET":
        config["threshold"] = _add(config["threshold"], "10")
    elif rule_type == "DELIVERY_FEE":
        raised = Decimal(_add(config["base_fee"], "1"))
        cap = config.get("max_fee")
        config["base_fee"] = str(raised) if cap is None or raised <= Decimal(str(cap)) else _add(cap, "0")
    elif rule_type == "EXPRESS_FEE":
        config["multiplier"] = _add(config["multiplier"], "0.1")
    return config


def rule_update(rule: dict[str, Any], configuration: dict[str, Any]) -> dict[str, Any]:
    """PUT /pricing-rules/{id}: the rule's whole definition with `configuration` (scope fields only when set)."""
    body: dict[str, Any] = {
        "type": rule["type"],
        "configuration": configuration,
        "effective_from": rule["effective_from"],
        "priority": rule["priority"],
        "is_active": rule["is_active"],
    }
    for key in ("effective_to", "region", "product_id", "category_id"):
        if rule.get(key) is not None:
            body[key] = rule[key]
    if rule.get("exclusive") and rule["type"] in PRICE_RULES:
        body["exclusive"] = True
    return body


def flag_update(flag: dict[str, Any], *, flipped: bool) -> dict[str, Any]:
    """PUT /feature-flags/{id}: BOOLEAN flags get the opposite value, others the opposite is_enabled."""
    body: dict[str, Any] = {
        "name": flag["name"],
        "description": flag.get("description"),
        "type": flag["type"],
        "value": flag["value"],
        "is_enabled": flag["is_enabled"],
        "rollout": flag.get("rollout"),
    }
    if flag.get("default_value") is not None:
        body["default_value"] = flag["default_value"]
    if flipped and flag["type"] == "BOOLEAN" and isinstance(flag["value"], bool):
        body["value"] = not flag["value"]
    elif flipped:
        body["is_enabled"] = not flag["is_enabled"]
    return body


@dataclass
class RuleTarget:
    """A rule the admin changes: its definition at the start, and whether it is nudged now."""

    rule: dict[str, Any]
    nudged: bool = False
    touched: bool = False

    def next_body(self) -> dict[str, Any]:
        self.nudged = not self.nudged
        self.touched = True
        config = self.rule["configuration"]
        return rule_update(self.rule, nudge(self.rule["type"], config) if self.nudged else config)

    def original_body(self) -> dict[str, Any]:
        return rule_update(self.rule, self.rule["configuration"])


@dataclass
class FlagTarget:
    flag: dict[str, Any]
    flipped: bool = False
    touched: bool = False

    def next_body(self) -> dict[str, Any]:
        self.flipped = not self.flipped
        self.touched = True
        return flag_update(self.flag, flipped=self.flipped)

    def original_body(self) -> dict[str, Any]:
        return flag_update(self.flag, flipped=False)
