"""HTTP: /auth/token, /users, /api-keys.

Wherever any approval applies, the writes that make or unmake an admin, or make a seller account
(accounts/governance.py), are change requests (docs/governance.md): the route stores them, and
applies them when another person approves, for their author.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from quote_service.accounts import governance
from quote_service.agents import keys as agent_keys
from quote_service.audit import changes
from quote_service.audit.admin import ask_approval
from quote_service.auth import credentials, repository
from quote_service.auth.guards import admin_only
from quote_service.auth.middleware import SESSION_COOKIE, presented_token
from quote_service.auth.schemas import (
    ApiKey,
    ApiKeyCreate,
    ApiKeyCreated,
    LoggedOut,
    Me,
    SessionsEnded,
    Token,
    TokenRequest,
    User,
    UserCreate,
    UserUpdate,
)
from quote_service.auth.service import AuthService, api_key_from_row
from quote_service.config import Settings
from quote_service.errors import Forbidden
from quote_service.pagination import DEFAULT_LIMIT, Limit, Page, PageQuery, fetch_page
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

    @post("/users", guards=[admin_only], summary="Create a user (admin; an admin or seller user may need approval)")
    async def create_user(
        self,
        data: JSONBody[UserCreate],
        auth: NamedDependency[AuthService],
        admin_pool: AdminPoolDep,
        request: AuthedRequest,
        settings: NamedDependency[Settings],
    ) -> Envelope[User]:
        replaying = changes.replaying(request)
        if replaying is not None:
            password_hash = replaying.sealed.get("password_hash")
            user = await auth.create_user(
                data, pool=admin_pool, created_by=replaying.author_person, password_hash=password_hash
            )
            return ok(user, "User created")
        if data.role in governance.ROLES_APPROVED and await governance.approval_applies(admin_pool, settings):
            # Only the hash is stored with the request; its body shows the password masked.
            sealed = {"password_hash": await auth.hash_new_password(data)}
            body = {**msgspec.to_builtins(data), "password": changes.MASKED}
            await ask_approval(request, admin_pool, "user", body, sealed=sealed)
        created_by = await auth.acting_for(request.user)
        return ok(await auth.create_user(data, pool=admin_pool, created_by=created_by), "User created")

    @patch(
        "/users/{user_id:uuid}",
        guards=[admin_only],
        summary="Change a user's role, tier, segment, group, seller_id or is_active (admin; making or unmaking an "
        "admin, or binding a seller, may need approval)",
    )
    async def update_user(
        self,
        user_id: FromPath[UUID],
        data: JSONBody[UserUpdate],
        auth: NamedDependency[AuthService],
        admin_pool: AdminPoolDep,
        request: AuthedRequest,
        settings: NamedDependency[Settings],
    ) -> Envelope[User]:
        replaying = changes.replaying(request)
        if replaying is None and governance.needs_another_person(current := await auth.get_user(user_id), data):
            if governance.moves_admin_power(current, data):
                await auth.leaves_admins(user_id, data)  # 409 LAST_ADMIN now, not once approved
            if await governance.approval_applies(admin_pool, settings):
                await ask_approval(request, admin_pool, "user", msgspec.to_builtins(data))
        after_commit = None if replaying is None else replaying.after_commit
        return ok(await auth.update_user(user_id, data, pool=admin_pool, after_commit=after_commit), "User updated")

    @post(
        "/users/{user_id:uuid}/sessions/revoke",
        status_code=200,
        guards=[admin_only],
        summary="End every session of a user: their tokens issued until now are refused, everywhere",
    )
    async def end_sessions(
        self, user_id: FromPath[UUID], auth: NamedDependency[AuthService], admin_pool: AdminPoolDep
    ) -> Envelope[SessionsEnded]:
        ended = await auth.end_sessions(user_id, pool=admin_pool)
        return ok(ended, "Every session of the user ended; their tokens issued until now are refused")

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
                seller_id=p.seller_id or msgspec.UNSET,
            )
        )

    @post(
        "/api-keys",
        guards=[admin_only],
        summary="Create an API key (shown once; an agent key's webhook secret too; an admin, seller or agent key "
        "may need approval)",
    )
    async def create_api_key(
        self,
        data: JSONBody[ApiKeyCreate],
        auth: NamedDependency[AuthService],
        admin_pool: AdminPoolDep,
        request: AuthedRequest,
        settings: NamedDependency[Settings],
    ) -> Envelope[ApiKeyCreated]:
        public_key, webhook_url = await agent_keys.agent_fields(data, allow_private=settings.webhook_allow_private)
        replaying = changes.replaying(request)
        sealed = None
        webhook = None if webhook_url is None else agent_keys.AgentWebhook.new(webhook_url)
        if replaying is not None:
            # Made when the request was asked for: its author holds the key (and the webhook
            # secret), the answer has none.
            created_by = replaying.author_person
            if "key_hash" in replaying.sealed:
                sealed = (bytes.fromhex(replaying.sealed["key_hash"]), replaying.sealed["prefix"])
            if webhook is not None and "webhook_secret" in replaying.sealed:
                webhook = agent_keys.AgentWebhook.new(webhook.url, replaying.sealed["webhook_secret"])
        else:
            created_by = await auth.acting_for(request.user)
            if data.role in governance.ROLES_APPROVED and await governance.approval_applies(admin_pool, settings):
                key, key_hash, prefix = credentials.new_api_key()
                hidden = {"key_hash": key_hash.hex(), "prefix": prefix}
                if webhook is not None:
                    hidden["webhook_secret"] = webhook.secret
                body = msgspec.to_builtins(data)
                secret = None if webhook is None else webhook.secret
                await ask_approval(request, admin_pool, "api_key", body, sealed=hidden, key=key, secret=secret)
        created = await auth.create_api_key(
            name=data.name,
            role=data.role,
            created_by=created_by,
            money_format=data.money_format,
            customer_group=data.customer_group,
            pool=admin_pool,
            sealed=sealed,
            seller_id=data.seller_id,
            public_key=public_key,
            webhook=webhook,
        )
        if sealed is not None:
            created = msgspec.structs.replace(created, webhook_secret=msgspec.UNSET)
            return ok(created, "API key created; the author of the change request holds it")
        return ok(created, "API key created; store it now, it is not shown again")

    @get("/api-keys", guards=[admin_only], summary="List API keys (admin)")
    async def list_api_keys(
        self, pool: PoolDep, limit: FromQuery[Limit] = DEFAULT_LIMIT, cursor: FromQuery[str | None] = None
    ) -> Envelope[Page[ApiKey]]:
        page = PageQuery(limit, cursor)
        return ok(await fetch_page(pool, "api-keys", repository.list_api_keys, page, api_key_from_row))

    @delete("/api-keys/{key_id:uuid}", status_code=200, guards=[admin_only], summary="Revoke an API key")
    async def revoke_api_key(
        self,
        key_id: FromPath[UUID],
        auth: NamedDependency[AuthService],
        pool: PoolDep,
        admin_pool: AdminPoolDep,
        request: AuthedRequest,
        settings: NamedDependency[Settings],
    ) -> Envelope[ApiKey]:
        if changes.replaying(request) is None and await governance.approval_applies(pool, settings):
            async with pool.acquire() as conn:
                key = await repository.get_api_key(conn, key_id=key_id)
                # Another person's admin key: taking it away is not one admin's to do alone.
                anothers = key is not None and key["role"] == "admin"
                anothers = anothers and not await changes.same_person(conn, str(key_id), str(request.user.id))
            if anothers:
                await ask_approval(request, admin_pool, "api_key", None)
        return ok(await auth.revoke_api_key(key_id, pool=admin_pool), "API key revoked")
