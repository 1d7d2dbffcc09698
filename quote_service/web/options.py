"""OPTIONS on any route: 204 with the route's `Allow` header, for any caller.

Litestar answers OPTIONS with a handler that belongs to the route's controller, so the
controller's role guards run on it — but authentication skips OPTIONS, and a guard reading a
user that was never set is a 500. CORS is not configured (no preflight to answer), so OPTIONS
needs nothing but the methods: answered here, before authentication, guards and handlers.
Unknown paths fall through to the 404 envelope.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, HTTPResponseStartEvent, Receive, Scope, Send
from litestar.utils import normalize_path


class OptionsResponder:
    """ASGI wrapper: answers OPTIONS from the routing table alone."""

    def __init__(self, app: ASGIApp, litestar: Litestar) -> None:
        self.app = app
        self.litestar = litestar

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return
        allow = self.allowed_methods(scope["path"])
        if allow is None:
            await self.app(scope, receive, send)
            return
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 204,
            "headers": [(b"allow", allow.encode())],
        }
        await send(start)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def allowed_methods(self, path: str) -> str | None:
        """`GET, OPTIONS, POST` for the route serving `path`, or None when no route does."""
        try:
            *_, template = self.litestar.asgi_router.handle_routing(path=normalize_path(path), method="OPTIONS")
        except HTTPException:
            return None
        for route in self.litestar.routes:
            if isinstance(route, HTTPRoute) and route.path_format == template:
                return ", ".join(sorted(route.methods))
        return None
