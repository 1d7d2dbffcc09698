"""Targeting rules of a feature flag (docs/flags.md): `rollout.rules: [{attribute, operator, values}]`.

A flag whose rules do not ALL match the evaluation context's attributes answers DEFAULT. Each
rule is compiled once per configuration snapshot (`compile_rule`): its values are parsed and
folded up front, so evaluating it is one attribute lookup and one comparison, no I/O.

Comparison, whatever the operator:
- an attribute that is missing, null, a list or an object matches no rule (not even `neq` or
  `not_in`: a rule can only admit a context whose attribute is known);
- text compares case-insensitively, without surrounding spaces (as segments, tiers and regions
  do everywhere in the service);
- `eq`, `neq`, `in`, `not_in`: a numeric attribute (a number, or text that is a decimal number)
  equals a value numerically when the value is a number (or decimal text), so 100, "100" and
  100.0 are one value; otherwise the two compare as text; a boolean value equals only a boolean;
- `gt`, `gte`, `lt`, `lte`: the attribute as a decimal number against the one value;
- `starts_with`, `ends_with`, `contains`: the attribute's text against any of the values;
- `semver_gte`, `semver_lt`: the attribute as a semantic version (`1.4`, `v2.0.1-rc.1`) against
  the one value, by Semantic Versioning 2.0.0 precedence (build metadata ignored).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args

import msgspec

Operator = Literal[
    "in",
    "not_in",
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "starts_with",
    "ends_with",
    "contains",
    "semver_gte",
    "semver_lt",
]
OPERATORS: tuple[str, ...] = get_args(Operator)
NUMERIC_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
SEMVER_OPERATORS = frozenset({"semver_gte", "semver_lt"})
TEXT_OPERATORS = frozenset({"starts_with", "ends_with", "contains"})
SINGLE_VALUE_OPERATORS = NUMERIC_OPERATORS | SEMVER_OPERATORS | {"eq", "neq"}

_DECIMAL_TEXT = re.compile(r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*")
_SEMVER = re.compile(
    r"\s*v?(?P<core>[0-9]+(?:\.[0-9]+){0,2})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\s*"
)


class TargetingRule(msgspec.Struct, frozen=True, kw_only=True):
    """One condition on an attribute of the evaluation context (validated on write)."""

    attribute: str
    operator: Operator
    values: tuple[Any, ...]


Matcher = Callable[[Mapping[str, Any]], bool]
"""A compiled rule: whether the attributes satisfy it."""


def as_number(raw: Any) -> Decimal | None:
    """`raw` as a finite Decimal when it is a number or decimal text; None otherwise (booleans too)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, Decimal):
        number = raw
    elif isinstance(raw, int):
        number = Decimal(raw)
    elif isinstance(raw, float):
        number = Decimal(repr(raw))  # the shortest text that reads back as this float: 99.99, not 99.98999...
    elif isinstance(raw, str) and _DECIMAL_TEXT.fullmatch(raw):
        try:
            number = Decimal(raw.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimal text
            return None
    else:
        return None
    return number if number.is_finite() else None


def _fold(text: str) -> str:
    return text.strip().casefold()


def _text(raw: Any) -> str | None:
    """An attribute's text for comparison: strings and numbers; None for anything else."""
    if isinstance(raw, str):
        return _fold(raw)
    if isinstance(raw, int | Decimal | float) and not isinstance(raw, bool):
        return _fold(str(raw))
    return None


SemverKey = tuple[tuple[int, ...], int, tuple[tuple[int, int, str], ...]]


def semver_key(raw: Any) -> SemverKey | None:
    """A sortable key of a semantic version ("1.4" is 1.4.0; a pre-release sorts below its release)."""
    if not isinstance(raw, str):
        return None
    match = _SEMVER.fullmatch(raw)
    if match is None:
        return None
    core = tuple(int(part) for part in match["core"].split("."))
    core += (0,) * (3 - len(core))
    pre = match["pre"]
    if pre is None:
        return core, 1, ()
    # Numeric identifiers sort numerically and below alphanumeric ones (SemVer 2.0.0, item 11).
    identifiers = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split("."))
    return core, 0, identifiers


