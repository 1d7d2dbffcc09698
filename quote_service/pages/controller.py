"""The pages' routes: the landing page /, /dashboard, /dashboard/books, /dashboard/governance, /store,
/seller, the login form's POST, logout, the favicon, and their assets.

A page is excluded from the API's auth middleware and checks the session cookie itself: no
cookie (or an expired or logged-out one) → the login form. Logging out ends the session on the
server as well (auth/revocations.py), so a copy of the cookie is refused from then on. The form
posts username, password and the CSRF token (double-submit: the form field must equal the
`qs_csrf` cookie); a good login sets the session cookie (httpOnly, SameSite=Strict, the bearer
token inside) and redirects (303) to the page. The pages' JavaScript then calls the JSON API
with that cookie plus `X-CSRF-Token`.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from litestar import Request, Response, get, post
from litestar.datastructures import CacheControlHeader, Cookie
from litestar.di import NamedDependency
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler

from quote_service.auth.middleware import CSRF_COOKIE, SESSION_COOKIE, csrf_matches
from quote_service.auth.schemas import Principal
from quote_service.auth.service import AuthService
from quote_service.catalog import repository as catalog_repository
from quote_service.config import Settings
from quote_service.errors import ServiceError, Unauthorized
from quote_service.pages.books import dashboard_books
from quote_service.price_lists import repository as price_lists_repository
from quote_service.web.deps import ReadPoolDep

HERE = Path(__file__).parent
STATIC_PATH = "/pages/static"
ASSET_MAX_AGE = 3600
STORE_CHANNEL = "web"
"""The sales channel the store prices its cards and quotes its baskets for: it is the web shop."""
# No inline script or style anywhere: everything comes from /pages/static. The rest of the page
# headers (X-Frame-Options, Referrer-Policy, nosniff, no-store) come from web/headers.py; this
# policy replaces its HTML_PAGE_POLICY only to let the login form post to this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}
PageName = Literal["dashboard", "books", "governance", "store", "seller"]
TITLES: dict[str, str] = {
    "dashboard": "Pricing dashboard",
    "books": "Refunds, statements and offers",
    "governance": "Audit trail and change requests",
    "store": "Store",
    "seller": "Your shop",
}
PATHS: dict[str, str] = {
    "dashboard": "/dashboard",
    "books": "/dashboard/books",
    "governance": "/dashboard/governance",
    "store": "/store",
    "seller": "/seller",
}
ADMINS, SHOPPERS = frozenset({"admin"}), frozenset({"user", "admin"})
ROLES: dict[str, frozenset[str]] = {
    "dashboard": ADMINS,
    "books": ADMINS,
    "governance": ADMINS,
    "store": SHOPPERS,
    "seller": frozenset({"seller"}),
}
ROLE_NAMES: dict[str, str] = {"user": "a shopper", "admin": "an administrator", "seller": "a seller"}
"""How a 403 page names the accounts a page is for (in this order)."""
HOMES: dict[str, str] = {"admin": "dashboard", "user": "store", "seller": "seller"}
"""The page each role can use: where a 403 page sends its visitor instead."""
FAVICON = (HERE / "static" / "favicon.svg").read_bytes()

template_config = TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine)
static_router = create_static_files_router(
    path=STATIC_PATH,
    directories=[HERE / "static"],
    cache_control=CacheControlHeader(max_age=ASSET_MAX_AGE, public=True),
    include_in_schema=False,
)


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The posted form's fields (a form, not a JSON body: the API's JSON rules do not apply)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


def _csrf_cookie(request: Request[Any, Any, Any], value: str) -> Cookie:
    # Readable by the pages' JavaScript on purpose (it echoes it in X-CSRF-Token); SameSite=Strict.
    return Cookie(key=CSRF_COOKIE, value=value, path="/", httponly=False, samesite="strict", secure=_secure(request))


async def _principal(request: Request[Any, Any, Any]) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    auth: AuthService = request.app.state.auth
    try:
        return await auth.principal_from_bearer(token)
    except ServiceError:
        return None


def _login(
    request: Request[Any, Any, Any], page: str, *, error: str | None = None, status: int = 200, username: str = ""
) -> Template:
    # A refused login keeps the username typed (only the password is asked again).
    csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    return Template(
        template_name="login.html",
        context={"page": page, "title": TITLES[page], "csrf": csrf, "error": error, "username": username},
        status_code=status,
        headers=PAGE_HEADERS,
        cookies=[_csrf_cookie(request, csrf)],
    )


PageContext = Callable[[Principal], Awaitable[dict[str, Any]]]
"""What a page adds to its template's context for its visitor, read only once they may see the page."""


async def _page(request: Request[Any, Any, Any], page: str, extra: PageContext | None = None) -> Template:
    principal = await _principal(request)
    if principal is None:
        return _login(request, page)
    if principal.role not in ROLES[page]:
        return _forbidden(request, page, principal)
    return Template(
        template_name=f"{page}.html",
        context={
            "page": page,
            "title": TITLES[page],
            "who": principal.name,
            "role": principal.role,
            "csrf": request.cookies.get(CSRF_COOKIE, ""),
            **(await extra(principal) if extra else {}),
        },
        headers=PAGE_HEADERS,
    )


def _forbidden(request: Request[Any, Any, Any], page: str, principal: Principal) -> Template:
    """403: which accounts `page` is for, and a link to the page this visitor's role can use."""
    home = HOMES.get(principal.role)
    return Template(
        template_name="forbidden.html",
        context={
            "page": page,
            "title": TITLES[page],
            "who": principal.name,
            "role": principal.role,
            "needs": " or ".join(name for role, name in ROLE_NAMES.items() if role in ROLES[page]),
            "is": ROLE_NAMES.get(principal.role, principal.role),
            "home": None if home is None else {"path": PATHS[home], "title": TITLES[home]},
            "csrf": request.cookies.get(CSRF_COOKIE),
        },
        status_code=403,
        headers=PAGE_HEADERS,
    )


