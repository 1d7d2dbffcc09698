"""The audit log's registration: its routes, change requests and the loop that applies the
approved ones when their apply_at comes (docs/governance.md), and the `admin_pool` dependency."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from quote_service.audit import changes
from quote_service.audit.admin import ADMIN_POOL
from quote_service.audit.change_controller import ChangeRequestController, handle_change_requested
from quote_service.audit.controller import AuditController
from quote_service.auth import credentials
from quote_service.background import Every
from quote_service.clock import utcnow
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    settings, app, pool = ctx.settings, ctx.app, ctx.pool

    def admin_token(user_id: uuid.UUID) -> str:
        return credentials.issue_token(settings, user_id=user_id, role="admin", tier=None, segment=None, now=utcnow())

    async def apply_due_changes() -> None:
        await changes.apply_due(app, pool, admin_token, utcnow())

    change_loop = Every("change-requests", settings.change_apply_interval, apply_due_changes)
    change_loop.start()
    ctx.on_stop("change requests", change_loop.stop)
    return {}


AUDIT = Domain(
    name="audit",
    routes=[AuditController, ChangeRequestController],
    dependencies={"admin_pool": ADMIN_POOL},
    exception_handlers={changes.ChangeRequested: handle_change_requested},
    start=start,
)
