"""What a request may send as a decimal and as a time, and the command line's words for msgspec
validation errors."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.routes import HTTPRoute
from msgspec.inspect import type_info

from quote_service.app import create_app
from quote_service.auth.schemas import UserCreate
from quote_service.config import Settings
from quote_service.validation import (
    DECIMAL_RULE,
    INSTANT_RULE,
    Instant,
    StrictDecimal,
    _strict_decimal,
    decode_hook,
    describe_validation_error,
    loose_decimals,
    storable_instant,
)
from quote_service.web.request import strict_decoder


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


# --- what a request may send as a decimal and as a time (decode_hook) ------------------------


class Body(msgspec.Struct, forbid_unknown_fields=True):
    amount: StrictDecimal
    at: Instant | None = None
    prices: list[StrictDecimal] = msgspec.field(default_factory=list)


def decoded(body: str) -> Body:
    return strict_decoder(Body).decode(body.encode())


def refused(body: str) -> str:
    with pytest.raises(msgspec.ValidationError) as raised:
        decoded(body)
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "amount"),
    [('"25.50"', "25.50"), ("25.50", "25.50"), ('"-3"', "-3"), ("3", "3"), ('"1e3"', "1E+3"), ('".5"', "0.5")],
)
def test_a_decimal_is_a_json_number_or_ascii_digits_taken_exactly(text: str, amount: str) -> None:
    value = decoded(f'{{"amount": {text}}}').amount
    assert type(value) is Decimal  # a plain Decimal: nothing downstream sees another type
    assert str(value) == amount


@pytest.mark.parametrize(
    "text",
    [
        "\u0663",  # ARABIC-INDIC DIGIT THREE: Decimal() reads 3
        "\uff11",  # FULLWIDTH DIGIT ONE: Decimal() reads 1
        "1_000",  # Decimal() reads 1000
        " 5 ",  # Decimal() strips the padding
        "5\\t",
        "0x10",  # Decimal() refuses this one too
        "",
    ],
)
def test_a_decimal_in_other_digits_with_underscores_or_padding_is_refused_at_its_field(text: str) -> None:
    assert refused(f'{{"amount": "1", "prices": ["2", "{text}"]}}') == f"{DECIMAL_RULE} - at `$.prices[1]`"


@given(st.text(alphabet="0123456789-+.eE_ \u0663", max_size=8) | st.decimals(allow_nan=False).map(str))
def test_the_fast_path_for_plain_decimals_decides_as_the_full_rule(text: str) -> None:
    """decode_hook takes plain ASCII text ("25.50", "-3") without the full rule: it must answer what the
    full rule answers, for every text (docs/hot-path.md#decimals-in-requests)."""
    try:
        expected: Decimal | None = _strict_decimal(text)
    except ValueError:
        expected = None
    try:
        got: Decimal | None = decode_hook(StrictDecimal, text)
    except ValueError:
        got = None
    assert type(got) is type(expected)
    assert str(got) == str(expected)


def test_a_decimal_of_another_json_type_is_named_as_msgspec_names_it() -> None:
    assert refused('{"amount": true}') == "Expected `decimal`, got `bool` - at `$.amount`"
    assert refused('{"amount": null}') == "Expected `decimal`, got `null` - at `$.amount`"


@pytest.mark.parametrize(
    "at",
    [
        "9999-12-31T23:00:00-05:00",  # 10000-01-01T04:00Z
        "0001-01-01T00:30:00+01:00",  # year 0 in UTC
        "9999-12-31T23:59:59.999999Z",  # asyncpg writes it as infinity
        "0001-01-01T00:00:00Z",  # ... and this one as -infinity
        "0001-01-01T01:00:00+01:00",
    ],
)
def test_a_time_the_service_cannot_store_is_refused_at_its_field(at: str) -> None:
    assert refused(f'{{"amount": 1, "at": "{at}"}}') == f"{INSTANT_RULE} - at `$.at`"


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00.000001Z", "9999-12-31T23:59:59.999998Z", "9999-12-31T18:59:59.999998-05:00"]
)
def test_the_first_and_last_storable_times_are_taken_as_sent(at: str) -> None:
    value = decoded(f'{{"amount": 1, "at": "{at}"}}').at
    assert type(value) is datetime
    assert value == datetime.fromisoformat(at)
    assert storable_instant(value)


def test_a_time_without_an_offset_is_still_refused_in_msgspecs_words() -> None:
    assert refused('{"amount": 1, "at": "2025-01-01T00:00:00"}') == (
        "Expected `datetime` with a timezone component - at `$.at`"
    )


class Config(msgspec.Struct):
    fee: Decimal
    bands: list[Decimal] = []
    tiers: dict[str, Decimal] = {}
    label: str = ""


def test_loose_decimals_finds_the_bad_decimal_text_of_a_free_form_document() -> None:
    raw = {"fee": "1_0", "bands": ["1", " 2"], "tiers": {"gold": "\u0663", "silver": "-5"}, "label": " 5 "}
    assert loose_decimals(raw, Config, "configuration") == [
        "configuration.fee",
        "configuration.bands[1]",
        "configuration.tiers.gold",
    ]  # a text field may hold " 5 ": it is not a decimal


def _decimal_and_time_paths(info: msgspec.inspect.Type, path: str, seen: set[int]) -> list[str]:
    """Paths where a request body type decodes a Decimal or datetime natively (not through decode_hook)."""
    if isinstance(info, msgspec.inspect.Metadata):
        info = info.type
    if isinstance(info, msgspec.inspect.DecimalType | msgspec.inspect.DateTimeType | msgspec.inspect.DateType):
        return [path]
    found: list[str] = []
    if isinstance(info, msgspec.inspect.StructType) and id(info) not in seen:
        seen.add(id(info))
        for field in info.fields:
            found += _decimal_and_time_paths(field.type, f"{path}.{field.encode_name}", seen)
    elif isinstance(info, msgspec.inspect.ListType | msgspec.inspect.VarTupleType | msgspec.inspect.SetType):
        found += _decimal_and_time_paths(info.item_type, f"{path}[]", seen)
    elif isinstance(info, msgspec.inspect.DictType):
        found += _decimal_and_time_paths(info.value_type, f"{path}{{}}", seen)
    elif isinstance(info, msgspec.inspect.UnionType):
        for option in info.types:
            found += _decimal_and_time_paths(option, path, seen)
    return found


def test_every_request_body_reads_its_decimals_and_times_through_decode_hook() -> None:
    app = create_app(Settings())
    bodies = {
        f"{method} {route.path}": field.annotation
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for method, (handler, _) in route.route_handler_map.items()
        if (field := handler.parsed_fn_signature.parameters.get("data")) is not None
    }
    assert "POST /api/v1/quote" in bodies
    native = {
        name: paths for name, body in bodies.items() if (paths := _decimal_and_time_paths(type_info(body), "", set()))
    }
    assert native == {}, "type these fields StrictDecimal / Instant (quote_service/validation.py)"
