"""What msgspec takes from a client, and its validation errors in words an operator reads.

- `StrictDecimal` and `Instant`, the types of every decimal and every time a request sends, and
  `decode_hook`, which every decoder of request data passes to msgspec so that they are read
  strictly: a decimal in ASCII digits, a time the service can store. `loose_decimals` applies the
  same rule to decimals inside free-form (`Any`) parts of a body, such as a rule's configuration.
- `describe_validation_error`: `Expected `str` of length >= 8 - at `$.password`` becomes
  `password: must be at least 8 characters`. The command line prints every
  msgspec.ValidationError through this one function.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any, Final

import msgspec
from msgspec import inspect

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"^Object (?P<kind>missing required|contains unknown) field `(?P<name>[^`]+)`$")
_TYPE_NAMES = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "null": "nothing",
    "object": "an object",
    "array": "a list",
}
_COMPARISONS = {">=": "at least", "<=": "at most", ">": "more than", "<": "less than"}
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Expected `str` of length (?P<op>[<>]=?) (?P<n>\d+)$"), "must be {op} {n} characters"),
    (re.compile(r"^Expected `(?:array|object)` of length (?P<op>[<>]=?) (?P<n>\d+)$"), "must have {op} {n} items"),
    (re.compile(r"^Expected `(?:int|float|decimal)` (?P<op>[<>]=?) (?P<n>\S+)$"), "must be {op} {n}"),
    (re.compile(r"^Expected `str` matching regex '.*'$", re.DOTALL), "has characters or a shape that is not allowed"),
    (re.compile(r"^Invalid enum value (?P<value>.+)$"), "{value} is not one of the allowed values"),
    (re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$"), "must be {want}, not {got}"),
]

DECIMAL_RULE: Final = 'must be a number, or a decimal in ASCII digits such as "25.50", "-3" or "1e3"'
FIRST_INSTANT: Final = datetime.min.replace(tzinfo=UTC)
LAST_INSTANT: Final = datetime.max.replace(tzinfo=UTC)
QUOTE_LINES_CEILING: Final = 5000
"""The most items a quote's schema takes; MAX_QUOTE_LINES (default 200) may be set up to it (a 5,000-line
quote: BENCHMARKS.md)."""
INSTANT_RULE: Final = "must be after 0001-01-01T00:00:00Z and before 9999-12-31T23:59:59.999999Z once in UTC"
_AWARE = Annotated[datetime, msgspec.Meta(tz=True)]
_JSON_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "array", dict: "object", type(None): "null"}


class _DecodedByHook(type):
    """The metaclass of the types below. msgspec sends a field through `dec_hook` only when its
    type is one msgspec does not know, and then checks the hook's result with isinstance(): these
    types say yes to a plain Decimal or datetime, so the hook returns those and nothing after
    decoding ever holds anything else."""

    def __instancecheck__(cls, value: object) -> bool:
        return isinstance(value, DECODED[cls])


if TYPE_CHECKING:  # what a decoded field holds
    StrictDecimal = Decimal
    Instant = datetime
else:

    class StrictDecimal(metaclass=_DecodedByHook):
        """A decimal as a request sends it: a JSON number, or text in ASCII digits with an
        optional sign, decimal point and exponent ("25.50", "-3", "1e3"; "NaN" and "Infinity" are
        left to the field's own range check). Python's Decimal(), which msgspec calls on text,
        also reads "٣" (an Arabic-Indic three), "1_000" and " 5 "; `decode_hook` refuses those.
        Decodes to a plain Decimal."""

    class Instant(metaclass=_DecodedByHook):
        """An RFC 3339 time with an offset that the service can store: in UTC after
        0001-01-01T00:00:00Z and before 9999-12-31T23:59:59.999999Z. Beyond them a time
        overflows Python's datetime once moved to UTC; those two instants themselves asyncpg
        writes as PostgreSQL's -infinity and infinity, which read back as times without a zone.
        Decodes to a plain (aware) datetime."""


DECODED: Final[dict[type, type]] = {StrictDecimal: Decimal, Instant: datetime}
"""What each of these types decodes to (and is documented as, web/openapi.py)."""


def decode_hook(type_: type, value: Any) -> Any:
    """msgspec's `dec_hook` for StrictDecimal and Instant (pass it wherever request data is decoded)."""
    if type_ is StrictDecimal:
        # The common cases first, each a class test (docs/hot-path.md#decimals-in-requests): a JSON number
        # (already a Decimal, by the decoders' float_hook: immutable, kept as it is), a JSON integer, and
        # plain ASCII text such as "25.50" or "-3" (digits, at most one point, an optional minus: text
        # that `_strict_decimal` would take as it is). Anything else takes the full rule.
        cls = value.__class__
        if cls is Decimal:
            return value
        if cls is int:
            return Decimal(value)
        if cls is str and value.isascii() and value.removeprefix("-").replace(".", "", 1).isdigit():
            return Decimal(value)
        return _strict_decimal(value)
    if type_ is Instant:
        return _instant(value)
    raise NotImplementedError(f"no decoding rule for {type_!r}")


def is_decimal_text(text: str) -> bool:
    """True for text Decimal() reads that a request may send: ASCII, no `_`, no padding."""
    return _decimal_of(text) is not None


def _decimal_of(text: str) -> Decimal | None:
    if not text.isascii() or "_" in text or text != text.strip():
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def storable_instant(moment: datetime) -> bool:
    """True for an aware time strictly between FIRST_INSTANT and LAST_INSTANT once in UTC."""
    if moment.tzinfo is None:
        return False
    try:
        return FIRST_INSTANT < moment.astimezone(UTC) < LAST_INSTANT
    except OverflowError:  # year 0 or 10000 in UTC
        return False


def _strict_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        if (number := _decimal_of(value)) is not None:
            return number
        raise ValueError(DECIMAL_RULE)  # msgspec adds the path
    raise TypeError(f"Expected `decimal`, got `{_JSON_TYPES.get(type(value), type(value).__name__)}`")


def _instant(value: Any) -> datetime:
    try:
        moment: datetime = msgspec.convert(value, _AWARE)
    except msgspec.ValidationError as exc:
        raise ValueError(str(exc)) from None  # a ValueError, so that msgspec adds the path
    if not storable_instant(moment):
        raise ValueError(INSTANT_RULE)
    return moment


def loose_decimals(value: Any, tp: Any, path: str = "") -> list[str]:
    """Paths in `value` (decoded JSON, e.g. a body's free-form configuration) holding text that
    `tp` reads as a decimal but that is no decimal a request may send (see StrictDecimal)."""
    return list(_loose(value, inspect.type_info(tp), path))


def _loose(value: Any, info: inspect.Type, path: str) -> Iterator[str]:
    if isinstance(info, inspect.Metadata):
        info = info.type
    if isinstance(info, inspect.DecimalType):
        if isinstance(value, str) and not is_decimal_text(value):
            yield path
    elif isinstance(info, inspect.StructType) and isinstance(value, dict):
        for field in info.fields:
            if field.encode_name in value:
                yield from _loose(value[field.encode_name], field.type, _join(path, field.encode_name))
    elif isinstance(info, inspect.DictType) and isinstance(value, dict):
        for key, item in value.items():
            yield from _loose(item, info.value_type, _join(path, str(key)))
    elif isinstance(info, inspect.ListType | inspect.VarTupleType) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _loose(item, info.item_type, f"{path}[{index}]")
    elif isinstance(info, inspect.UnionType):
        yield from dict.fromkeys(found for option in info.types for found in _loose(value, option, path))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def describe_validation_error(exc: msgspec.ValidationError, *, rules: Mapping[str, str] | None = None) -> str:
    """`field: what is wrong`, or just what is wrong when msgspec names no field.

    `rules` states a field's whole rule (`{"username": "must be 1-64 characters: ..."}`) for
    fields whose constraints read badly one at a time (a regex, say).
    """
    found = _AT.match(str(exc))
    assert found is not None  # the pattern matches every string
    message, path = found["message"], (found["path"] or "").lstrip(".")
    named = _NAMED.match(message)
    if named:
        field = f"{path}.{named['name']}" if path else named["name"]
        return f"{field}: {'is required' if named['kind'] == 'missing required' else 'is not a known field'}"
    if rules and path in rules:
        return f"{path}: {rules[path]}"
    for pattern, template in _RULES:
        matched = pattern.match(message)
        if matched:
            words = {key: _words(key, value) for key, value in matched.groupdict().items()}
            message = template.format(**words)
            break
    return f"{path}: {message}" if path else message


def _words(key: str, value: str) -> str:
    if key == "op":
        return _COMPARISONS[value]
    if key in {"want", "got"}:
        return _TYPE_NAMES.get(value, value)
    return value