@get("/dashboard", exclude_from_auth=True, include_in_schema=False)
async def dashboard_page(request: Request[Any, Any, Any]) -> Template:
    return await _page(request, "dashboard")


@get("/dashboard/books", exclude_from_auth=True, include_in_schema=False)
async def books_page(request: Request[Any, Any, Any]) -> Template:
    return await _page(request, "books")


@get("/dashboard/governance", exclude_from_auth=True, include_in_schema=False)
async def governance_page(request: Request[Any, Any, Any]) -> Template:
    """An entity's audit trail (revert), the pending change requests (approve, reject), approval
    policies, stale flags and webhook subscriptions: docs/pages.md."""
    return await _page(request, "governance")


@get("/store", exclude_from_auth=True, include_in_schema=False)
async def store_page(
    request: Request[Any, Any, Any], read_pool: ReadPoolDep, settings: NamedDependency[Settings]
) -> Template:
    async def store_context(shopper: Principal) -> dict[str, Any]:
        # Rendered with the page: the category filter lists every category, not only those on
        # the first page of products; the orders list hides Cancel once this window has passed;
        # "Prices in" offers the catalog's currency and those of the lists open to this shopper.
        async with read_pool.acquire() as conn:
            categories = await catalog_repository.list_categories(conn)
            listed = await price_lists_repository.currencies_open_to(
                conn, channel=STORE_CHANNEL, group=shopper.customer_group
            )
        return {
            "categories": categories,
            "cancel_window_minutes": settings.cancel_window_minutes,
            "edit_window_minutes": settings.order_edit_window_minutes,
            "channel": STORE_CHANNEL,
            "currencies": sorted({settings.default_currency.upper(), *listed}),
        }

    return await _page(request, "store", store_context)


@get("/seller", exclude_from_auth=True, include_in_schema=False)
async def seller_page(request: Request[Any, Any, Any], settings: NamedDependency[Settings]) -> Template:
    """A seller's own products (price and stock editing), promotions and statement: docs/sellers.md."""

    async def seller_context(seller: Principal) -> dict[str, Any]:
        return {
            "seller_id": seller.seller_id,
            "approval_percent": f"{settings.seller_price_change_approval_percent.normalize():f}",
        }

    return await _page(request, "seller", seller_context)


@get("/", exclude_from_auth=True, include_in_schema=False)
async def landing_page() -> Template:
    """The door: what the service is and links to the dashboard, the store and the API docs."""
    return Template(template_name="landing.html", context={"page": "landing", "title": "Welcome"}, headers=PAGE_HEADERS)


@get("/favicon.ico", exclude_from_auth=True, include_in_schema=False)
async def favicon() -> Response[bytes]:
    """The SVG icon, also where browsers look for one on pages that name none (the API docs)."""
    return Response(
        FAVICON,
        media_type="image/svg+xml",
        headers={"Cache-Control": f"public, max-age={ASSET_MAX_AGE}"},
    )


async def _posted(request: Request[Any, Any, Any]) -> tuple[dict[str, str], str]:
    """A page form's fields and the page it came from (the store when it names none we serve)."""
    data = await _form(request)
    page = data.get("page", "store")
    return data, page if page in TITLES else "store"


@post("/pages/login", exclude_from_auth=True, include_in_schema=False, status_code=303)
async def login(
    request: Request[Any, Any, Any],
) -> Response[Any]:
    data, page = await _posted(request)
    if not csrf_matches(request, data.get("csrf")):
        return _login(request, page, error="Your form expired; please log in again.", status=403)
    auth: AuthService = request.app.state.auth
    address = request.client.host if request.client else "unknown"
    try:
        token = await auth.login(data.get("username", ""), data.get("password", ""), address=address)
    except ServiceError as exc:
        return _login(request, page, error=exc.message, status=exc.status_code, username=data.get("username", ""))
    session = Cookie(
        key=SESSION_COOKIE,
        value=token.access_token,
        path="/",
        max_age=token.expires_in,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    # A fresh CSRF token per session (a token planted before login is not carried over).
    csrf = _csrf_cookie(request, secrets.token_urlsafe(32))
    return Redirect(PATHS[page], status_code=303, cookies=[session, csrf], headers=PAGE_HEADERS)


@post("/pages/logout", exclude_from_auth=True, include_in_schema=False, status_code=303)
async def logout(
    request: Request[Any, Any, Any],
) -> Response[Any]:
    data, page = await _posted(request)
    if not csrf_matches(request, data.get("csrf")):
        return _login(request, page, error="Your form expired; please try again.", status=403)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        auth: AuthService = request.app.state.auth
        # Ended on the server too: a copy of the cookie is refused from now on. An invalid or
        # expired cookie has no session left to end.
        with contextlib.suppress(Unauthorized):
            await auth.logout(token)
    gone = Cookie(key=SESSION_COOKIE, value="", path="/", max_age=0, httponly=True, samesite="strict")
    return Redirect(PATHS[page], status_code=303, cookies=[gone], headers=PAGE_HEADERS)


ROUTES: list[ControllerRouterHandler] = [
    landing_page,
    favicon,
    dashboard_page,
    books_page,
    governance_page,
    store_page,
    seller_page,
    login,
    logout,
    dashboard_books,
    static_router,
]
