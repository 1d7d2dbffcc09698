"""The bound on concurrent password hashing: slots, a short queue, clean attempts first."""

from __future__ import annotations

import asyncio

import pytest

from quote_service.auth.gate import HashingGate
from quote_service.errors import Overloaded


async def hold(gate: HashingGate, name: str, order: list[str], *, suspect: bool, release: asyncio.Event) -> None:
    async with gate.slot(suspect=suspect):
        order.append(name)
        await release.wait()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_at_most_slots_run_and_clean_waiters_go_before_suspect_ones() -> None:
    gate = HashingGate(slots=1, max_waiting=10)
    order: list[str] = []
    release = asyncio.Event()
    first = asyncio.create_task(hold(gate, "first", order, suspect=True, release=release))
    await settle()
    waiters = [
        asyncio.create_task(hold(gate, name, order, suspect=name.startswith("guess"), release=release))
        for name in ("guess-1", "guess-2", "real-user", "guess-3")
    ]
    await settle()

    assert order == ["first"]
    assert gate.running == 1
    assert gate.waiting == 4
    release.set()
    await asyncio.gather(first, *waiters)
    assert order == ["first", "real-user", "guess-1", "guess-2", "guess-3"]
    assert gate.running == 0


async def test_clean_waiters_are_served_newest_first() -> None:
    gate = HashingGate(slots=1, max_waiting=10)
    order: list[str] = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(hold(gate, "running", order, suspect=False, release=release))]
    await settle()
    for name in ("burst-1", "burst-2", "burst-3", "latest"):
        tasks.append(asyncio.create_task(hold(gate, name, order, suspect=False, release=release)))
        await settle()

    release.set()
    await asyncio.gather(*tasks)
    assert order == ["running", "latest", "burst-3", "burst-2", "burst-1"]


async def test_a_full_queue_refuses_at_once() -> None:
    gate = HashingGate(slots=1, max_waiting=2)
    order: list[str] = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(hold(gate, f"guess-{i}", order, suspect=True, release=release)) for i in range(3)]
    await settle()

    with pytest.raises(Overloaded):
        async with gate.slot(suspect=True):
            pass
    release.set()
    await asyncio.gather(*tasks)
    assert gate.running == 0


async def test_a_full_suspect_lane_does_not_turn_a_clean_attempt_away() -> None:
    gate = HashingGate(slots=1, max_waiting=2)
    order: list[str] = []
    release = asyncio.Event()
    running = asyncio.create_task(hold(gate, "running", order, suspect=True, release=release))
    await settle()
    guesses = [asyncio.create_task(hold(gate, f"guess-{i}", order, suspect=True, release=release)) for i in (1, 2)]
    await settle()

    with pytest.raises(Overloaded):
        async with gate.slot(suspect=True):
            pass
    real = asyncio.create_task(hold(gate, "real-user", order, suspect=False, release=release))
    await settle()
    release.set()
    await asyncio.gather(running, *guesses, real)
    assert order == ["running", "real-user", "guess-1", "guess-2"]


async def test_a_full_clean_lane_turns_away_its_oldest_waiter_not_the_newcomer() -> None:
    gate = HashingGate(slots=1, max_waiting=2)
    order: list[str] = []
    release = asyncio.Event()
    running = asyncio.create_task(hold(gate, "running", order, suspect=False, release=release))
    await settle()
    oldest = asyncio.create_task(hold(gate, "burst-1", order, suspect=False, release=release))
    await settle()
    newer = asyncio.create_task(hold(gate, "burst-2", order, suspect=False, release=release))
    await settle()
    real = asyncio.create_task(hold(gate, "real-user", order, suspect=False, release=release))
    await settle()

    with pytest.raises(Overloaded):
        await oldest
    release.set()
    await asyncio.gather(running, newer, real)
    assert order == ["running", "real-user", "burst-2"]


async def test_a_cancelled_waiter_leaves_the_queue_and_its_slot_passes_on() -> None:
    gate = HashingGate(slots=1, max_waiting=5)
    order: list[str] = []
    release = asyncio.Event()
    running = asyncio.create_task(hold(gate, "running", order, suspect=False, release=release))
    await settle()
    gone = asyncio.create_task(hold(gate, "gone", order, suspect=False, release=release))
    after = asyncio.create_task(hold(gate, "after", order, suspect=False, release=release))
    await settle()
    gone.cancel()
    await settle()

    assert gate.waiting == 1
    release.set()
    await asyncio.gather(running, after)
    assert order == ["running", "after"]
    assert gate.running == 0
