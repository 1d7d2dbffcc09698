"""web/domain.py: what each domain declares reaches the app in order, every requirement is provided
by an earlier domain, a start must return every state entry it provides, and a reset reaches every
domain in order (docs/architecture.md#domains)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, cast

import pytest
from litestar import Litestar, get

from quote_service.app import DOMAINS
from quote_service.config import Settings
from quote_service.db.pool import Pool
from quote_service.web.domain import Domain, Domains, Startup, check_requirements


@get("/one", sync_to_thread=False)
def one() -> str:
    return "one"


@get("/two", sync_to_thread=False)
def two() -> str:
    return "two"


class Thing:
    pass


async def start_thing(ctx: Startup) -> Mapping[str, Any]:
    ctx.on_stop("thing", stop_thing)
    return {"thing": Thing(), "extra": 1}


STOPPED: list[str] = []


async def stop_thing() -> None:
    STOPPED.append("thing")


def test_routes_dependencies_and_types_are_added_in_order() -> None:
    first = Domain(name="first", routes=[two], provides={"thing": Thing}, start=start_thing)
    app = Litestar(plugins=[Domains([first, Domain(name="second", routes=[one])])], openapi_config=None)
    assert [route.path for route in app.routes] == ["/two", "/one"]
    assert "thing" in app.dependencies
    assert app.signature_namespace["Thing"] is Thing


def test_a_name_provided_twice_is_refused() -> None:
    first = Domain(name="first", provides={"thing": Thing}, start=start_thing)
    again = Domain(name="again", provides={"thing": Thing}, start=start_thing)
    with pytest.raises(ValueError, match="again provides"):
        Litestar(plugins=[Domains([first, again])], openapi_config=None)


def test_a_provided_name_needs_a_start() -> None:
    with pytest.raises(ValueError, match="no start"):
        Litestar(plugins=[Domains([Domain(name="lazy", provides={"thing": Thing})])], openapi_config=None)


def _startup(app: Litestar, stack: contextlib.AsyncExitStack) -> Startup:
    none: Any = None
    return Startup(app, Settings(), none, none, none, stack, cast(Any, None), cast(Any, None))


async def test_a_start_puts_its_entries_on_the_state_and_its_stops_on_the_stack() -> None:
    domains = Domains([Domain(name="first", provides={"thing": Thing}, start=start_thing)])
    app = Litestar(plugins=[domains], openapi_config=None)
    STOPPED.clear()
    async with contextlib.AsyncExitStack() as stack:
        await domains.start(_startup(app, stack))
        assert isinstance(app.state.thing, Thing)
        assert app.state.extra == 1
        assert STOPPED == []
    assert STOPPED == ["thing"]


async def test_a_start_that_leaves_out_a_provided_name_fails() -> None:
    domains = Domains([Domain(name="short", provides={"thing": Thing, "other": Thing}, start=start_thing)])
    app = Litestar(plugins=[domains], openapi_config=None)
    async with contextlib.AsyncExitStack() as stack:
        with pytest.raises(RuntimeError, match=r"short did not start \['other'\]"):
            await domains.start(_startup(app, stack))


class Noted:
    """A background loop (its `start` synchronous) that notes what happened to it."""

    def __init__(self, name: str, events: list[str]) -> None:
        self.name = name
        self.events = events

    def start(self) -> None:
        self.events.append(f"start {self.name}")

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")


class NotedStore(Noted):
    """A store: its `start` is awaited."""

    async def start(self) -> None:  # type: ignore[override]
        self.events.append(f"open {self.name}")


async def test_a_loop_and_a_store_start_now_and_stop_last_started_first() -> None:
    events: list[str] = []
    loop, store = Noted("loop", events), NotedStore("store", events)
    async with contextlib.AsyncExitStack() as stack:
        ctx = _startup(Litestar(openapi_config=None), stack)
        assert ctx.run("the loop", loop) is loop
        assert await ctx.open("the store", store) is store
        assert events == ["start loop", "open store"]
    assert events == ["start loop", "open store", "stop store", "stop loop"]


class Special(Thing):
    pass


def test_a_requirement_provided_by_an_earlier_domain_passes() -> None:
    first = Domain(name="first", provides={"thing": Special}, start=start_thing)
    second = Domain(name="second", requires={"thing": Thing, "pool": Pool})
    Litestar(plugins=[Domains([first, second])], openapi_config=None)


def test_a_requirement_provided_later_is_refused_with_the_order_to_fix() -> None:
    needs = Domain(name="needs", requires={"thing": Thing})
    later = Domain(name="later", provides={"thing": Thing}, start=start_thing)
    with pytest.raises(ValueError, match="needs requires 'thing', provided by later, which starts later"):
        Litestar(plugins=[Domains([needs, later])], openapi_config=None)


def test_a_requirement_nobody_provides_is_refused() -> None:
    with pytest.raises(ValueError, match="lonely requires 'thing', provided by no domain"):
        check_requirements([Domain(name="lonely", requires={"thing": Thing})])


def test_a_requirement_of_another_type_is_refused() -> None:
    first = Domain(name="first", provides={"thing": Thing}, start=start_thing)
    picky = Domain(name="picky", requires={"thing": Special})
    with pytest.raises(ValueError, match="picky requires 'thing' as Special, but first provides Thing"):
        check_requirements([first, picky])


def test_the_apps_domains_start_in_an_order_that_meets_every_requirement() -> None:
    check_requirements(DOMAINS)
    assert any(domain.requires for domain in DOMAINS)
    with pytest.raises(ValueError, match="starts later"):
        check_requirements(list(reversed(DOMAINS)))


async def test_a_reset_reaches_every_domain_in_start_order() -> None:
    calls: list[str] = []

    def resetting(name: str) -> Domain:
        async def reset(state: Any) -> None:
            calls.append(name)

        return Domain(name=name, reset=reset)

    domains = Domains([resetting("a"), Domain(name="quiet"), resetting("b")])
    app = Litestar(plugins=[domains], openapi_config=None)
    await domains.reset(app.state)
    assert calls == ["a", "b"]
