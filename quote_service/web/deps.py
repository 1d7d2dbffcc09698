"""Short names for what route handlers receive (Litestar's explicit parameter markers)."""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency

from quote_service.auth.schemas import Principal
from quote_service.db.pool import Pool

PoolDep: TypeAlias = NamedDependency[Pool]
"""The process's asyncpg pool (parameter must be named `pool`)."""
AuthedRequest: TypeAlias = Request[Principal, Any, Any]
"""A request whose `user` is the authenticated Principal."""
