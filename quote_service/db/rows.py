"""Reading stored rows: `found` (the row, or the 404 that names it), and `row_as`, a row as the
msgspec Struct the API (or the pricing code) shows: one conversion for every `*_from_row` whose
fields are mostly the row's columns of the same names.

`row_as(Coupon, row, value=..., currency=...)` reads each field from the column of its name and
takes the computed ones from the keywords (a keyword given UNSET leaves its field unset); columns
that no field names are ignored. msgspec checks the result as it builds it, so a column of the
wrong type fails here, not in the answer. Not for an `array_like` Struct (convert reads those from a
list).
"""

from __future__ import annotations

from typing import Any, TypeVar

import asyncpg
import msgspec

from quote_service.errors import NotFound

S = TypeVar("S", bound=msgspec.Struct)
R = TypeVar("R")


def row_as(kind: type[S], row: asyncpg.Record, **computed: Any) -> S:
    """The Struct `kind` of `row`: each field from the column of its name, or from `computed`."""
    fields = dict(row.items())
    for name, value in computed.items():
        if value is msgspec.UNSET:
            fields.pop(name, None)  # the field's default, UNSET, stands (a field that may be unset has it)
        else:
            fields[name] = value
    return msgspec.convert(fields, kind)


def found(row: R | None, what: str) -> R:
    """`row`, or a 404 `<what> not found` (`what` names the row: `promotion <id>`) when there is none."""
    if row is None:
        raise NotFound(f"{what} not found")
    return row
