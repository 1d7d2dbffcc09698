"""How a domain registers itself with the app: one `Domain` per domain (its `plugin.py`).

A `Domain` declares what the app needs from it before it is built — its route handlers, the
services it puts on `app.state` that handlers take as dependencies (`provides`: name → type;
each name becomes a dependency read from the state, each type a signature type), the services
of other domains its `start` reads from `app.state` (`requires`: name → type), its other
dependency providers and exception handlers — how it starts: `start(ctx)` builds its services
from the shared stores, starts its loops and stores with their stops (`ctx.run`, `ctx.open`,
`ctx.on_stop`), and returns what it puts on `app.state` — and how a started app forgets what the
domain holds in memory (`reset(state)`: caches cleared, snapshot reloaded, queued writes written;
the tests reset one started app between tests instead of starting one per test). `Domains` (a
Litestar init plugin) checks that every requirement is provided by an earlier domain, adds every
domain's declarations to the app and starts the domains in their order
(docs/architecture.md#domains).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import structlog
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol
from litestar.types import ControllerRouterHandler, ExceptionHandlersMap
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from quote_service.cache.redis import RedisClient
from quote_service.config import Settings
from quote_service.db.pool import Pool
from quote_service.db.replica import ReadPools

log = structlog.get_logger("quote_service.app")

SHUTDOWN_STEP_SECONDS = 5.0


async def close_within(name: str, close: Callable[[], Awaitable[None]], on_timeout: Callable[[], None] | None) -> None:
    """Release a resource at shutdown without ever hanging it (asyncpg waits for busy
    connections; redis-py can stall closing a socket): past the bound, log and force."""
    try:
        await asyncio.wait_for(close(), timeout=SHUTDOWN_STEP_SECONDS)
    except TimeoutError:
        log.warning("shutdown_step_timed_out", resource=name, seconds=SHUTDOWN_STEP_SECONDS)
        if on_timeout is not None:
            on_timeout()


class Loop(Protocol):
    """A background loop: `start` begins it (a task of its own), `stop` ends it."""

    def start(self) -> object: ...

    def stop(self) -> Awaitable[None]: ...


class Store(Protocol):
    """A store with a background task of its own: `start` is awaited (it loads what it serves first)."""

    def start(self) -> Awaitable[object]: ...

    def stop(self) -> Awaitable[None]: ...


L = TypeVar("L", bound=Loop)
S = TypeVar("S", bound=Store)


@dataclass(frozen=True)
class Startup:
    """What a domain's `start` builds from: the app, its settings, the shared stores, the clocks
    `create_app` was given, and the stack its stops go on (last started, first stopped)."""

    app: Litestar
    settings: Settings
    pool: Pool
    redis: RedisClient
    reads: ReadPools
    stack: contextlib.AsyncExitStack
    clock: Callable[[], datetime]
    """The campaigns' and market intelligence's service clock."""
    quote_clock: Callable[[], datetime]
    """The instant quotes are priced and read at (reservations, holds)."""

    @property
    def state(self) -> State:
        """What the domains started before this one put on `app.state`."""
        return self.app.state

    def on_stop(
        self, name: str, stop: Callable[[], Awaitable[None]], on_timeout: Callable[[], None] | None = None
    ) -> None:
        """Run `stop` at shutdown, bounded by SHUTDOWN_STEP_SECONDS, before whatever started earlier."""
        self.stack.push_async_callback(close_within, name, stop, on_timeout)

    def run(self, name: str, loop: L) -> L:
        """Start the background loop `loop` now and stop it at shutdown (`on_stop` under `name`)."""
        loop.start()
        self.on_stop(name, loop.stop)
        return loop

    async def open(self, name: str, store: S) -> S:
        """Start `store` (awaited) and stop it at shutdown (`on_stop` under `name`)."""
        await store.start()
        self.on_stop(name, store.stop)
        return store


Start = Callable[[Startup], Awaitable[Mapping[str, Any]]]
Reset = Callable[[State], Awaitable[None]]

STORES: Mapping[str, type | tuple[type, ...]] = {"pool": Pool, "redis": (Redis, RedisCluster), "read_pools": ReadPools}
"""What the app itself puts on `app.state` before any domain starts (`Startup` carries them too)."""


@dataclass(frozen=True, kw_only=True)
class Domain:
    """One domain's share of the app (see the module docstring)."""

    name: str
    routes: Sequence[ControllerRouterHandler] = ()
    provides: Mapping[str, type | tuple[type, ...]] = field(default_factory=dict)
    """`app.state` names handlers take as dependencies, with their types; `start` returns each."""
    requires: Mapping[str, type | tuple[type, ...]] = field(default_factory=dict)
    """`app.state` names `start` (or `reset`) reads, with their types: each provided by an earlier
    domain (or one of STORES), checked when the app is built."""
    dependencies: Mapping[str, Provide] = field(default_factory=dict)
    exception_handlers: ExceptionHandlersMap = field(default_factory=dict)
    start: Start | None = None
    reset: Reset | None = None
    """Forget what this domain holds in memory, as if the app had just started on the stores as
    they are now: called on a started app, between tests (`Domains.reset`)."""


