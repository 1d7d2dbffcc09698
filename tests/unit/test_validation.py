"""The command line's words for msgspec validation errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
import pytest

from quote_service.auth.schemas import UserCreate
from quote_service.validation import describe_validation_error


class Sample(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=3, max_length=10, pattern="^[a-z]+$")]
    count: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    ratio: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    role: Literal["admin", "user"] = "user"
    scores: list[Annotated[int, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=list)


def described(data: dict[str, Any], type_: type = Sample) -> str:
    with pytest.raises(msgspec.ValidationError) as raised:
        msgspec.convert(data, type_)
    return describe_validation_error(raised.value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": "ab"}, "name: must be at least 3 characters"),
        ({"name": "abcdefghijk"}, "name: must be at most 10 characters"),
        ({"name": "ABC"}, "name: has characters or a shape that is not allowed"),
        ({"name": "abc", "count": 0}, "count: must be at least 1"),
        ({"name": "abc", "count": 6}, "count: must be at most 5"),
        ({"name": "abc", "ratio": 0}, "ratio: must be more than 0.0"),
        ({"name": "abc", "count": "two"}, "count: must be a whole number, not text"),
        ({"name": None}, "name: must be text, not nothing"),
        ({"name": "abc", "role": "root"}, "role: 'root' is not one of the allowed values"),
        ({}, "name: is required"),
        ({"name": "abc", "colour": "red"}, "colour: is not a known field"),
        ({"name": "abc", "scores": [1, -1]}, "scores[1]: must be at least 0"),
    ],
)
def test_each_kind_of_error_names_the_field_and_the_rule(data: dict[str, Any], expected: str) -> None:
    assert described(data) == expected


def test_a_short_password_is_explained_without_msgspec_jargon() -> None:
    message = described({"username": "bob", "password": "short", "role": "user"}, UserCreate)
    assert message.startswith("password: must be at least ")
    assert message.endswith(" characters")
    assert "$" not in message
    assert "`" not in message


def test_a_field_rule_replaces_the_constraint_by_constraint_message() -> None:
    with pytest.raises(msgspec.ValidationError) as raised:
        msgspec.convert({"name": "ABC"}, Sample)
    rules = {"name": "must be 3-10 lowercase letters"}
    assert describe_validation_error(raised.value, rules=rules) == "name: must be 3-10 lowercase letters"
