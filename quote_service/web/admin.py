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

from litestar.di import NamedDependency, Provide

from quote_service.db.pool import Pool
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.snapshot.store import ConfigStore
from quote_service.web.deps import AuthedRequest, ConfigStoreDep, PoolDep, actor_of
from quote_service.web.envelope import Envelope, ok

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

    def provide(pool: PoolDep, config_store: ConfigStoreDep, request: AuthedRequest) -> ConfigWrite:
        return ConfigWrite(pool, config_store, domain, actor_of(request))

    return Provide(provide, sync_to_thread=False)


ConfigWriteDep: TypeAlias = NamedDependency[ConfigWrite]
"""An admin write of pricing configuration (parameter must be named `write`)."""
