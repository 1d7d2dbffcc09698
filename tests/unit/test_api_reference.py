"""docs/api.md lists every endpoint: its "Every endpoint" table is the app's `/api/v1` routes, each
method and path once, with the roles the route admits (its role guards, and for sellers the routes
auth/sellers.py opens to them). A route added without its row, or a row left after its route went,
fails here with the row to add or remove."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from quote_service.app import create_app
from quote_service.auth.middleware import PUBLIC_PATHS
from quote_service.auth.sellers import seller_may_use
from quote_service.config import Settings

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
SECTION = "## Every endpoint"
ROLES = ("admin", "user", "service", "seller")
_ROW = re.compile(r"^\| `([A-Z]+)` \| `([^`]+)` \| ([^|]+) \|")

Route = tuple[str, str]
"""(method, path template as the app and /openapi.json write it: `/api/v1/products/{product_id}`)."""


def documented() -> list[tuple[Route, str]]:
    """The table's rows, in order: ((method, path), who)."""
    text = API_MD.read_text()
    assert SECTION in text, f"docs/api.md has no {SECTION!r} section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return [
        ((found[1], found[2]), found[3].strip())
        for line in section.splitlines()
        if (found := _ROW.match(line)) is not None
    ]


def _who(route: HTTPRoute, method: str, handler: HTTPRouteHandler) -> str:
    """The roles that may call it, as the table writes them."""
    if handler.opt.get("exclude_from_auth") or any(re.match(p, route.path) for p in PUBLIC_PATHS):
        return "anyone"
    admitted = set(ROLES)
    for guard in handler.resolve_guards():
        allowed = inspect.getclosurevars(guard).nonlocals.get("allowed")
        assert allowed is not None, f"{method} {route.path_format}: a guard that is not auth/guards.py's requires_role"
        admitted &= allowed
    if not seller_may_use(method, route.path_format):
        admitted.discard("seller")
    return ", ".join(role for role in ROLES if role in admitted)


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_app(Settings())


@pytest.fixture(scope="module")
def served(app: Litestar) -> dict[Route, str]:
    """Every /api/v1 route of the app (HEAD and OPTIONS aside) → the roles it admits."""
    return {
        (method, route.path_format): _who(route, method, handler)
        for route in app.routes
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/v1/")
        for method, (handler, _) in route.route_handler_map.items()
        if method not in ("HEAD", "OPTIONS")
    }


def _row(route: Route, who: str) -> str:
    return f"| `{route[0]}` | `{route[1]}` | {who} | ... |"


def test_the_table_names_every_route_once_and_no_other(served: dict[Route, str]) -> None:
    rows = [route for route, _ in documented()]
    missing = [_row(route, served[route]) for route in sorted(set(served) - set(rows))]
    unknown = [f"{method} {path}" for method, path in sorted(set(rows) - set(served))]
    twice = sorted({f"{method} {path}" for method, path in rows if rows.count((method, path)) > 1})

    assert missing == [], "docs/api.md's endpoint table lacks these route-methods; add:\n" + "\n".join(missing)
    assert unknown == [], f"docs/api.md's endpoint table names route-methods the app does not serve: {unknown}"
    assert twice == [], f"docs/api.md's endpoint table names these twice: {twice}"


def test_each_row_names_the_roles_its_route_admits(served: dict[Route, str]) -> None:
    wrong = [
        f"{method} {path}: the table says {who!r}, the route admits {served[(method, path)]!r}"
        for (method, path), who in documented()
        if (method, path) in served and who != served[(method, path)]
    ]

    assert wrong == []
