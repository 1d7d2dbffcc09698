"""HTTP: /api/v1/change-requests (admin): list with diffs, approve (now or at apply_at), reject."""

from __future__ import annotations

from functools import partial
from typing import Any, Literal
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service import fault_points
from quote_service.audit import applying, changes
from quote_service.auth.guards import AdminController
from quote_service.clock import utcnow
from quote_service.errors import invalid
from quote_service.pagination import Page, fetch_page
from quote_service.validation import Instant
from quote_service.web.deps import AuthedRequest, PageDep, PoolDep
from quote_service.web.envelope import Envelope, ok
from quote_service.web.middleware import REQUEST_ID

Status = Literal["pending", "approved", "applied", "rejected", "conflicted", "failed"]


class ApproveBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    apply_at: Instant | None = None


class ChangeRequestId(msgspec.Struct, kw_only=True, omit_defaults=True):
    change_request_id: str
    status: str
    key: str | None = None
    """The plaintext of the API key the request makes: shown here, to its author, once."""
    secret: str | None = None
    """The signing secret of the extension the request makes: shown here, to its author, once."""


def handle_change_requested(request: Request[Any, Any, Any], exc: changes.ChangeRequested) -> Response[Any]:
    """CHANGE_APPROVAL=required: the admin write was stored as a change request (docs/governance.md);
    app.py adds it to web/errors.py's handlers."""
    data = ChangeRequestId(
        change_request_id=str(exc.request.id), status=exc.request.status, key=exc.key, secret=exc.secret
    )
    message = "Change request created: another admin must approve it"
    if exc.key is not None:
        message += "; store the key now, it is not shown again and works once the request is applied"
    if exc.secret is not None:
        message += "; store the secret now, it is not shown again and signs once the request is applied"
    return Response(Envelope(message=message, data=data), status_code=202)


def _who(request: AuthedRequest) -> dict[str, Any]:
    principal = request.user
    return {"kind": principal.kind, "id": str(principal.id), "name": principal.name}


class ChangeRequestController(AdminController):
    path = "/api/v1/change-requests"
    tags = ["governance"]

    @get("/", summary="Change requests, newest first, each with its diff (before, after)")
    async def list_requests(
        self,
        pool: PoolDep,
        page: PageDep,
        status: FromQuery[Status | None] = None,
        entity_type: FromQuery[str | None] = None,
    ) -> Envelope[Page[changes.ChangeRequest]]:
        fetch = partial(changes.list_requests, status=status, entity_type=entity_type)
        return ok(await fetch_page(pool, "change-requests", fetch, page, changes.request_of))

    @get("/{change_id:uuid}", summary="One change request")
    async def get_request(self, change_id: FromPath[UUID], pool: PoolDep) -> Envelope[changes.ChangeRequest]:
        return ok(await changes.get(pool, change_id))

    @post("/{change_id:uuid}/approve", status_code=200, summary="Approve: apply now, or at apply_at")
    async def approve(
        self,
        change_id: FromPath[UUID],
        request: AuthedRequest,
        pool: PoolDep,
        data: JSONBody[ApproveBody | None] = None,
    ) -> Envelope[changes.ChangeRequest]:
        apply_at = None if data is None else data.apply_at
        if apply_at is not None and apply_at.tzinfo is None:
            raise invalid("apply_at", "needs an offset (RFC 3339)")
        request_id = request.scope.get("state", {}).get(REQUEST_ID)
        decided = await changes.decide(
            pool, change_id, approver=_who(request), approve=True, apply_at=apply_at, request_id=request_id
        )
        if decided.status == "pending":
            given, needed = len(decided.approvals), decided.approvals_required
            return ok(decided, f"Approval {given} of {needed} recorded: it applies after {needed - given} more")
        if apply_at is not None and apply_at > utcnow():
            return ok(decided, f"Change request approved; it applies at {apply_at.isoformat()}")
        await fault_points.hit("change_request.approved")
        try:
            applied = await applying.apply(request.app, pool, change_id, request_id=request_id)
        except applying.ApplyDeferred as exc:
            message = f"Change request approved; applying it failed for a passing reason ({exc}): it is tried again"
            return ok(decided, message)
        except applying.ApplyFailed as exc:
            return ok(exc.request, f"Change request approved; applying it failed ({exc.reason}): it is failed")
        if applied is not None:
            return ok(applied, "Change request approved and applied")
        # Another process's loop took it between the approval and now: it says how that went.
        found = await changes.get(pool, change_id)
        return ok(found, f"Change request approved; it is {found.status}")

    @post(
        "/{change_id:uuid}/reject",
        status_code=200,
        summary="Reject a change request that has not applied (pending or approved)",
    )
    async def reject(
        self, change_id: FromPath[UUID], request: AuthedRequest, pool: PoolDep
    ) -> Envelope[changes.ChangeRequest]:
        request_id = request.scope.get("state", {}).get(REQUEST_ID)
        return ok(
            await changes.decide(
                pool, change_id, approver=_who(request), approve=False, apply_at=None, request_id=request_id
            ),
            "Change request rejected",
        )
