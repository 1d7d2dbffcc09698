"""Authentication middleware: `Authorization: Bearer <jwt>`, `X-API-Key: <key>` (or the key as
`Authorization: Bearer qsk_...`), or the pages' session cookie — the cookie counts ONLY together
with a matching `X-CSRF-Token` header."""

from __future__ import annotations

import asyncio
import hmac

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from quote_service.auth import sellers
from quote_service.auth.credentials import API_KEY_PREFIX
from quote_service.auth.schemas import Principal
from quote_service.auth.service import AuthService
from quote_service.errors import QuoteTimeout, Unauthorized
from quote_service.event_loop import running_loop

# The quote's deadline (QUOTE_TIMEOUT) starts here, before authentication, and the quote
# service continues it: scope["state"][QUOTE_DEADLINE] is its event-loop time.
QUOTE_PATH = "/api/v1/quote"
QUOTE_DEADLINE = "quote_deadline"
PUBLIC_PATHS = [
    "^/health",
    "^/docs",
    "^/openapi.json",
    "^/api/v1/auth/token$",
    "^/metrics$",
    # The pages authenticate themselves (a login form when the session cookie is missing).
    "^/dashboard$",
    "^/store$",
    "^/seller$",
    "^/pages/",
]
# The browser pages' session: an httpOnly, SameSite=Strict cookie holding the bearer token, and a
# readable double-submit CSRF cookie whose value the pages' JavaScript echoes in X-CSRF-Token.
ACTING_AS = "acting_as"
"""The key in `scope["state"]` of a request the service replays itself (an approved change
request, audit/applying.py): the Principal it runs as. Only code in this process builds such a
scope; nothing a client sends can set it."""
SESSION_COOKIE = "qs_session"
CSRF_COOKIE = "qs_csrf"
CSRF_HEADER = "x-csrf-token"


def csrf_matches(connection: ASGIConnection, sent: str | None) -> bool:  # type: ignore[type-arg]
    """True when `sent` (a header or form field) equals the CSRF cookie (constant-time)."""
    expected = connection.cookies.get(CSRF_COOKIE)
    return bool(expected and sent) and hmac.compare_digest(str(expected), str(sent))


async def authenticate(connection: ASGIConnection) -> tuple[Principal, str]:  # type: ignore[type-arg]
    """The caller's Principal and how it proved itself ("api_key", "bearer" or "cookie"); raises Unauthorized."""
    auth: AuthService = connection.app.state.auth
    api_key = connection.headers.get("x-api-key")
    authorization = connection.headers.get("authorization")
    if api_key is not None and authorization is not None:
        return await _both(auth, api_key, authorization)
    if api_key:
        return await auth.principal_from_api_key(api_key), "api_key"
    if not authorization:
        session = connection.cookies.get(SESSION_COOKIE)
        if session and csrf_matches(connection, connection.headers.get(CSRF_HEADER)):
            return await auth.principal_from_bearer(session), "cookie"
        raise Unauthorized("Authentication required: send a bearer token or an X-API-Key")
    return await _from_authorization(auth, authorization)


async def _from_authorization(auth: AuthService, authorization: str) -> tuple[Principal, str]:
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    if token.startswith(API_KEY_PREFIX):  # an API key as a bearer token, as OpenFeature providers send it
        return await auth.principal_from_api_key(token), "api_key"
    return await auth.principal_from_bearer(token), "bearer"


async def _both(auth: AuthService, api_key: str, authorization: str) -> tuple[Principal, str]:
    """X-API-Key and Authorization together: both valid and naming the same caller, else 401. Letting
    one win would act on a credential the client may not mean (a stale key beside a user's token)."""
    ambiguous = "Ambiguous credentials: X-API-Key and Authorization were both sent"
    try:
        by_key = await auth.principal_from_api_key(api_key)
        by_header, scheme = await _from_authorization(auth, authorization)
    except Unauthorized as exc:
        raise Unauthorized(f"{ambiguous} and one of them is not valid ({exc}): send one") from exc
    if (by_key.kind, by_key.id) != (by_header.kind, by_header.id):
        raise Unauthorized(f"{ambiguous} and they name different callers: send one")
    return by_key, scheme


def presented_token(connection: ASGIConnection, scheme: str) -> str | None:  # type: ignore[type-arg]
    """The bearer token an authenticated request proved itself with (`scheme` as `authenticate`
    returned it): the Authorization header's, or the session cookie's; None for an API key."""
    if scheme == "bearer":
        return connection.headers.get("authorization", "").partition(" ")[2].strip() or None
    if scheme == "cookie":
        return connection.cookies.get(SESSION_COOKIE) or None
    return None


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets `request.user` to a Principal, or answers 401."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        if connection.scope["path"] == QUOTE_PATH:
            return await _within_quote_deadline(connection)
        acting: Principal | None = connection.scope.get("state", {}).get(ACTING_AS)
        if acting is not None:
            return AuthenticationResult(user=acting, auth="replay")
        principal, scheme = await authenticate(connection)
        if principal.role == "seller":  # tested inline: a quote's budget counts every call (docs/hot-path.md)
            sellers.check_route(principal, str(connection.scope.get("method", "GET")), connection.scope["path"])
        return AuthenticationResult(user=principal, auth=scheme)


async def _within_quote_deadline(connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
    """Authenticate a quote inside its deadline (a principal not cached yet reads PostgreSQL)."""
    seconds: float = connection.app.state.quotes.timeout
    deadline = running_loop().time() + seconds
    connection.scope.setdefault("state", {})[QUOTE_DEADLINE] = deadline
    try:
        async with asyncio.timeout_at(deadline) as bound:
            principal, scheme = await authenticate(connection)
    except TimeoutError as exc:
        if bound.expired():
            raise QuoteTimeout(f"The quote took longer than its {seconds:g} s deadline") from exc
        raise
    if principal.role == "seller":
        sellers.check_route(principal, str(connection.scope.get("method", "GET")), connection.scope["path"])
    return AuthenticationResult(user=principal, auth=scheme)
