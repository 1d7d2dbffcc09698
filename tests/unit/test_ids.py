"""Ids drawn in batches (quote_service/ids.py) are as random and as unique as uuid4 and urandom."""

from __future__ import annotations

import os
import pickle
from uuid import UUID

from quote_service.ids import RandomPool, uuid4_from, uuid_text


def test_uuids_are_version_4_and_distinct_across_batches() -> None:
    pool = RandomPool(batch=8)
    made = [pool.uuid4() for _ in range(1000)]  # 125 batches
    assert len(set(made)) == 1000
    for value in made:
        assert value.version == 4
        assert value.variant == "specified in RFC 4122"
        assert UUID(str(value)) == value


def test_a_uuid_is_the_one_the_standard_library_makes_of_the_same_bytes() -> None:
    for random in (os.urandom(16), b"\x00" * 16, b"\xff" * 16):
        made = uuid4_from(random)
        expected = UUID(bytes=random, version=4)
        assert made == expected
        assert (made.int, made.hex, str(made), made.bytes, made.is_safe) == (
            expected.int, expected.hex, str(expected), expected.bytes, expected.is_safe,
        )  # fmt: skip
        assert hash(made) == hash(expected)
        assert pickle.loads(pickle.dumps(made)) == expected  # noqa: S301 - our own bytes


def test_a_uuids_text_is_the_standard_librarys() -> None:
    for value in (
        UUID(int=0),
        UUID(int=(1 << 128) - 1),
        uuid4_from(os.urandom(16)),
        *(UUID(bytes=os.urandom(16)) for _ in range(200)),
    ):
        assert uuid_text(value) == str(value)


def test_request_ids_are_32_hex_digits_and_distinct() -> None:
    pool = RandomPool(batch=4)
    made = [pool.hex() for _ in range(100)]
    assert len(set(made)) == 100
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in made)


def test_a_forked_child_never_issues_its_parents_next_ids() -> None:
    pool = RandomPool()
    pool.take()  # the batch is read: 255 values wait in this process
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its first values, to the parent
        os.write(write, b"".join(pool.take() for _ in range(4)))
        os._exit(0)
    os.close(write)
    theirs = b""
    while len(theirs) < 64:
        chunk = os.read(read, 64)
        assert chunk
        theirs += chunk
    os.close(read)
    os.waitpid(child, 0)
    ours = b"".join(pool.take() for _ in range(4))
    assert {theirs[i : i + 16] for i in range(0, 64, 16)}.isdisjoint({ours[i : i + 16] for i in range(0, 64, 16)})
