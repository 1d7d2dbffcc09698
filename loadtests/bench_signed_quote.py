"""A signed, self-contained quote against the stored one: what each costs a quote, in CPU.

    uv run python loadtests/bench_signed_quote.py [--quotes 2000] [--rounds 7] [--batch 64]

Issue 73 asked to measure, for a quote that reserves nothing, a quote the service signs and the
order presents back (no Redis write) against today's store (docs/hot-path.md#stored-quotes-and-their-bytes).
On a fresh demo database (seed-demo, dropped afterwards) it prices `--quotes` distinct demo
baskets with the service's engine (loadtests/work_app.py) and keeps their JSON, then each round:

- `store`: what the Redis write costs, done by `QuoteStore`'s own group commit, `--batch` quotes
  a call (the concurrent requests): each quote's zstd frame (`QuoteCodec.pack`, the dictionary
  trained on the quotes), one lean `EVALSHA` on a private redis-server, a future per quote resolved
  — this process's CPU a quote (the frames alone measured apart), and the redis-server's (its
  `/proc/PID/schedstat`);
- `signed`: HMAC-SHA256 of the quote's JSON with a 32-byte key and the tag in base64url (what a
  response would carry), this process's CPU a quote; and `verify`: what an order presenting the
  quote's JSON and its tag back would cost to check (`hmac.compare_digest` of a fresh tag).

Prints the medians of `--rounds` rounds (the first warms up) and the sizes: the stored value (the
frame) and what a self-contained order request would carry back (the quote's JSON and the tag).
Needs the README's test setup (PostgreSQL; redis-server on PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import redis.asyncio as redis_asyncio
from bench_hot_path import basket
from plumbing import free_port, start_redis, stop
from work_app import _DECODER, _ENCODER, Work, load_demo, priced

from quote_service.quotes.compact import QuoteCodec
from quote_service.quotes.store import QuoteStore


def cpu_ns(pid: int) -> int:
    """The CPU time process `pid` has run (ns; schedstat's first field)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


async def store_round(store: QuoteStore, quotes: list[bytes], batch: int) -> None:
    """Every quote written by the store's own group commit (`_commit_once`: the frames, one lean
    EVALSHA, the futures), `batch` requests' quotes a call."""
    loop = asyncio.get_running_loop()
    valid_until = time.time() + 900
    for start in range(0, len(quotes), batch):
        futures = []
        for n, payload in enumerate(quotes[start : start + batch]):
            future = loop.create_future()
            store._pending.append((f"qs:quote:bench-{start + n}", b"", payload, valid_until, future))
            futures.append(future)
        await store._commit_once()
        await asyncio.gather(*futures)


def frames_round(codec: QuoteCodec, quotes: list[bytes]) -> None:
    valid_until = time.time() + 900
    for payload in quotes:
        codec.pack(payload, valid_until)


def signed_round(key: bytes, quotes: list[bytes]) -> list[bytes]:
    return [base64.urlsafe_b64encode(hmac.digest(key, payload, "sha256")) for payload in quotes]


def verify_round(key: bytes, quotes: list[bytes], tags: list[bytes]) -> None:
    for payload, tag in zip(quotes, tags, strict=True):
        if not hmac.compare_digest(base64.urlsafe_b64encode(hmac.digest(key, payload, "sha256")), tag):
            raise AssertionError("a tag did not verify")


async def measure(args: argparse.Namespace, quotes: list[bytes]) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as root:
        server = start_redis(port, None, "noeviction", Path(root))
        client = redis_asyncio.Redis(port=port)
        try:
            store = QuoteStore(client, cast(Any, None), spool=Path(root) / "spool")  # its quote log is not started
            codec = store.codec
            for payload in quotes[:64]:
                codec.pack(payload, time.time() + 900)  # the samples it trains on
            await codec.train()
            assert codec.dictionary_id is not None, "no dictionary trained"
            key = os.urandom(32)
            names = ("store", "frames", "store redis", "signed", "verify")
            costs: dict[str, list[float]] = {name: [] for name in names}
            for round_ in range(args.rounds + 1):
                redis_before, me = cpu_ns(server.pid), time.process_time_ns()
                await store_round(store, quotes, args.batch)
                store_me, store_redis = time.process_time_ns() - me, cpu_ns(server.pid) - redis_before
                me = time.process_time_ns()
                frames_round(codec, quotes)
                frames = time.process_time_ns() - me
                me = time.process_time_ns()
                tags = signed_round(key, quotes)
                signed = time.process_time_ns() - me
                me = time.process_time_ns()
                verify_round(key, quotes, tags)
                verify = time.process_time_ns() - me
                if round_:
                    for name, value in (
                        ("store", store_me), ("frames", frames), ("store redis", store_redis), ("signed", signed),
                        ("verify", verify),
                    ):  # fmt: skip
                        costs[name].append(value / len(quotes) / 1000)
                    print(f"round {round_}: " + ", ".join(f"{name} {values[-1]:.1f}" for name, values in costs.items()))
            frame = codec.pack(quotes[0], time.time() + 900)
            medians = {name: statistics.median(values) for name, values in costs.items()}
            print(f"µs a quote, medians of {args.rounds} rounds of {len(quotes)} quotes (batches of {args.batch}):")
            print(f"  stored: this process {medians['store']:.1f} (the zstd frames {medians['frames']:.1f}, the call"
                  f" {medians['store'] - medians['frames']:.1f}) + redis-server {medians['store redis']:.1f}"
                  f" = {medians['store'] + medians['store redis']:.1f}")  # fmt: skip
            print(f"  signed: {medians['signed']:.1f} (an order's check of it: {medians['verify']:.1f})")
            mean_json = statistics.mean(len(q) for q in quotes)
            print(
                f"bytes: stored value ~{len(frame) + 17} (the frame and who made it); a self-contained order "
                f"request carries the quote's JSON back, ~{mean_json:,.0f}, and the tag, {len(tags[0])}"
            )
        finally:
            await client.aclose()
            stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=64, help="quotes a group-commit call (the requests in flight)")
    args = parser.parse_args()
    load_demo()
    rng, ids = random.Random(3), sorted(p for p, product in Work.products.items() if product.is_active)
    quotes = [_ENCODER.encode(priced(_DECODER.decode(basket(ids, rng)))) for _ in range(args.quotes)]
    asyncio.run(measure(args, quotes))


if __name__ == "__main__":
    main()
