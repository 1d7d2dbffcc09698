"""Starting the domains while a store is away (quote_service/web/starting.py): a failed try is
undone and tried again in the background; a bug still fails the start. No I/O: the start is a
script of outcomes, and the retry pauses are shortened (patched) so the test waits on conditions."""

from __future__ import annotations

import asyncio
import contextlib
import errno

import pytest
from litestar.datastructures import State

from quote_service.web import starting
from quote_service.web.starting import DomainStarter
from tests.waiting import until

REFUSED = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")


class ScriptedStart:
    """Each try puts `service` on the state and registers its stop, then raises the next
    scripted exception (None: succeeds)."""

    def __init__(self, state: State, script: list[BaseException | None]) -> None:
        self.state = state
        self.script = script
        self.tries = 0
        self.stopped = 0

    async def __call__(self, stops: contextlib.AsyncExitStack) -> None:
        self.tries += 1
        self.state["service"] = self.tries
        stops.push_async_callback(self._stop)
        outcome = self.script.pop(0)
        if outcome is not None:
            raise outcome

    async def _stop(self) -> None:
        self.stopped += 1


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(starting, "FIRST_RETRY_SECONDS", 0.001)
    monkeypatch.setattr(starting, "MAX_RETRY_SECONDS", 0.001)


async def test_a_start_that_meets_a_store_away_is_undone_and_tried_again_until_it_succeeds() -> None:
    state = State({"before": True})
    start = ScriptedStart(state, [REFUSED, TimeoutError(), None])
    starter = DomainStarter()
    await starter.begin(state, start)  # returns at once: the first try failed
    assert not starter.started
    assert set(state) == {"before"}, "what the failed try put on the state is gone"
    assert start.stopped == 1, "what the failed try started is stopped"
    assert "ConnectionRefusedError" in starter.reason()

    await until(lambda: starter.started, "the start succeeded in the background")
    assert (start.tries, start.stopped, state["service"]) == (3, 2, 3)
    assert starter.error is None
    await starter.stop()
    assert start.stopped == 3
    assert not starter.started


async def test_a_start_that_succeeds_at_once_runs_nothing_in_the_background() -> None:
    state = State()
    start = ScriptedStart(state, [None])
    starter = DomainStarter()
    await starter.begin(state, start)
    assert starter.started
    assert start.tries == 1
    await starter.stop()
    assert start.stopped == 1


async def test_a_bug_fails_the_first_start() -> None:
    state = State()
    start = ScriptedStart(state, [KeyError("a bug")])
    starter = DomainStarter()
    with pytest.raises(KeyError):
        await starter.begin(state, start)
    assert start.stopped == 1
    assert "service" not in state


async def test_stopping_while_it_waits_for_the_stores_ends_the_tries() -> None:
    state = State()
    start = ScriptedStart(state, [REFUSED] * 1000)
    starter = DomainStarter()
    await starter.begin(state, start)
    await until(lambda: start.tries >= 3, "a few tries")
    await starter.stop()
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "domain-start"], "the retries ended"
    assert start.stopped == start.tries, "every try's stops ran"
