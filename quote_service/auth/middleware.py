"""Authentication middleware: `Authorization: Bearer <jwt>` or `X-API-Key: <key>`."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from quote_service.auth.schemas import Principal
from quote_service.auth.service import AuthService
from quote_service.errors import Unauthorized

PUBLIC_PATHS = ["^/health", "^/docs", "^/openapi.json", "^/api/v1/auth/token$", "^/metrics$"]


async def authenticate(connection: ASGIConnection) -> tuple[Principal, str]:  # type: ignore[type-arg]
    """The caller's Principal and how it proved itself ("api_key" or "bearer"); raises Unauthorized."""
    auth: AuthService = connection.app.state.auth
    api_key = connection.headers.get("x-api-key")
    if api_key:
        return await auth.principal_from_api_key(api_key), "api_key"
    authorization = connection.headers.get("authorization")
    if not authorization:
        raise Unauthorized("Authentication required: send a bearer token or an X-API-Key")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    return await auth.principal_from_bearer(token.strip()), "bearer"


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets `request.user` to a Principal, or answers 401."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        principal, scheme = await authenticate(connection)
        return AuthenticationResult(user=principal, auth=scheme)
