"""The admin writes of a configuration table whose rows live the same way: create, get, replace
(PUT), patch (PATCH), deactivate (DELETE keeps the row, inactive) or delete (for a table whose rows
are not kept inactive). Shipping profiles, installment plans and payout terms share them; each
table's repository names it (`ConfigTable`: the table, its rows' noun, its columns, the writable
ones) and its service how a row reads as the API shows it and the check that turns a body into
the fields to store (one 422 listing every bad field, before any SQL).

Every write is one statement that stamps `updated_by` and `updated_at`; a PATCH reads the row
`FOR UPDATE`, lays the fields sent over it and checks the result whole, as a PUT body, in one
transaction. An unknown id is a 404 naming the kind of row (`installment plan <id> not found`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NamedTuple, TypeVar
from uuid import UUID

import asyncpg
import msgspec

from quote_service.db.pool import Pool
from quote_service.db.writes import deactivate_sql, update_sql
from quote_service.errors import NotFound
from quote_service.patch import patched, sent_fields

Row = TypeVar("Row")  # a row as the API shows it
Body = TypeVar("Body", bound=msgspec.Struct)  # the whole (PUT) body


class ConfigTable(NamedTuple):
    """A configuration table as its repository declares it."""

    name: str
    noun: str
    """What a row is called in a 404 (`installment plan <id> not found`)."""
    columns: str
    """The columns every statement returns, as SQL."""
    writable: tuple[str, ...]
    """The columns a body sets, in the order `check` is read."""


class ConfigRows(Generic[Row, Body]):
    """Create, get, replace, patch and deactivate rows of `table` (whose `id` is a UUID)."""

    def __init__(
        self,
        table: ConfigTable,
        *,
        body: type[Body],
        check: Callable[[Body], dict[str, Any]],
        from_row: Callable[[asyncpg.Record], Row],
    ) -> None:
        name, self.noun, columns, writable = table
        self._writable = writable
        self._body = body
        self._check = check
        self._from_row = from_row
        n = len(writable)
        values = ", ".join(f"${i}" for i in range(1, n + 1))
        self._insert = (
            f"INSERT INTO {name} ({', '.join(writable)}, created_by, updated_by)"
            f" VALUES ({values}, ${n + 1}, ${n + 1}) RETURNING {columns}"
        )
        self._get = f"SELECT {columns} FROM {name} WHERE id = $1"
        self._update = update_sql(name, "id", writable, columns, now="clock_timestamp()")
        self._deactivate = deactivate_sql(name, "id", columns, now="clock_timestamp()")
        self._delete = f"DELETE FROM {name} WHERE id = $1 RETURNING {columns}"

    def _found(self, row: asyncpg.Record | None, row_id: UUID) -> Row:
        if row is None:
            raise NotFound(f"{self.noun} {row_id} not found")
        return self._from_row(row)

    def _values(self, fields: dict[str, Any]) -> list[Any]:
        return [fields[column] for column in self._writable]

    async def create(self, pool: Pool, data: Body, *, actor: str) -> Row:
        fields = self._check(data)
        async with pool.acquire() as conn:
            row = await conn.fetchrow(self._insert, *self._values(fields), actor)
        assert row is not None
        return self._from_row(row)

    async def get(self, pool: Pool, row_id: UUID) -> Row:
        async with pool.acquire() as conn:
            return self._found(await conn.fetchrow(self._get, row_id), row_id)

    async def replace(self, pool: Pool, row_id: UUID, data: Body, *, actor: str) -> Row:
        """PUT: every writable field replaced."""
        fields = self._check(data)
        async with pool.acquire() as conn:
            row = await conn.fetchrow(self._update, row_id, actor, *self._values(fields))
        return self._found(row, row_id)

    async def patch(self, pool: Pool, row_id: UUID, data: msgspec.Struct, *, actor: str) -> Row:
        """PATCH: the fields sent over the stored row, the result checked whole."""
        changes = sent_fields(data)
        async with pool.acquire() as conn, conn.transaction():
            current = self._found(await conn.fetchrow(self._get + " FOR UPDATE", row_id), row_id)
            fields = self._check(patched(current, self._body, changes))
            row = await conn.fetchrow(self._update, row_id, actor, *self._values(fields))
        return self._found(row, row_id)

    async def deactivate(self, pool: Pool, row_id: UUID, *, actor: str) -> Row:
        async with pool.acquire() as conn:
            row = await conn.fetchrow(self._deactivate, row_id, actor)
        return self._found(row, row_id)

    async def delete(self, pool: Pool, row_id: UUID) -> Row:
        """DELETE of a table without `is_active`: the row as it was, gone."""
        async with pool.acquire() as conn:
            row = await conn.fetchrow(self._delete, row_id)
        return self._found(row, row_id)
