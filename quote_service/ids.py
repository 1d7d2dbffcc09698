"""Random ids for the request path, drawn from the kernel in batches.

`uuid.uuid4()` and `os.urandom(16)` each make a getrandom system call: two per quote (its id and
the request id), ~1.5-6 µs each on a loaded virtual machine (BENCHMARKS.md,
"Decisions"). `RandomPool` reads `batch` ids' worth of bytes in one call and hands out 16-byte
slices; the bytes are the same kernel CSPRNG output, only fetched ahead. Quote ids are version 7
(time-ordered: `RandomPool.uuid7`), the others version 4.

A pool belongs to one process: a forked child must never hand out its parent's unused bytes,
or two workers would issue the same ids. Every pool is emptied in a child right after a fork
(`os.register_at_fork`), so the child's first id comes from a fresh read.
"""

from __future__ import annotations

import os
import time
import weakref
from uuid import UUID, SafeUUID

import msgspec

_BATCH = 256
_pools: weakref.WeakSet[RandomPool] = weakref.WeakSet()


class RandomPool:
    """16-byte random values from one `os.urandom` per `batch` of them (see module docstring)."""

    def __init__(self, batch: int = _BATCH) -> None:
        self._size = 16 * batch
        self._bytes = b""
        self._offset = 0
        _pools.add(self)

    def take(self) -> bytes:
        """16 fresh random bytes."""
        offset = self._offset
        if offset >= len(self._bytes):
            self._bytes, offset = os.urandom(self._size), 0
        self._offset = offset + 16
        return self._bytes[offset : offset + 16]

    def forget(self) -> None:
        """Drop the bytes not handed out yet (a forked child's copy of its parent's)."""
        self._bytes, self._offset = b"", 0

    def uuid4(self) -> UUID:
        """A random (version 4) UUID, as `uuid.uuid4()` makes."""
        return uuid4_from(self.take())

    def uuid7(self) -> UUID:
        """A time-ordered (version 7, RFC 9562) UUID: the Unix time in milliseconds, then 74 random
        bits. Quote ids are made so: the quote log's primary key then grows at its right edge, where
        random (version 4) ids touched a page anywhere in the index a row, each first touch after a
        checkpoint a full page into the WAL (PostgreSQL's CPU a row into a day's partition of 600,000
        rows 0.87-0.88 of random ids', 0.80 with a checkpoint before each batch:
        docs/hot-path.md#the-quote-log-one-json-document-per-batch). Its 74 random bits make an id
        as hard to guess as ever (the id is not a secret: reading a quote needs its maker's key)."""
        value = _new_object(UUID)
        _set_attribute(
            value, "int", (_time_ns() // 1_000_000) << 80 | int.from_bytes(self.take()) & _RANDOM_80 | _VERSION_7
        )
        _set_attribute(value, "is_safe", _UNKNOWN_SAFETY)
        return value

    def hex(self) -> str:
        """32 random hexadecimal digits, as `os.urandom(16).hex()`."""
        return self.take().hex()


_VERSION_4 = (0x8000 << 48) | (4 << 76)
"""The variant (RFC 4122) and version (4) bits of a UUID's 128-bit integer."""
_VERSION_4_MASK = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_VERSION_7 = (0x8000 << 48) | (7 << 76)
_RANDOM_80 = ((1 << 80) - 1) & _VERSION_4_MASK
"""A version-7 UUID's random bits: the 80 below its 48-bit time, but its version and variant bits."""
_time_ns = time.time_ns
_new_object = object.__new__
_set_attribute = object.__setattr__
_UNKNOWN_SAFETY = SafeUUID.unknown
"""Read once: a member read through its Enum class goes through the metaclass's `__getattr__` hook
(~700 instructions a read)."""


def uuid4_from(random: bytes) -> UUID:
    """The version-4 UUID of 16 random bytes: `UUID(bytes=random, version=4)` without its argument
    checks, which cost more than the rest of making an id (~1.1 against ~0.4 µs)."""
    value = _new_object(UUID)
    _set_attribute(value, "int", int.from_bytes(random) & _VERSION_4_MASK | _VERSION_4)
    _set_attribute(value, "is_safe", _UNKNOWN_SAFETY)
    return value


_TEXT = msgspec.json.Encoder().encode


def uuid_text(value: UUID) -> str:
    """`str(value)` (the canonical lower-case 8-4-4-4-12 form) written by msgspec in C: ~0.15
    against ~0.45 µs for `UUID.__str__`, which formats the id's integer in Python. A quote's id is
    written as text twice on its way (its Redis key and its quote-log row)."""
    return _TEXT(value)[1:-1].decode()


def _after_fork_in_child() -> None:
    for pool in list(_pools):
        pool.forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
_POOL = RandomPool()
uuid4 = _POOL.uuid4
uuid7 = _POOL.uuid7
random_hex = _POOL.hex
