"""The last admin stays: no change of users leaves the service without an active admin user.

Demoting or deactivating the only active admin user (itself, or by an admin API key) is 409
LAST_ADMIN: nobody could then sign in to administer the service, nor approve a change request
(docs/governance.md#admins-are-made-by-two).
"""

from __future__ import annotations

import asyncpg

from quote_service.auth import repository
from quote_service.db.pool import Connection
from quote_service.errors import Conflict


def in_power(role: object, is_active: object) -> bool:
    """An admin in power: the admin role, on an active user."""
    return role == "admin" and is_active is True


async def check_admins_remain(conn: Connection, current: asyncpg.Record, fields: dict[str, object]) -> None:
    """409 LAST_ADMIN when `fields` would take the last active admin user's power (its role, or
    deactivating it). The active admins' rows are locked first, so two admins demoting each other
    at once are judged one after the other."""
    was = in_power(current["role"], current["is_active"])
    stays = in_power(fields.get("role", current["role"]), fields.get("is_active", current["is_active"]))
    if was and not stays and await repository.lock_active_admins(conn) == [current["id"]]:
        raise Conflict(
            f"{current['username']} is the last active admin: make another admin before demoting or deactivating it",
            code="LAST_ADMIN",
        )
