"""HTTP: /api/v1/approval-policies (admin): how many distinct approvers a change of one entity
type needs (docs/governance.md#approval-policies). Every write of a policy is a change request
itself, applied through this same route once approved (audit/applying.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import delete, get, post
from litestar.params import FromPath, JSONBody

from quote_service.audit import changes
from quote_service.audit.admin import ask_approval
from quote_service.auth.guards import AdminController
from quote_service.db.pool import Connection
from quote_service.errors import NotFound, invalid
from quote_service.pagination import Page
from quote_service.structs import Frozen, Strict
from quote_service.web.deps import AdminPoolDep, AuthedRequest, PoolDep, actor_of
from quote_service.web.envelope import Envelope, ok

ENTITY = "approval_policy"
_COLUMNS = "entity_type, approvals, created_by, updated_by, created_at, updated_at"


class PolicyIn(Strict):
    entity_type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    """What it governs: one of `changes.GOVERNED` (commission_rate, pricing_rule, feature_flag, coupon,
    promotion, price_list, shipping_profile, installment_plan, extension, offer, fx_rate, product, user, api_key or
    approval_policy; docs/governance.md#approval-policies lists them, and a test holds the two together)."""
    approvals: Annotated[int, msgspec.Meta(ge=1, le=5)]
    """Distinct people (not the author) who must approve a change of that type."""


class Policy(Frozen):
    entity_type: str
    approvals: int
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


def _policy(row: asyncpg.Record) -> Policy:
    return Policy(**{name: row[name] for name in Policy.__struct_fields__})


async def _get(conn: Connection, entity_type: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM approval_policies WHERE entity_type = $1", entity_type)


class ApprovalPolicyController(AdminController):
    path = "/api/v1/approval-policies"
    tags = ["governance"]

    @get("/", summary="Approval policies, by entity type")
    async def list_policies(self, pool: PoolDep) -> Envelope[Page[Policy]]:
        rows = await pool.fetch(f"SELECT {_COLUMNS} FROM approval_policies ORDER BY entity_type")
        return ok(Page(items=[_policy(r) for r in rows], next_cursor=None))

    @get("/{entity_type:str}", summary="One entity type's approval policy")
    async def get_policy(self, entity_type: FromPath[str], pool: PoolDep) -> Envelope[Policy]:
        async with pool.acquire() as conn:
            row = await _get(conn, changes.governed(entity_type) or entity_type)
        if row is None:
            raise NotFound(f"no approval policy for {entity_type!r}")
        return ok(_policy(row))

    @post("/", summary="Set how many approvals a change of an entity type needs (a change request itself)")
    async def set_policy(
        self, data: JSONBody[PolicyIn], admin_pool: AdminPoolDep, request: AuthedRequest
    ) -> Envelope[Policy]:
        entity_type = changes.governed(data.entity_type)
        if entity_type is None:
            raise invalid("entity_type", f"must be one of {', '.join(sorted(changes.GOVERNED))}")
        if changes.replaying(request) is None:
            async with admin_pool.acquire() as conn:
                exists = await _get(conn, entity_type) is not None
            body: Any = {"entity_type": entity_type, "approvals": data.approvals}
            await ask_approval(
                request, admin_pool, ENTITY, body, entity_id=entity_type, action="update" if exists else "create"
            )
        row = await admin_pool.fetchrow(
            f"""INSERT INTO approval_policies (entity_type, approvals, created_by, updated_by) VALUES ($1, $2, $3, $3)
                ON CONFLICT (entity_type) DO UPDATE SET approvals = excluded.approvals,
                    updated_by = excluded.updated_by, updated_at = now()
                RETURNING {_COLUMNS}""",
            entity_type,
            data.approvals,
            actor_of(request),
        )
        assert row is not None
        return ok(_policy(row), f"Changes of {entity_type} now need {data.approvals} approval(s)")

    @delete("/{entity_type:str}", status_code=200, summary="Remove an approval policy (a change request itself)")
    async def remove_policy(
        self, entity_type: FromPath[str], admin_pool: AdminPoolDep, request: AuthedRequest
    ) -> Envelope[Policy]:
        entity_type = changes.governed(entity_type) or entity_type
        async with admin_pool.acquire() as conn:
            if await _get(conn, entity_type) is None:
                raise NotFound(f"no approval policy for {entity_type!r}")
        if changes.replaying(request) is None:
            await ask_approval(request, admin_pool, ENTITY, None, entity_id=entity_type)
        row = await admin_pool.fetchrow(
            f"DELETE FROM approval_policies WHERE entity_type = $1 RETURNING {_COLUMNS}", entity_type
        )
        if row is None:
            raise NotFound(f"no approval policy for {entity_type!r}")
        return ok(_policy(row), f"Changes of {entity_type} need no policy's approvals any more")
