"""A stored row as the msgspec Struct the API (or the pricing code) shows: one conversion for every
`*_from_row` whose fields are mostly the row's columns of the same names.

`row_as(Coupon, row, value=..., currency=...)` reads each field from the column of its name and
takes the computed ones from the keywords (a keyword given UNSET leaves its field unset); columns
that no field names are ignored. msgspec
checks the result as it builds it, so a column of the wrong type fails here, not in the answer.
"""

from __future__ import annotations

from typing import Any, TypeVar

import asyncpg
import msgspec

S = TypeVar("S", bound=msgspec.Struct)


def row_as(kind: type[S], row: asyncpg.Record, **computed: Any) -> S:
    """The Struct `kind` of `row`: each field from the column of its name, or from `computed`."""
    fields = dict(row.items())
    for name, value in computed.items():
        if value is msgspec.UNSET:
            fields.pop(name, None)  # the field's default, UNSET, stands (a field that may be unset has it)
        else:
            fields[name] = value
    return msgspec.convert(fields, kind)
