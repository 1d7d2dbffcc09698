"""What the admin routes that change pricing configuration share: a `write` dependency.

Every such route does the same three things around its own service call: it reads the pool and
who is writing, and once the change has committed it announces the new configuration version
(`ConfigStore.changed`: this process reloads its snapshot before answering, the others hear it
on the Redis channel) and wraps the result in the success envelope. A controller declares
`dependencies = {"write": config_write(DOMAIN)}` and a route reads

    async def create(self, data: JSONBody[XCreate], write: ConfigWriteDep) -> Envelope[X]:
        return await write.made(service.create_x, data, message="X created")

(`write.made(f, *args, message=...)`: `f(write.pool, *args, actor=write.actor)`, then `write.saved`.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, TypeVar

import msgspec
from litestar.di import NamedDependency, Provide

from quote_service.audit import changes
from quote_service.audit.writer import audited
from quote_service.auth import repository as people
from quote_service.auth.schemas import Principal
from quote_service.cache.config_store import ConfigStore
from quote_service.config import Settings
from quote_service.db.pool import Pool
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.web.deps import AuthedRequest, ConfigStoreDep, PoolDep, actor_of
from quote_service.web.envelope import Envelope, ok
from quote_service.web.middleware import REQUEST_ID

T = TypeVar("T")


class ConfigWrite:
    """One admin write of one configuration domain."""

    __slots__ = ("_applying", "_domain", "_store", "actor", "pool", "sealed")

    def __init__(
        self,
        pool: Pool,
        store: ConfigStore[ConfigSnapshot],
        domain: str,
        actor: str,
        applying: changes.Applying | None = None,
    ) -> None:
        self.pool = pool
        self.actor = actor
        self.sealed: dict[str, Any] = {} if applying is None else applying.sealed
        """What the change request this write applies sealed when it was asked for (a secret made then)."""
        """How the writer is recorded in `created_by` / `updated_by`."""
        self._store = store
        self._domain = domain
        self._applying = applying

    async def saved(self, result: T, message: str, *, changed: bool = True) -> Envelope[T]:
        """The answer to a committed write; announced first unless nothing `changed` (a change
        request's write is announced once the request's transaction commits)."""
        if changed and self._applying is not None:
            self._applying.after_commit.append(lambda: self._store.changed(self._domain))
        elif changed:
            await self._store.changed(self._domain)
        return ok(result, message)

    async def made(self, write: Callable[..., Awaitable[T]], *args: Any, message: str) -> Envelope[T]:
        """`write(pool, *args, actor=...)` made on this write's pool as its writer, then `saved`."""
        return await self.saved(await write(self.pool, *args, actor=self.actor), message)


def config_write(domain: str, *, secret: Callable[[], str] | None = None) -> Provide:
    """The `write` dependency of a controller whose writes change `domain`. `secret`: makes the signing
    secret of a row a POST creates (an extension's): a POST that becomes a change request makes it now,
    seals it in the request and shows it in the 202 once; its replay reads it back (`ConfigWrite.sealed`)."""

    async def provide(
        pool: PoolDep, config_store: ConfigStoreDep, request: AuthedRequest, settings: NamedDependency[Settings]
    ) -> ConfigWrite:
        replaying = changes.replaying(request)
        entity_type = changes.ENTITY_TYPES[domain]
        required = settings.change_approval == "required"
        if (
            replaying is None
            and not sellers_own(request.user)
            and await changes.approval_needed(pool, entity_type, required=required)
        ):
            # Four-eyes: the write is stored, not made; another admin approves it (docs/governance.md).
            # A DELETE takes no body (its replay sends none): one sent is not read, as without approval.
            body = await request.body() if request.method != "DELETE" else b""
            # A seller's request is applied as that seller, so its own-products scope holds then too.
            sealed = changes.AS_AUTHOR if request.user.role == "seller" else None
            made = secret() if secret is not None and request.method == "POST" else None
            if made is not None:
                sealed = {**(sealed or {}), "secret": made}
            await ask_approval(
                request, pool, entity_type, msgspec.json.decode(body) if body else None, sealed=sealed, secret=made
            )
        # Every write through `write.pool` appends its audit rows in its own transaction (docs/governance.md).
        return ConfigWrite(await _admin_pool(pool, request), config_store, domain, actor_of(request), replaying)

    return Provide(provide)


