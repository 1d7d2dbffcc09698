"""What the admin routes that change pricing configuration share: a `write` dependency.

Every such route does the same three things around its own service call: it reads the pool and
who is writing, and once the change has committed it announces the new configuration version
(`ConfigStore.changed`: this process reloads its snapshot before answering, the others hear it
on the Redis channel) and wraps the result in the success envelope. A controller declares
`dependencies = {"write": config_write(DOMAIN)}` and a route reads

    async def create(self, data: JSONBody[XCreate], write: ConfigWriteDep) -> Envelope[X]:
        return await write.saved(await service.create_x(write.pool, data, actor=write.actor), "X created")
"""

from __future__ import annotations

from typing import TypeAlias, TypeVar

import msgspec
from litestar.di import NamedDependency, Provide

from quote_service.audit import changes
from quote_service.audit.writer import audited
from quote_service.config import Settings
from quote_service.db.pool import Pool
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.snapshot.store import ConfigStore
from quote_service.web.deps import AuthedRequest, ConfigStoreDep, PoolDep, actor_of
from quote_service.web.envelope import Envelope, ok
from quote_service.web.middleware import REQUEST_ID

T = TypeVar("T")


class ConfigWrite:
    """One admin write of one configuration domain."""

    __slots__ = ("_domain", "_store", "actor", "pool")

    def __init__(self, pool: Pool, store: ConfigStore[ConfigSnapshot], domain: str, actor: str) -> None:
        self.pool = pool
        self.actor = actor
        """How the writer is recorded in `created_by` / `updated_by`."""
        self._store = store
        self._domain = domain

    async def saved(self, result: T, message: str, *, changed: bool = True) -> Envelope[T]:
        """The answer to a committed write; announced first unless nothing `changed`."""
        if changed:
            await self._store.changed(self._domain)
        return ok(result, message)


def config_write(domain: str) -> Provide:
    """The `write` dependency of a controller whose writes change `domain`."""

    async def provide(
        pool: PoolDep, config_store: ConfigStoreDep, request: AuthedRequest, settings: NamedDependency[Settings]
    ) -> ConfigWrite:
        actor = actor_of(request)
        who = _who(request)
        state = request.scope.get("state", {})
        request_id = state.get(REQUEST_ID)
        if settings.change_approval == "required" and not state.get(changes.APPLYING):
            # Four-eyes: the write is stored, not made; another admin approves it (docs/governance.md).
            body = await request.body()
            raise changes.ChangeRequested(
                await changes.create(
                    pool,
                    author=who,
                    domain=domain,
                    method=request.method,
                    path=request.url.path,
                    query=request.url.query or "",
                    path_params=dict(request.path_params),
                    body=msgspec.json.decode(body) if body else None,
                    request_id=request_id,
                )
            )
        # Every write through `write.pool` appends its audit rows in its own transaction (docs/governance.md).
        audited_pool = audited(pool, msgspec.json.encode(who).decode(), request_id)
        return ConfigWrite(audited_pool, config_store, domain, actor)

    return Provide(provide)


def _who(request: AuthedRequest) -> dict[str, str]:
    """The `actor` of the audit rows of `request`'s writes: `{kind, id, name}`."""
    principal = request.user
    return {"kind": principal.kind, "id": str(principal.id), "name": principal.name}


def _admin_pool(pool: PoolDep, request: AuthedRequest) -> Pool:
    return audited(pool, msgspec.json.encode(_who(request)).decode(), request.scope.get("state", {}).get(REQUEST_ID))


ADMIN_POOL = Provide(_admin_pool, sync_to_thread=False)
"""The `admin_pool` dependency (web/deps.py `AdminPoolDep`): the pool for an admin write to
products, flash sales, campaigns, users, API keys or webhooks, whose rows the audit log records
with the caller and the request id (migration 0530, docs/governance.md). The service's own
writes to those tables take the plain pool and are not audited."""

ConfigWriteDep: TypeAlias = NamedDependency[ConfigWrite]
"""An admin write of pricing configuration (parameter must be named `write`)."""