def from_state(name: str) -> Provide:
    """The dependency `name`: the `app.state` entry of that name."""

    def provide(state: State) -> Any:
        return state[name]

    return Provide(provide, sync_to_thread=False)


@dataclass(frozen=True, eq=False)  # hashed by identity: Litestar keeps its plugins in a set
class Domains(InitPluginProtocol):
    """The app's domains, in start order: their routes, dependencies, signature types and
    exception handlers are added to the app in this order too."""

    domains: Sequence[Domain]

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        check_requirements(self.domains)
        for domain in self.domains:
            if domain.provides and domain.start is None:
                raise ValueError(f"domain {domain.name} provides {sorted(domain.provides)} but has no start")
            app_config.route_handlers.extend(domain.routes)
            provided = {name: from_state(name) for name in domain.provides} | dict(domain.dependencies)
            if taken := sorted(set(provided) & set(app_config.dependencies)):
                raise ValueError(f"domain {domain.name} provides {taken}, which the app already has")
            app_config.dependencies.update(provided)
            for kind in domain.provides.values():
                app_config.signature_types.extend(kind if isinstance(kind, tuple) else (kind,))
            app_config.exception_handlers.update(domain.exception_handlers)
        return app_config

    async def start(self, ctx: Startup) -> None:
        """Start every domain in order; what each returns is on `app.state` before the next starts."""
        for domain in self.domains:
            if domain.start is None:
                continue
            entries = await domain.start(ctx)
            missing = set(domain.provides) - set(entries)
            if missing:
                raise RuntimeError(f"domain {domain.name} did not start {sorted(missing)}")
            for name, value in entries.items():
                ctx.state[name] = value

    async def reset(self, state: State) -> None:
        """Reset every domain of a started app, in start order (a snapshot reloaded before the
        caches built on it are cleared)."""
        for domain in self.domains:
            if domain.reset is not None:
                await domain.reset(state)


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def check_requirements(domains: Sequence[Domain]) -> None:
    """Raise ValueError unless every domain's `requires` names something an earlier domain
    `provides` (or one of STORES), of a type that is (a subclass of) the one required: the start
    order is checked where the app is built, not kept by comments."""
    provided: dict[str, tuple[str, tuple[type, ...]]] = {
        name: ("the app", _kinds(kind)) for name, kind in STORES.items()
    }
    for domain in domains:
        for name, wanted in domain.requires.items():
            if name not in provided:
                later = [other.name for other in domains if name in other.provides]
                where = f"{later[0]}, which starts later" if later else "no domain"
                raise ValueError(f"domain {domain.name} requires {name!r}, provided by {where}")
            owner, kinds = provided[name]
            if not all(issubclass(kind, _kinds(wanted)) for kind in kinds):
                raise ValueError(
                    f"domain {domain.name} requires {name!r} as {_names(_kinds(wanted))}, "
                    f"but {owner} provides {_names(kinds)}"
                )
        for name, kind in domain.provides.items():
            provided[name] = (domain.name, _kinds(kind))


def _names(kinds: tuple[type, ...]) -> str:
    return " | ".join(kind.__name__ for kind in kinds)
