"""msgspec's validation errors in words an operator reads at a terminal.

`Expected `str` of length >= 8 - at `$.password`` becomes `password: must be at least 8
characters`. The command line prints every msgspec.ValidationError through this one function.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

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
