"""Named points where a test makes this process fail on purpose, between two steps that must
survive being cut apart (a commit and what follows it).

`QS_FAULT_POINTS="flash.ledger_committed=kill"` makes a process SIGKILL itself when it reaches
that point (`sleep:SECONDS` pauses it there instead); several are separated by commas. Read once,
at import, and ignored with `ENVIRONMENT=production`. In-process tests arm a point with `armed()`,
e.g. to pause an order on an `asyncio.Event` while a twin request arrives. Nothing armed, `hit()`
is one empty-dict check.

The points: `order.flash_held` (an order took its flash units in Redis, before its transaction),
`order.committed` (an order's transaction committed, before anything after it),
`order_edit.writing` (an order edit's commit has written its rows, before its transaction commits),
`order_edit.committed` (an order edit's transaction committed, before it is answered),
`flash.ledger_committed` (a flash purchase's ledger row committed, before its Idempotency-Key is
marked done in Redis), `change_request.approved` (an approval committed, before the approving
request applies it), `change_request.replayed` (an approved change request's write was made,
before its status is, in the same transaction) and `payout.written` (a seller's payout, its shares and
its event written by a run, before its transaction commits) and `checkout_session.ordered` (a checkout
session's order committed, before the session is marked completed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Iterator

Action = Callable[[], Awaitable[None]]

POINTS = (
    "order.flash_held",
    "order.committed",
    "order_edit.writing",
    "order_edit.committed",
    "flash.ledger_committed",
    "change_request.approved",
    "change_request.replayed",
    "payout.written",
    "checkout_session.ordered",
)


def _kill() -> Action:
    async def kill() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    return kill


def _sleep(seconds: float) -> Action:
    async def sleep() -> None:
        await asyncio.sleep(seconds)

    return sleep


def parse(spec: str) -> dict[str, Action]:
    """`name=kill` / `name=sleep:SECONDS`, comma-separated; raises ValueError naming a bad entry."""
    actions: dict[str, Action] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        name, _, what = entry.partition("=")
        if name not in POINTS:
            raise ValueError(f"QS_FAULT_POINTS: unknown point {name!r} (known: {', '.join(POINTS)})")
        if what == "kill":
            actions[name] = _kill()
        elif what.startswith("sleep:"):
            actions[name] = _sleep(float(what.removeprefix("sleep:")))
        else:
            raise ValueError(f"QS_FAULT_POINTS: {entry!r}: the action is kill or sleep:SECONDS")
    return actions


_ARMED: dict[str, Action] = (
    {} if os.environ.get("ENVIRONMENT") == "production" else parse(os.environ.get("QS_FAULT_POINTS", ""))
)


async def hit(name: str) -> None:
    """Fail here if a test armed this point."""
    if _ARMED:
        action = _ARMED.get(name)
        if action is not None:
            await action()


@contextlib.contextmanager
def armed(name: str, action: Action) -> Iterator[None]:
    """Arm `name` with `action` while the block runs (in-process tests)."""
    assert name in POINTS, name
    _ARMED[name] = action
    try:
        yield
    finally:
        _ARMED.pop(name, None)
