"""auth/guards.py: every route of an AdminController is guarded by admin_only (the class carries the
guard, so a controller cannot forget it)."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from quote_service.app import create_app
from quote_service.auth.guards import AdminController, admin_only
from quote_service.config import Settings


def test_every_route_of_an_admin_controller_is_the_admins() -> None:
    app = create_app(Settings())
    admin_classes = {f"{kind.__name__}." for kind in AdminController.__subclasses__()}
    guarded = [
        handler
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if isinstance(handler, HTTPRouteHandler) and handler.fn.__qualname__.startswith(tuple(admin_classes))
    ]
    assert len(admin_classes) >= 17
    assert len(guarded) > 50
    assert all(admin_only in handler.resolve_guards() for handler in guarded)
