"""Short names for what route handlers receive (Litestar's explicit parameter markers)."""

from __future__ import annotations

from typing import Annotated, Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import HeaderParameter

from quote_service.auth.schemas import Principal
from quote_service.cache.config_store import ConfigStore
from quote_service.cache.products import ProductCache
from quote_service.db.pool import Pool
from quote_service.db.replica import ReadPools
from quote_service.errors import FieldError, ValidationFailed, invalid
from quote_service.pagination import Listing, PageQuery
from quote_service.pricing.snapshot import ConfigSnapshot

PoolDep: TypeAlias = NamedDependency[Pool]
"""The process's asyncpg pool (parameter must be named `pool`)."""
AdminPoolDep: TypeAlias = NamedDependency[Any]
"""The pool of an admin write to products, flash sales, campaigns, users, API keys or webhooks
(parameter must be named `admin_pool`): what it writes is audited as the caller, with the
request id (audit/admin.py `ADMIN_POOL`, docs/governance.md). A `Pool` in all but class
(audit/writer.py `audited`), which Litestar's signature model would refuse, hence Any."""
ReadPoolDep: TypeAlias = NamedDependency[Pool]
"""The pool for reads that may be a little stale: the read replica while it is up and within
REPLICA_MAX_LAG_SECONDS, else the primary (parameter must be named `read_pool`). Only for
reads that never need to see a write the same caller just made (docs/deployment.md)."""
PageDep: TypeAlias = NamedDependency[PageQuery]
"""A list's `limit` and `cursor` query parameters (parameter must be named `page`; pagination.py)."""
ListingDep: TypeAlias = NamedDependency[Listing]
"""A list's page read from the `read_pool` (parameter must be named `listing`; pagination.py):
`await listing.page("coupons", fetch, coupon_from_row)`."""
ReadPoolsDep: TypeAlias = NamedDependency[ReadPools]
"""The primary and read-replica pools, for a handler that chooses per caller (parameter must be
named `read_pools`)."""
ConfigStoreDep: TypeAlias = NamedDependency[ConfigStore[ConfigSnapshot]]
"""The configuration snapshot holder (parameter must be named `config_store`). Admin writes of
configuration take the `write` dependency instead (audit/admin.py), which announces the change."""
ProductCacheDep: TypeAlias = NamedDependency[ProductCache]
"""The two-tier product cache; catalog writes call `invalidate` after they commit."""
RedisDep: TypeAlias = NamedDependency[Any]
"""The process's `RedisClient` (parameter must be named `redis`): a Redis or a RedisCluster, a
union Litestar's signature model cannot convert, hence Any."""
AuthedRequest: TypeAlias = Request[Principal, Any, Any]
"""A request whose `user` is the authenticated Principal."""


def actor_of(request: AuthedRequest) -> str:
    """How the author of a change is written in audit columns (`created_by`, `actor`)."""
    return actor_name(request.user)


def actor_name(principal: Principal) -> str:
    """`actor_of` for a caller known by its principal (a purchase made on the lean edge)."""
    name = principal.name if principal.kind == "user" else f"api-key:{principal.name}"
    return name if principal.seller_id is None else f"seller:{principal.seller_id}:{name}"


MAX_IDEMPOTENCY_KEY_LENGTH = 128
IdempotencyKey: TypeAlias = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        description="Required, 1-128 characters. A retry with the same key and body returns the first result.",
    ),
]
"""The Idempotency-Key header of POST /orders and flash-sale purchases (docs/api.md)."""
OptionalIdempotencyKey: TypeAlias = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="Optional, 1-128 characters. A retry with the same key and body returns the first result.",
    ),
]
"""The Idempotency-Key header of a write that takes one without requiring it (a code batch)."""


def check_idempotency_key(key: str) -> None:
    """Checked here, not by Litestar, so the 422 names the header rather than the argument."""
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise invalid("Idempotency-Key", f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters")


def refuse_unknown(request: AuthedRequest, known: frozenset[str]) -> None:
    """422 naming every query parameter the route does not know (a misspelt filter must not be ignored)."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ValidationFailed(
            "Unknown query parameters: " + ", ".join(unknown),
            details=[FieldError(name, "unknown query parameter") for name in unknown],
        )
