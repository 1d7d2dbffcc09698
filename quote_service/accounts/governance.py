"""Which writes of users and API keys wait for another person (docs/governance.md#admins-are-made-by-two).

Wherever any approval applies (CHANGE_APPROVAL=required, or any approval policy), one admin must
not be able to make the people who then approve for them, nor to take the others' power away
alone. So these are change requests there: creating or promoting an admin (and reactivating one),
minting an admin or seller key (a seller key an admin minted writes as that admin), demoting or
deactivating an admin, and revoking another person's admin key. The operator's command line
(`create-user`, `create-api-key`) stays direct: it is how a deployment gets its independent admins.
"""

from __future__ import annotations

from msgspec import UNSET

from quote_service.audit import changes
from quote_service.auth.last_admin import in_power
from quote_service.auth.schemas import User, UserUpdate
from quote_service.config import Settings
from quote_service.db.pool import Pool

KEY_ROLES_APPROVED = frozenset({"admin", "seller"})
"""The roles of the keys whose minting waits: an admin key, and a seller key that writes as its admin."""


async def approval_applies(pool: Pool, settings: Settings) -> bool:
    """Whether any approval applies in this deployment (CHANGE_APPROVAL=required, or a policy)."""
    return await changes.any_approval(pool, required=settings.change_approval == "required")


def moves_admin_power(current: User, data: UserUpdate) -> bool:
    """Whether the PATCH makes an admin of the user or unmakes one (role or `is_active`)."""
    role = current.role if data.role is UNSET else data.role
    active = current.is_active if data.is_active is UNSET else data.is_active
    return in_power(current.role, current.is_active) != in_power(role, active)
