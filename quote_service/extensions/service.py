"""Extension writes: the URL checked as a webhook's (docs/webhooks.md#which-urls-are-accepted), one 422
listing every bad field, then the row; rows as the API shows them; the secret made once."""

from __future__ import annotations

from typing import Any

import asyncpg
from msgspec import UNSET

from quote_service.db.config_rows import ConfigRows
from quote_service.db.pool import Pool
from quote_service.db.rows import row_as
from quote_service.extensions import repository
from quote_service.extensions.schemas import AppliesTo, Extension, ExtensionInput
from quote_service.webhooks import urls


def check_fields(data: ExtensionInput) -> dict[str, Any]:
    """The columns of an extension, normalised (countries upper-case, lists without repeats)."""
    url = str(urls.parse(data.url))
    applies = data.applies_to
    return {
        "kind": data.kind,
        "url": url,
        "timeout_ms": data.timeout_ms,
        "countries": None if applies.countries is None else list(dict.fromkeys(c.upper() for c in applies.countries)),
        "seller_ids": None if applies.seller_ids is None else list(dict.fromkeys(applies.seller_ids)),
        "on_failure": data.on_failure,
        "is_active": data.is_active,
    }


def extension_from_row(row: asyncpg.Record, secret: str | None = None) -> Extension:
    """An extension as the API shows it (`secret` only when it was just made)."""
    return row_as(
        Extension,
        row,
        applies_to=AppliesTo(countries=row["countries"], seller_ids=row["seller_ids"]),
        secret=UNSET if secret is None else secret,
    )


EXTENSIONS: ConfigRows[Extension, ExtensionInput] = ConfigRows(
    repository.TABLE,
    body=ExtensionInput,
    check=check_fields,
    from_row=extension_from_row,
)


async def check_url(url: str, *, allow_private: bool) -> None:
    """A 422 on `url` when a webhook could not be sent there (its addresses checked now)."""
    await urls.check(url, allow_private=allow_private)


async def create(pool: Pool, data: ExtensionInput, *, secret: str, actor: str) -> Extension:
    """A new extension; its answer carries `secret`, this once."""
    fields = check_fields(data)
    async with pool.acquire() as conn:
        row = await repository.insert(conn, fields=fields, secret=secret, actor=actor)
    return extension_from_row(row, secret)
