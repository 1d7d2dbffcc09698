"""Targeting rules as an admin writes them: checked and normalised (docs/flags.md#targeting-rules)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quote_service.errors import FieldError
from quote_service.flags.schemas import RuleIn
from quote_service.pricing.targeting import TargetingRule, as_number, rule_problem

MAX_TEXT = 256


def _stored(value: Any) -> Any:
    """A value as the rule keeps it: integers as JSON numbers, other decimals as exact text
    (the form they come back in from storage, so a rule reads the same before and after)."""
    if isinstance(value, Decimal):
        number = as_number(value)
        if number is not None and number == number.to_integral_value():
            return int(number)
        return format(value, "f") if number is not None else str(value)
    return value


def check_rules(rules: list[RuleIn] | None, errors: list[FieldError]) -> tuple[TargetingRule, ...]:
    """The rules, normalised; a FieldError naming `rollout.rules[i].<field>` appended for each bad one."""
    checked: list[TargetingRule] = []
    for index, given in enumerate(rules or ()):
        path = f"rollout.rules[{index}]"
        values = tuple(_stored(value) for value in given.values)
        rule = TargetingRule(attribute=given.attribute, operator=given.operator, values=values)
        long = next((i for i, v in enumerate(values) if isinstance(v, str) and len(v) > MAX_TEXT), None)
        problem = rule_problem(rule)
        if long is not None:
            errors.append(FieldError(f"{path}.values[{long}]", f"must be at most {MAX_TEXT} characters"))
        elif problem is not None:
            errors.append(FieldError(f"{path}.{problem[0]}", problem[1]))
        else:
            checked.append(rule)
    return tuple(checked)
