"""The audit log's registration: its routes, change requests and the loop that applies the
approved ones still to apply (their apply_at has come, their approving process died, or a
passing failure stopped them: docs/governance.md), and the `admin_pool` dependency."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.audit import applying, changes
from quote_service.audit.admin import ADMIN_POOL
from quote_service.audit.change_controller import ChangeRequestController, handle_change_requested
from quote_service.audit.controller import AuditController
from quote_service.audit.policies import ApprovalPolicyController
from quote_service.audit.revert import RevertController
from quote_service.background import Every
from quote_service.clock import utcnow
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    settings, app, pool = ctx.settings, ctx.app, ctx.pool

    async def apply_due_changes() -> None:
        await applying.apply_due(app, pool, utcnow())

    change_loop = Every("change-requests", settings.change_apply_interval, apply_due_changes)
    ctx.run("change requests", change_loop)
    return {}


AUDIT = Domain(
    name="audit",
    routes=[AuditController, RevertController, ChangeRequestController, ApprovalPolicyController],
    dependencies={"admin_pool": ADMIN_POOL},
    exception_handlers={changes.ChangeRequested: handle_change_requested},
    start=start,
)
