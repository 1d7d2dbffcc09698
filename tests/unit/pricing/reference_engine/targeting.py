"""Targeting rules and a quote's attributes as docs/flags.md states them, written again from the docs.

A rule `{attribute, operator, values}` holds when the context's attribute compares as the
operator says; a missing (or null, list, object) attribute holds for no rule. Text compares
case-insensitively without surrounding spaces; eq/neq/in/not_in compare numerically when the
attribute is a number (or decimal text) and the value is one, else as text, booleans only with
booleans; gt/gte/lt/lte as decimal numbers; starts_with/ends_with/contains against any value;
semver_gte/semver_lt by Semantic Versioning 2.0.0 precedence.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from quote_service.pricing.quote import CatalogProduct, CustomerContext, QuoteRequest
from quote_service.pricing.targeting import TargetingRule
from tests.unit.pricing.reference_engine.money import cent_of

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_VERSION = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


def _number(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | Decimal):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(str(raw))
    if isinstance(raw, str) and _NUMBER.fullmatch(raw.strip()):
        return Decimal(raw.strip())
    return None


def _word(raw: Any) -> str | None:
    if isinstance(raw, bool) or raw is None or isinstance(raw, dict | list | tuple):
        return None
    return str(raw).strip().lower() if isinstance(raw, str) else str(raw).strip()


def _equal(attribute: Any, value: Any) -> bool:
    if isinstance(value, bool) or isinstance(attribute, bool):
        return isinstance(value, bool) and isinstance(attribute, bool) and value == attribute
    a, v = _number(attribute), _number(value)
    if a is not None and v is not None and a == v:
        return True
    return _word(attribute) is not None and (_word(attribute) or "").casefold() == (_word(value) or "").casefold()


def _version(raw: Any) -> tuple[list[int], list[str] | None] | None:
    if not isinstance(raw, str):
        return None
    match = _VERSION.fullmatch(raw.strip())
    if match is None:
        return None
    core = [int(part) if part is not None else 0 for part in match.group(1, 2, 3)]
    pre = match.group(4)
    if pre is not None and any(part == "" for part in pre.split(".")):
        return None
    return core, None if pre is None else pre.split(".")


def _compare_identifiers(a: str, b: str) -> int:
    if a.isdigit() and b.isdigit():
        return (int(a) > int(b)) - (int(a) < int(b))
    if a.isdigit() != b.isdigit():
        return -1 if a.isdigit() else 1
    return (a > b) - (a < b)


def _compare_versions(a: tuple[list[int], list[str] | None], b: tuple[list[int], list[str] | None]) -> int:
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    if a[1] is None or b[1] is None:
        return (a[1] is None) - (b[1] is None)
    for x, y in zip(a[1], b[1], strict=False):
        if (order := _compare_identifiers(x, y)) != 0:
            return order
    return (len(a[1]) > len(b[1])) - (len(a[1]) < len(b[1]))


def rule_holds(rule: TargetingRule, attributes: Mapping[str, Any]) -> bool:
    """Whether `attributes` satisfy `rule`."""
    raw = attributes.get(rule.attribute)
    if raw is None or isinstance(raw, dict | list | tuple):
        return False
    op, values = rule.operator, rule.values
    if op in ("eq", "in"):
        return any(_equal(raw, value) for value in values)
    if op in ("neq", "not_in"):
        return not any(_equal(raw, value) for value in values)
    if op in ("gt", "gte", "lt", "lte"):
        a, bound = _number(raw), _number(values[0])
        if a is None or bound is None:
            return False
        return {"gt": a > bound, "gte": a >= bound, "lt": a < bound, "lte": a <= bound}[op]
    if op in ("semver_gte", "semver_lt"):
        found, wanted = _version(raw), _version(values[0])
        if found is None or wanted is None:
            return False
        at_least = _compare_versions(found, wanted) >= 0
        return at_least if op == "semver_gte" else not at_least
    text = _word(raw)
    if text is None:
        return False
    text = text.casefold()
    parts = [str(value).strip().casefold() for value in values]
    if op == "starts_with":
        return any(text.startswith(part) for part in parts)
    if op == "ends_with":
        return any(text.endswith(part) for part in parts)
    return any(part in text for part in parts)


version_key = functools.cmp_to_key(_compare_versions)
"""Sort key of parsed versions (for tests that order them)."""


def quote_attributes(
    request: QuoteRequest, customer: CustomerContext, products: Mapping[str, CatalogProduct], *, currency: str
) -> dict[str, Any]:
    """Every attribute a quote gives its flags' rules (docs/flags.md), unknown ones left out."""
    cent = cent_of(currency)
    subtotal = Decimal(0)
    for item in request.items:
        product = products.get(item.product_id)
        unit = product.current_price if product is not None and product.is_active else item.unit_price
        if unit is not None:
            subtotal += (unit * item.quantity).quantize(cent, rounding=ROUND_HALF_UP)
    found: dict[str, Any] = {
        "customer_id": customer.customer_id or None,
        "customer_tier": customer.tier,
        "customer_segment": customer.segment,
        "customer_group": customer.customer_group,
        "channel": request.channel,
        "city": request.delivery_address.city,
        "country": request.delivery_address.country,
        "currency": currency,
        "subtotal": subtotal,
        "item_count": sum(item.quantity for item in request.items),
    }
    if request.context is not None:
        for field in ("user_agent", "ip_address", "session_id", "ab_test_group"):
            found[f"context.{field}"] = getattr(request.context, field)
    return {name: value for name, value in found.items() if value is not None}