Folded = tuple[frozenset[bool], frozenset[Decimal], frozenset[str]]
"""The values of an `eq`/`in` rule: its booleans, its numbers, its texts (folded)."""


def _folded(values: tuple[Any, ...]) -> Folded:
    booleans = frozenset(value for value in values if isinstance(value, bool))
    numbers = frozenset(n for value in values if (n := as_number(value)) is not None)
    texts = frozenset(t for value in values if not isinstance(value, bool) and (t := _text(value)) is not None)
    return booleans, numbers, texts


def _member(raw: Any, folded: Folded) -> bool:
    """Whether a (known) attribute equals one of the folded values."""
    booleans, numbers, texts = folded
    if isinstance(raw, bool):
        return raw in booleans
    number = as_number(raw)
    if number is not None and number in numbers:
        return True
    text = _text(raw)
    return text is not None and text in texts


def _known(raw: Any) -> bool:
    return raw is not None and not isinstance(raw, dict | list | tuple)


def _ordering(operator: str) -> Callable[[Decimal, Decimal], bool]:
    """The comparison a numeric operator makes of (attribute, bound)."""
    if operator == "gt":
        return lambda number, bound: number > bound
    if operator == "gte":
        return lambda number, bound: number >= bound
    if operator == "lt":
        return lambda number, bound: number < bound
    return lambda number, bound: number <= bound


def _text_test(operator: str) -> Callable[[str, str], bool]:
    """The test a text operator makes of (attribute, value)."""
    if operator == "starts_with":
        return lambda text, part: text.startswith(part)
    if operator == "ends_with":
        return lambda text, part: text.endswith(part)
    return lambda text, part: part in text


def compile_rule(rule: TargetingRule) -> Matcher:
    """The rule as a function of the context's attributes (values parsed once, here)."""
    name, operator, values = rule.attribute, rule.operator, rule.values
    if operator in ("eq", "in"):
        folded = _folded(values)
        return lambda attributes: _known(raw := attributes.get(name)) and _member(raw, folded)
    if operator in ("neq", "not_in"):
        folded = _folded(values)
        return lambda attributes: _known(raw := attributes.get(name)) and not _member(raw, folded)
    if operator in NUMERIC_OPERATORS:
        bound = as_number(values[0])
        assert bound is not None, "numeric rules are validated on write"
        compare = _ordering(operator)
        return lambda attributes: (number := as_number(attributes.get(name))) is not None and compare(number, bound)
    if operator in SEMVER_OPERATORS:
        version = semver_key(values[0])
        assert version is not None, "semver rules are validated on write"
        at_least = operator == "semver_gte"
        return lambda attributes: (
            (found := semver_key(attributes.get(name))) is not None and ((found >= version) == at_least)
        )
    texts = tuple(_fold(value) for value in values)
    test = _text_test(operator)
    return lambda attributes: (text := _text(attributes.get(name))) is not None and any(test(text, t) for t in texts)


def rule_problem(rule: TargetingRule) -> tuple[str, str] | None:
    """(the field, what is wrong) when `rule` cannot be compiled; None when it can."""
    operator, values = rule.operator, rule.values
    if operator in SINGLE_VALUE_OPERATORS and len(values) != 1:
        return "values", f"{operator} takes exactly one value"
    for index, value in enumerate(values):
        problem = _value_problem(operator, value)
        if problem is not None:
            return f"values[{index}]", problem
    return None


def _value_problem(operator: str, value: Any) -> str | None:
    if operator in NUMERIC_OPERATORS:
        return None if as_number(value) is not None else f"{operator} compares with a number"
    if operator in SEMVER_OPERATORS:
        return None if semver_key(value) is not None else f"{operator} compares with a version such as 1.4.2"
    if operator in TEXT_OPERATORS:
        return None if isinstance(value, str) and value.strip() else f"{operator} takes non-empty text"
    if isinstance(value, bool) or as_number(value) is not None or isinstance(value, str):
        return None
    return f"{operator} takes text, numbers or booleans"
