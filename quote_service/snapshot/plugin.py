"""The configuration snapshot's registration: the process's `ConfigStore` and its status route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.datastructures import State

from quote_service.cache.config_store import ConfigStore
from quote_service.snapshot.controller import snapshot_status
from quote_service.snapshot.loader import load_snapshot
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    config_store = ConfigStore(ctx.pool, ctx.redis, load_snapshot)
    await ctx.open("config store", config_store)
    return {"config_store": config_store}


async def reset(state: State) -> None:
    await state.config_store.reload()


SNAPSHOT = Domain(
    name="snapshot", routes=[snapshot_status], provides={"config_store": ConfigStore}, start=start, reset=reset
)
