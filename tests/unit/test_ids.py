"""Ids drawn in batches (quote_service/ids.py) are as random and as unique as uuid4 and urandom."""

from __future__ import annotations

import os
import pickle
import time
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


def test_quote_ids_are_version_7_their_time_prefix_now_and_distinct() -> None:
    pool = RandomPool(batch=8)
    before = time.time_ns() // 1_000_000
    made = [pool.uuid7() for _ in range(1000)]
    after = time.time_ns() // 1_000_000
    assert len(set(made)) == 1000
    for value in made:
        assert value.version == 7
        assert value.variant == "specified in RFC 4122"
        assert before <= value.int >> 80 <= after  # the Unix time in milliseconds, its first 48 bits
        assert UUID(str(value)) == value
        assert (value.hex, str(value), value.bytes) == (UUID(int=value.int).hex, str(UUID(int=value.int)), value.bytes)
    random_bits = {value.int & ((1 << 62) - 1) for value in made}
    assert len(random_bits) == 1000  # the low bits are random, not a counter


def test_quote_ids_of_later_milliseconds_sort_after_earlier_ones() -> None:
    pool = RandomPool()
    earlier = pool.uuid7()
    time.sleep(0.002)
    later = pool.uuid7()
    assert str(earlier) < str(later)
    assert earlier.bytes < later.bytes


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
