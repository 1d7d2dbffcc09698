"""Role guards for route handlers and controllers."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard

from quote_service.auth.schemas import Principal
from quote_service.errors import Forbidden
from quote_service.resource import Resource


def requires_role(*roles: str) -> Guard:
    """A guard that admits only principals holding one of `roles`."""
    allowed = frozenset(roles)

    # async on purpose: Litestar runs a sync guard in a worker thread, a thread hop per request.
    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        require_role(connection.user, allowed)

    return guard


def require_role(principal: Principal, allowed: frozenset[str]) -> None:
    """`Forbidden` unless `principal` holds one of `allowed` (what a guard checks; a hot route that checks
    it itself spares Litestar's copy of the route handler for each guard call, ~80 calls a request)."""
    if principal.role not in allowed:
        raise Forbidden(f"This action needs the {' or '.join(sorted(allowed))} role")


admin_only = requires_role("admin")
any_caller = requires_role("admin", "user", "service", "agent")
"""Quotes, orders, reservations and purchases: everyone but a seller (an agent key as a service key)."""


class AdminController(Resource):
    """A controller whose every route is the admin's (`admin_only`); a route may narrow it further."""

    guards = [admin_only]
