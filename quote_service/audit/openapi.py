"""The writes that may become change requests, in the OpenAPI document: each may answer 202 with
the change request it stored instead of writing (docs/governance.md), beside its own success.

Which writes: every POST, PUT, PATCH and DELETE of a controller whose writes go through the
`write` dependency (audit/admin.py `config_write`), found from the routes themselves, and the
routes that call `ask_approval` on their own, listed in ASKS_APPROVAL: a route that starts
asking for approval is added there.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar

from quote_service.audit.change_controller import ChangeRequestId
from quote_service.web.envelope import Envelope
from quote_service.web.openapi import operations

ASKS_APPROVAL = frozenset(
    {
        ("POST", "/api/v1/users"),
        ("PATCH", "/api/v1/users/{user_id}"),
        ("POST", "/api/v1/api-keys"),
        ("DELETE", "/api/v1/api-keys/{key_id}"),
        ("POST", "/api/v1/approval-policies"),
        ("DELETE", "/api/v1/approval-policies/{entity_type}"),
        ("POST", "/api/v1/audit/{entry_id}/revert"),
        # A seller's price move past SELLER_PRICE_CHANGE_APPROVAL_PERCENT (catalog/seller_moves.py).
        ("PATCH", "/api/v1/products/{product_id}"),
        ("PUT", "/api/v1/products/{product_id}/price"),
        # A payout run where approval applies (payouts/controller.py).
        ("POST", "/api/v1/payouts/run"),
    }
)
"""(method, path) of the routes that call `ask_approval` themselves (not through `write`)."""

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DESCRIPTION = (
    "A change request was stored instead of the write: another admin approves it (GET "
    "/api/v1/change-requests). `key` or `secret`, when the write makes one, is shown here once."
)


def document_change_requests(schema: dict[str, Any], app: Litestar) -> dict[str, Any]:
    """Add the 202 answer to every write of `schema` (completed by web/openapi.py) that may ask for approval."""
    (body,), components = msgspec.json.schema_components(
        [Envelope[ChangeRequestId]], ref_template="#/components/schemas/{name}"
    )
    schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
    accepted = {"description": _DESCRIPTION, "content": {"application/json": {"schema": body}}}
    schema["components"].setdefault("responses", {})["ChangeRequested"] = accepted
    for method, route, handler, operation in operations(schema, app):
        if method in _WRITES and (
            "write" in handler.parsed_fn_signature.parameters or (method, route.path_format) in ASKS_APPROVAL
        ):
            operation["responses"]["202"] = {"$ref": "#/components/responses/ChangeRequested"}
            operation["responses"] = dict(sorted(operation["responses"].items()))
    return schema
