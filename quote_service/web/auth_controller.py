"""HTTP: /auth/token, /users, /api-keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.auth import repository
from quote_service.auth.guards import admin_only
from quote_service.auth.middleware import SESSION_COOKIE, presented_token
from quote_service.auth.schemas import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    LoggedOut,
    Me,
    Token,
    TokenRequest,
    User,
    UserCreate,
)
from quote_service.auth.service import AuthService, api_key_from_row
from quote_service.errors import Forbidden
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, decode_cursor, page_of
from quote_service.web.deps import AdminPoolDep, AuthedRequest, PoolDep
from quote_service.web.envelope import Envelope, ok


class AuthController(Controller):
    path = "/api/v1"
    tags = ["auth"]

    @post("/auth/token", status_code=200, exclude_from_auth=True, summary="Exchange a password for a bearer token")
    async def token(
        self, data: JSONBody[TokenRequest], auth: NamedDependency[AuthService], request: Request[Any, Any, Any]
    ) -> Envelope[Token]:
        # The peer address of the connection: behind a proxy, every client shares the proxy's.
        address = request.client.host if request.client else "unknown"
        return ok(await auth.login(data.username, data.password, address=address), "Token issued")

    @post(
        "/auth/logout",
        status_code=200,
        summary="End this session: the token (or session cookie) is refused from now on, everywhere",
    )
    async def logout(self, auth: NamedDependency[AuthService], request: AuthedRequest) -> Response[Envelope[LoggedOut]]:
        token = presented_token(request, str(request.auth))
        if token is None:
            raise Forbidden("An API key has no session to end; an admin revokes keys with DELETE /api/v1/api-keys/{id}")
        claims = await auth.logout(token)
        # A browser's session cookie goes too (the pages' logout form does the same).
        gone = Cookie(key=SESSION_COOKIE, value="", path="/", max_age=0, httponly=True, samesite="strict")
        body = ok(LoggedOut(token_expires_at=claims.expires_at), "Logged out; this token is refused from now on")
        return Response(body, cookies=[gone] if request.auth == "cookie" else [])

    @post("/users", guards=[admin_only], summary="Create a user (admin)")
    async def create_user(
        self, data: JSONBody[UserCreate], auth: NamedDependency[AuthService], admin_pool: AdminPoolDep
    ) -> Envelope[User]:
        return ok(await auth.create_user(data, pool=admin_pool), "User created")

    @get("/users/me", summary="The authenticated caller")
    async def me(self, request: AuthedRequest) -> Envelope[Me]:
        p = request.user
        return ok(
            Me(
                id=p.id,
                name=p.name,
                kind=p.kind,
                role=p.role,
                tier=p.tier,
                segment=p.segment,
                customer_group=p.customer_group,
            )
        )

    @post("/api-keys", guards=[admin_only], summary="Create an API key (shown once)")
    async def create_api_key(
        self,
        data: JSONBody[ApiKeyCreate],
        auth: NamedDependency[AuthService],
        admin_pool: AdminPoolDep,
        request: AuthedRequest,
    ) -> Envelope[ApiKeyCreated]:
        created_by = request.user.id if request.user.kind == "user" else None
        created = await auth.create_api_key(
            name=data.name,
            role=data.role,
            created_by=created_by,
            money_format=data.money_format,
            customer_group=data.customer_group,
            pool=admin_pool,
        )
        return ok(created, "API key created; store it now, it is not shown again")

    @get("/api-keys", guards=[admin_only], summary="List API keys (admin)")
    async def list_api_keys(
        self, pool: PoolDep, limit: FromQuery[Limit] = DEFAULT_LIMIT, cursor: FromQuery[str | None] = None
    ) -> Envelope[Page[ApiKey]]:
        after = decode_cursor(cursor, tuple[datetime, UUID], "api-keys")
        async with pool.acquire() as conn:
            rows = await repository.list_api_keys(conn, after=after, limit=limit)
        return ok(
            page_of(rows, "api-keys", limit=limit, key=lambda r: (r["created_at"], r["id"]), item=api_key_from_row)
        )

    @delete("/api-keys/{key_id:uuid}", status_code=200, guards=[admin_only], summary="Revoke an API key")
    async def revoke_api_key(
        self, key_id: FromPath[UUID], auth: NamedDependency[AuthService], admin_pool: AdminPoolDep
    ) -> Envelope[ApiKey]:
        return ok(await auth.revoke_api_key(key_id, pool=admin_pool), "API key revoked")
