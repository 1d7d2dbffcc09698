"""HTTP: GET /api/v1/audit (admin), the audit log newest first (docs/governance.md).

Read only: no route changes or deletes an audit row, and the table refuses UPDATE and DELETE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from quote_service.audit.repository import list_audit
from quote_service.auth.guards import AdminController
from quote_service.config import Settings
from quote_service.db.rows import row_as
from quote_service.pagination import Page, decode_cursor, page_of
from quote_service.periods import instant_bounds
from quote_service.pricing.local_time import zone
from quote_service.web.deps import AuthedRequest, PageDep, ReadPoolDep, refuse_unknown
from quote_service.web.envelope import Envelope, ok

FILTERS = frozenset({"entity_type", "entity_id", "actor_id", "action", "from", "to", "limit", "cursor"})


class AuditEntry(msgspec.Struct, kw_only=True):
    id: int
    at: datetime
    actor: dict[str, Any]
    action: str
    entity_type: str
    entity_id: str | None
    before: Any
    after: Any
    request_id: str | None


def entry_of(row: Any) -> AuditEntry:
    return row_as(AuditEntry, row)


class AuditController(AdminController):
    path = "/api/v1/audit"
    tags = ["governance"]

    @get("/", summary="The audit log, newest first (keyset-paginated)")
    async def list_entries(
        self,
        request: AuthedRequest,
        read_pool: ReadPoolDep,
        settings: NamedDependency[Settings],
        page: PageDep,
        entity_type: FromQuery[str | None] = None,
        entity_id: FromQuery[str | None] = None,
        actor_id: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        to: FromQuery[str | None] = None,
    ) -> Envelope[Page[AuditEntry]]:
        refuse_unknown(request, FILTERS)
        after = decode_cursor(page.cursor, int, "audit")
        # Read as every list's `from`/`to` (a local date of BUSINESS_TIMEZONE or an RFC 3339 instant),
        # never as a number of seconds: `to=1` is a 422, not 1970.
        since, until = instant_bounds(request.query_params.get("from"), to, zone(settings.business_timezone))
        async with read_pool.acquire() as conn:
            rows = await list_audit(
                conn,
                entity_type=entity_type,
                entity_id=entity_id,
                actor_id=actor_id,
                action=action,
                since=since,
                until=until,
                before_id=after,
                limit=page.limit,
            )
        return ok(page_of(rows, "audit", limit=page.limit, key=lambda r: r["id"], item=entry_of))
