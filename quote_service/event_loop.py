"""The running event loop, without a system call per look-up.

CPython 3.11's `asyncio.get_running_loop()` calls `getpid()` on every call, to notice a loop
inherited through `fork()`: a system call, ~0.1 µs a look-up more than this module's in a tight
loop (what entering the kernel costs the code around it in a request, through the caches, the
development VMs could not resolve). A quote on the lean edge looked the
loop up ~9 times (its deadlines, the API key's freshness, the body read, the stored quote's
future); with `running_loop()` it makes none (BENCHMARKS.md, "Decisions":
8.66 such calls a quote before, 0.26 after).

`running_loop()` answers what `asyncio.get_running_loop()` answers, from the last answer while
that loop is still running on this thread: one thread runs one loop at a time, so a loop that
`is_running()` and was last looked up on this thread is this thread's running loop. A forked
child forgets it (`os.register_at_fork`); anything else (no loop, another thread, the loop has
stopped and another runs) asks asyncio again, and outside a running loop it raises asyncio's
own `RuntimeError`.
"""

from __future__ import annotations

import asyncio
import os
import threading

_get_ident = threading.get_ident

# (loop, thread ident) of the last look-up, one tuple so that another thread never reads half of it.
_last: tuple[asyncio.AbstractEventLoop, int] | None = None


def running_loop() -> asyncio.AbstractEventLoop:
    """`asyncio.get_running_loop()`, without its `getpid()` once the loop is known (module docstring)."""
    last = _last
    if last is not None and last[1] == _get_ident() and last[0].is_running():
        return last[0]
    return _look_up()


def _look_up() -> asyncio.AbstractEventLoop:
    global _last
    loop = asyncio.get_running_loop()  # RuntimeError outside a running loop, as asyncio's
    _last = (loop, _get_ident())
    return loop


def _forget() -> None:
    global _last
    _last = None


os.register_at_fork(after_in_child=_forget)
