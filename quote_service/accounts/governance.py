"""Which writes of users and API keys wait for another person (docs/governance.md#admins-are-made-by-two).

Wherever any approval applies (CHANGE_APPROVAL=required, or any approval policy), one admin must
not be able to make the people who then approve for them, nor to take the others' power away
alone, nor to write as a seller past the approvals its own writes need. So these are change
requests there: creating or promoting an admin (and reactivating one), minting an admin, seller or
agent key, creating a seller user, making a user a seller or changing its `seller_id` (a seller key or
user an admin made writes as that admin: audit/admin.py `sellers_own`), demoting or deactivating an
admin, and revoking another person's admin key. The operator's command line (`create-user`,
`create-api-key`) stays direct: it is how a deployment gets its independent admins and sellers.
"""

from __future__ import annotations

from msgspec import UNSET

from quote_service.audit import changes
from quote_service.auth.last_admin import in_power
from quote_service.auth.schemas import User, UserUpdate
from quote_service.config import Settings
from quote_service.db.pool import Pool

ROLES_APPROVED = frozenset({"admin", "seller", "agent"})
"""The roles of the users and keys whose making waits: an admin, a seller that writes as its admin,
and an agent key (it places orders and has them sent to a URL of its own, docs/agents.md)."""


async def approval_applies(pool: Pool, settings: Settings) -> bool:
    """Whether any approval applies in this deployment (CHANGE_APPROVAL=required, or a policy)."""
    return await changes.any_approval(pool, required=settings.change_approval == "required")


def moves_admin_power(current: User, data: UserUpdate) -> bool:
    """Whether the PATCH makes an admin of the user or unmakes one (role or `is_active`)."""
    role = current.role if data.role is UNSET else data.role
    active = current.is_active if data.is_active is UNSET else data.is_active
    return in_power(current.role, current.is_active) != in_power(role, active)


def binds_seller(current: User, data: UserUpdate) -> bool:
    """Whether the PATCH makes the user a seller, or moves a seller user to another `seller_id`."""
    role = current.role if data.role is UNSET else data.role
    seller_id = (current.seller_id or None) if data.seller_id is UNSET else data.seller_id
    return role == "seller" and (current.role != "seller" or seller_id != current.seller_id)


def needs_another_person(current: User, data: UserUpdate) -> bool:
    """Whether the PATCH is one admin's to make alone nowhere approval applies: it makes or unmakes an
    admin, or binds a login to a seller."""
    return moves_admin_power(current, data) or binds_seller(current, data)
