"""Making a private Redis refuse writes, as a full Redis or a read-only replica does.

- "oom": `maxmemory` 1 byte under `noeviction`: every command that may grow memory answers
  `OOM command not allowed when used memory > 'maxmemory'`; reads and deletions still run.
- "readonly": the server is made a replica of a port nobody listens on (`REPLICAOF`): every write,
  deletions included, answers `READONLY`; it keeps its data and serves reads meanwhile.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import httpx

from tests.faults.private import PrivateRedis, free_port
from tests.integration.expect import expect_error

Refusal = Literal["oom", "readonly"]
REFUSALS: tuple[Refusal, ...] = ("oom", "readonly")


@contextlib.contextmanager
def refusing(redis: PrivateRedis, how: Refusal) -> Iterator[None]:
    """Within the block, `redis` refuses writes the way `how` names; afterwards it takes them again."""
    if how == "oom":
        assert redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction") == "+OK"
        assert redis.command("CONFIG", "SET", "maxmemory", "1") == "+OK"
    else:
        assert redis.command("REPLICAOF", "127.0.0.1", str(free_port())) == "+OK"
    try:
        yield
    finally:
        if how == "oom":
            assert redis.command("CONFIG", "SET", "maxmemory", "0") == "+OK"
        else:
            assert redis.command("REPLICAOF", "NO", "ONE") == "+OK"


def expect_unavailable(response: httpx.Response) -> None:
    """503 DEPENDENCY_UNAVAILABLE with a Retry-After: the answer to any write Redis refused."""
    expect_error(response, 503, "DEPENDENCY_UNAVAILABLE")
    assert int(response.headers["retry-after"]) > 0
