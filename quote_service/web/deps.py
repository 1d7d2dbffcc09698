"""Short names for what route handlers receive (Litestar's explicit parameter markers)."""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency

from quote_service.auth.schemas import Principal
from quote_service.cache.products import ProductCache
from quote_service.db.pool import Pool
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.snapshot.store import ConfigStore

PoolDep: TypeAlias = NamedDependency[Pool]
"""The process's asyncpg pool (parameter must be named `pool`)."""
ConfigStoreDep: TypeAlias = NamedDependency[ConfigStore[ConfigSnapshot]]
"""The configuration snapshot holder (parameter must be named `config_store`).
After an admin write commits, call `await config_store.changed("<domain>")`."""
ProductCacheDep: TypeAlias = NamedDependency[ProductCache]
"""The two-tier product cache; catalog writes call `invalidate` after they commit."""
AuthedRequest: TypeAlias = Request[Principal, Any, Any]
"""A request whose `user` is the authenticated Principal."""


def actor_of(request: AuthedRequest) -> str:
    """How the author of a change is written in audit columns (`created_by`, `actor`)."""
    principal = request.user
    return principal.name if principal.kind == "user" else f"api-key:{principal.name}"
