"""Targeting rules (pricing/targeting.py) and OFREP's reading of a context (ofrep/service.py).

The shared table (tests/fixtures/flag_evaluations.json) holds the documented cases of each
operator; here: Semantic Versioning's own precedence list, checked against the reference too,
what the write path refuses, and how an OFREP body becomes an evaluation context.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from quote_service.ofrep.service import OfrepError, matches, parse_context
from quote_service.pricing.targeting import Operator, TargetingRule, compile_rule, rule_problem, semver_key
from tests.unit.pricing.reference_engine.targeting import rule_holds

# Semantic Versioning 2.0.0, item 11, in ascending precedence.
SEMVER_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2",
    "1.10.0",
    "v2.0.0+build.7",
]


def rule(attribute: str, operator: Operator, *values: Any) -> TargetingRule:
    return TargetingRule(attribute=attribute, operator=operator, values=values)


def test_semantic_versions_follow_the_precedence_of_the_specification() -> None:
    keys = [semver_key(version) for version in SEMVER_ORDER]

    assert all(key is not None for key in keys)
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("bound", SEMVER_ORDER)
def test_semver_rules_agree_with_the_reference_on_every_pair(bound: str) -> None:
    for operator in ("semver_gte", "semver_lt"):
        target = rule("v", operator, bound)
        matcher = compile_rule(target)
        for version in SEMVER_ORDER:
            expected = (SEMVER_ORDER.index(version) >= SEMVER_ORDER.index(bound)) == (operator == "semver_gte")
            assert matcher({"v": version}) is expected, (version, operator, bound)
            assert rule_holds(target, {"v": version}) is expected, (version, operator, bound)


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        (rule("subtotal", "gt", 1, 2), "values", "gt takes exactly one value"),
        (rule("subtotal", "lte", "ten"), "values[0]", "lte compares with a number"),
        (rule("subtotal", "gte", True), "values[0]", "gte compares with a number"),
        (rule("app", "semver_lt", "2.x"), "values[0]", "semver_lt compares with a version such as 1.4.2"),
        (rule("email", "ends_with", "  "), "values[0]", "ends_with takes non-empty text"),
        (rule("email", "contains", 7), "values[0]", "contains takes non-empty text"),
        (rule("tier", "in", "gold", ["silver"]), "values[1]", "in takes text, numbers or booleans"),
    ],
)
def test_the_write_path_names_what_is_wrong_with_a_rule(given: TargetingRule, field: str, message: str) -> None:
    assert rule_problem(given) == (field, message)


def test_numbers_compare_as_numbers_and_text_as_folded_text() -> None:
    in_rule = compile_rule(rule("n", "in", 100, "Gold", True))

    assert in_rule({"n": Decimal("100.00")}) is True
    assert in_rule({"n": "1E2"}) is True
    assert in_rule({"n": " gold "}) is True
    assert in_rule({"n": True}) is True
    assert in_rule({"n": "true"}) is False  # a boolean value equals only a boolean
    assert in_rule({"n": [100]}) is False  # a list is no attribute a rule can read
    assert compile_rule(rule("n", "lt", "0.1"))({"n": 0.09999}) is True
    assert compile_rule(rule("n", "gte", 10))({"n": "9.999"}) is False
    assert compile_rule(rule("n", "gte", 10))({"n": "NaN"}) is False


def test_an_ofrep_body_becomes_the_evaluation_context() -> None:
    body = (
        b'{"context": {"targetingKey": "c-1", "customer_segment": "vip", "city": "Istanbul",'
        b' "country": "TR", "subtotal": 12.50, "context": {"channel": "app", "device": {"os": "ios"}},'
        b' "customer_id": "someone-else", "tags": ["a"], "missing": null}}'
    )

    ctx = parse_context(body)

    assert (ctx.user_id, ctx.user_segment, ctx.city, ctx.country) == ("c-1", "vip", "Istanbul", "TR")
    assert ctx.attributes == {
        "customer_id": "c-1",  # the targeting key is the customer id, as in a quote
        "customer_segment": "vip",
        "city": "Istanbul",
        "country": "TR",
        "subtotal": Decimal("12.50"),
        "context.channel": "app",
        "context.device.os": "ios",
        "tags": ["a"],
    }


def test_an_ofrep_context_naming_no_customer_group_is_in_the_callers() -> None:
    untold = parse_context(b'{"context": {"targetingKey": "c-1"}}', customer_group="b2b")
    told = parse_context(b'{"context": {"customer_group": "retail"}}', customer_group="b2b")

    assert untold.attributes == {"customer_id": "c-1", "customer_group": "b2b"}
    assert told.attributes == {"customer_group": "retail"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "PARSE_ERROR"),
        (b"nope", "PARSE_ERROR"),
        (b'"context"', "PARSE_ERROR"),
        (b'{"context": []}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": ["c-1"]}}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": null}}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": "' + b"k" * 257 + b'"}}', "INVALID_CONTEXT"),
    ],
)
def test_a_body_ofrep_cannot_read_is_refused_with_its_code(body: bytes, code: str) -> None:
    with pytest.raises(OfrepError) as refused:
        parse_context(body)

    assert (refused.value.status, refused.value.code) == (400, code)


def test_no_context_or_an_empty_key_is_a_context_without_a_targeting_key() -> None:
    assert parse_context(b"{}").user_id is None
    assert parse_context(b'{"context": {"targetingKey": ""}}').user_id is None


def test_if_none_match_compares_weakly_and_accepts_lists() -> None:
    tag = '"abc"'

    assert matches('"abc"', tag)
    assert matches('W/"abc"', tag)
    assert matches('"x", "abc"', tag)
    assert matches("*", tag)
    assert not matches('"abd"', tag)
    assert not matches(None, tag)
