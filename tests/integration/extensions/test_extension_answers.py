"""An extension's answer is streamed, its size cap counted on the decoded bytes, within the call's time
(docs/extensions.md#failures): against a real loopback HTTP receiver that sends a gzip bomb, an answer over the
cap, an encoding it was not asked for, and a body a byte at a time."""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from quote_service.config import Settings
from quote_service.extensions.caller import MAX_ANSWER_BYTES
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.extensions.helpers import QUOTE, Client, basket, extension, product
from tests.published import published
from tests.webhook_receiver import Receiver, receiving

FAILURES = "qs_extension_failures_total"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, webhook_allow_private=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


@functools.cache
def gzip_bomb(decoded_mib: int) -> bytes:
    """A gzip body of ~1 KB a MiB that decodes to `decoded_mib` MiB of spaces (valid JSON whitespace)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b" " * (1 << 20)
    parts = [packer.compress(b"{") + b"".join(packer.compress(block) for _ in range(decoded_mib))]
    parts.append(packer.compress(b'"lines": []}') + packer.flush())
    return b"".join(parts)


def tax_answer(amount: str) -> bytes:
    return json.dumps({"lines": [{"line": 0, "taxes": [{"code": "VAT", "amount": amount}]}]}).encode()


async def quoted(client: Client, admin: Caller, body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = expect_ok(await client.post(QUOTE, json=body, headers=admin.headers))
    return data


def failures(extension_id: str, reason: str) -> float:
    return published(FAILURES, {"extension_id": extension_id, "reason": reason})


async def test_a_gzip_bomb_is_refused_at_the_cap_without_decoding_it_and_the_quote_falls_back(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00")
    made = await extension(client, admin, receiver.url(), timeout_ms=1000)
    receiver.answer = gzip_bomb(200)  # ~200 KB that decodes to 200 MiB
    receiver.answer_headers = {"Content-Encoding": "gzip"}
    assert len(receiver.answer) < 400_000

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        quote = await quoted(client, admin, basket((item, 1), customer="bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert quote["warnings"] == [{"code": "EXTENSION_FALLBACK", "extension_id": made["id"]}]
    assert quote["tax_source"] == "internal"
    assert failures(made["id"], "too_large") == 1
    assert peak < 16 * MAX_ANSWER_BYTES, f"the quote's Python allocations peaked at {peak / 2**20:.0f} MiB"
    (call,) = receiver.snapshot()
    assert call.headers["accept-encoding"] == "identity"  # compression is not asked for


async def test_four_gzip_bombs_at_once_keep_each_quote_within_its_deadline(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00")
    made = await extension(client, admin, receiver.url(), timeout_ms=500)
    receiver.answer = gzip_bomb(200)
    receiver.answer_headers = {"Content-Encoding": "gzip"}

    started = time.perf_counter()
    quotes = await asyncio.gather(*(quoted(client, admin, basket((item, 1), customer=f"bomb-{n}")) for n in range(4)))
    elapsed = time.perf_counter() - started

    assert all(q["warnings"] == [{"code": "EXTENSION_FALLBACK", "extension_id": made["id"]}] for q in quotes)
    assert failures(made["id"], "too_large") == 4
    assert elapsed < 1.5, f"four quotes took {elapsed:.2f} s"  # each call's own 0.5 s, at once


async def test_an_answer_over_the_cap_is_refused_whether_its_length_is_declared_or_it_streams_past_it(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00")
    made = await extension(client, admin, receiver.url(), timeout_ms=1000)
    receiver.answer = b'{"lines": []' + b" " * MAX_ANSWER_BYTES + b"}"
    declared = await quoted(client, admin, basket((item, 1), customer="declared"))
    # The same body compressed: 1 KB on the wire, over the cap once decoded.
    receiver.answer, receiver.answer_headers = gzip.compress(receiver.answer), {"Content-Encoding": "gzip"}
    compressed = await quoted(client, admin, basket((item, 1), customer="compressed"))

    for quote in (declared, compressed):
        assert quote["warnings"] == [{"code": "EXTENSION_FALLBACK", "extension_id": made["id"]}]
    assert failures(made["id"], "too_large") == 2


async def test_a_small_compressed_answer_is_decoded_and_used_and_an_unknown_encoding_is_refused(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00")
    made = await extension(client, admin, receiver.url(), timeout_ms=1000)
    receiver.answer, receiver.answer_headers = gzip.compress(tax_answer("1.50")), {"Content-Encoding": "gzip"}
    used = await quoted(client, admin, basket((item, 1), customer="gzip"))
    receiver.answer, receiver.answer_headers = tax_answer("1.50"), {"Content-Encoding": "br"}
    refused = await quoted(client, admin, basket((item, 1), customer="brotli"))

    assert (used["tax_amount"], used["tax_source"]) == ("1.50", "extension")
    assert refused["warnings"] == [{"code": "EXTENSION_FALLBACK", "extension_id": made["id"]}]
    assert failures(made["id"], "malformed") == 1


async def test_a_slow_drip_answer_ends_at_the_calls_time_and_a_rejecting_extension_answers_503(
    client: Client, admin: Caller, receiver: Receiver
) -> None:
    item = await product(client, admin, "10.00")
    made = await extension(client, admin, receiver.url(), timeout_ms=300)
    receiver.answer, receiver.drip = tax_answer("1.50"), 0.05  # ~4 s for the whole body

    started = time.perf_counter()
    quote = await quoted(client, admin, basket((item, 1), customer="drip"))
    fell_back = time.perf_counter() - started
    expect_ok(
        await client.patch(f"/api/v1/extensions/{made['id']}", json={"on_failure": "reject"}, headers=admin.headers)
    )
    started = time.perf_counter()
    rejected = await client.post(QUOTE, json=basket((item, 1), customer="drip-2"), headers=admin.headers)
    refused = time.perf_counter() - started

    assert quote["warnings"] == [{"code": "EXTENSION_FALLBACK", "extension_id": made["id"]}]
    expect_error(rejected, 503, "EXTENSION_UNAVAILABLE")
    assert failures(made["id"], "timeout") == 2
    assert fell_back < 1.0, f"the fallback quote took {fell_back:.2f} s"
    assert refused < 1.0, f"the 503 took {refused:.2f} s"