async def ask_approval(
    request: AuthedRequest,
    pool: Pool,
    entity_type: str,
    body: Any,
    *,
    sealed: dict[str, Any] | None = None,
    key: str | None = None,
    secret: str | None = None,
    as_write: tuple[str, str] | None = None,
    entity_id: str | None = None,
    action: str | None = None,
) -> None:
    """Store this write as a change request instead of making it: raises ChangeRequested (202).
    `body` is what the replay sends (a password masked, its hash `sealed`); `key`, the plaintext
    of an API key it makes, is shown to the author in the 202 and never stored; `secret`, an extension's
    signing secret, is shown there too (and kept sealed: the extension signs with it). `as_write`: the
    (method, path) the replay sends instead of the request's own (a seller's price move is
    approved as the product's PATCH, docs/sellers.md)."""
    method, path = as_write or (request.method, request.url.path)
    raise changes.ChangeRequested(
        await changes.create(
            pool,
            author=await who(request, pool),
            entity_type=entity_type,
            method=method,
            path=path,
            query="" if as_write else request.url.query or "",
            path_params=dict(request.path_params),
            body=body,
            request_id=request.scope.get("state", {}).get(REQUEST_ID),
            sealed=sealed,
            entity_id=entity_id,
            action=action,
        ),
        key=key,
        secret=secret,
    )


def sellers_own(principal: Principal) -> bool:
    """Whether `principal` is a seller writing its own configuration (docs/sellers.md), which is not
    an admin's and needs no approval: a seller account made on the command line. One an admin made
    over HTTP (a seller key or a seller user) writes as that admin (docs/governance.md#admins-are-made-by-two)."""
    return principal.role == "seller" and principal.made_by is None


async def who(request: AuthedRequest, pool: Pool) -> dict[str, Any]:
    """The `actor` of the audit rows of `request`'s writes: `{kind, id, name}`; a seller's is
    `{kind: seller, id, name, seller_id, via: user | api_key}` (docs/sellers.md), with `admin: {id,
    name}` when an admin made that seller account: the person it writes as."""
    principal = request.user
    if principal.seller_id is None:
        return {"kind": principal.kind, "id": str(principal.id), "name": principal.name}
    actor: dict[str, Any] = {
        "kind": "seller",
        "id": str(principal.id),
        "name": principal.name,
        "seller_id": principal.seller_id,
        "via": principal.kind,
    }
    if principal.made_by is not None:
        async with pool.acquire() as conn:
            name = await people.person_name(conn, person_id=principal.made_by)
        actor["admin"] = {"id": str(principal.made_by), "name": name}
    return actor


async def _admin_pool(pool: PoolDep, request: AuthedRequest) -> Pool:
    """The pool of `request`'s admin writes: audited as its caller; when it applies an approved
    change request, the connection of that request's transaction."""
    replaying = changes.replaying(request)
    return audited(
        pool,
        msgspec.json.encode(await who(request, pool)).decode(),
        request.scope.get("state", {}).get(REQUEST_ID),
        on=None if replaying is None else replaying.conn,
    )


ADMIN_POOL = Provide(_admin_pool)
"""The `admin_pool` dependency (web/deps.py `AdminPoolDep`): the pool for an admin write to
products, flash sales, campaigns, users, API keys or webhooks, whose rows the audit log records
with the caller and the request id (migration 0530, docs/governance.md). The service's own
writes to those tables take the plain pool and are not audited."""

ConfigWriteDep: TypeAlias = NamedDependency[ConfigWrite]
"""An admin write of pricing configuration (parameter must be named `write`)."""
