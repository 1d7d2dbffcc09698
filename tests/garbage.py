"""What code leaves in reference cycles: objects only the garbage collector can free (docs/hot-path.md#garbage)."""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Iterator


@contextlib.contextmanager
def cyclic_garbage() -> Iterator[list[object]]:
    """The collector is off inside the block; after it, the list holds every object the block left
    unreachable in a cycle (found by one collection that keeps them instead of freeing them)."""
    found: list[object] = []
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def kinds(objects: list[object]) -> list[tuple[str, int]]:
    """The most frequent types among `objects` (an assertion's message)."""
    return Counter(type(thing).__qualname__ for thing in objects).most_common(8)
