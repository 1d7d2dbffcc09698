"""The quote store on its own: Redis bytes per live quote, put() under concurrency, read-back CPU.

    uv run python loadtests/bench_quote_store.py [--quotes 3000] [--rounds 5] [--concurrency 1 16 64]

Starts a private redis-server (tests/faults/private.py: a free port, no persistence) and uses a
scratch database `qs_store_bench_<pid>` on the local PostgreSQL (the quote log's writes land
there; dropped afterwards). The quotes are bench_engine.py's: its typical configuration and
different 3-line baskets over its 300-product catalog, each with its own id, priced once up front.

1. Warm-up: --quotes puts, so a store that trains a dictionary on the deployment's quotes has one.
2. Bytes: Redis `used_memory` growth ÷ --quotes further quotes stored (key, value, TTL and Redis's
   own overhead: what an operator sizes), and the mean stored value.
3. put() under N concurrent requests (each N in --concurrency): N tasks putting back to back,
   --rounds rounds of --quotes puts; per round the puts/s, each put's p50/p99 latency and this
   process's CPU µs per put (encode, compress, log row, group commit, the quote-log writer's share).
4. Read-back: get() of stored quotes one after another, CPU µs per read.
5. Where the library allows (this tree has quotes/compact.py): timeit of each step on the bench
   basket (bench_engine.REQUEST) and a varied basket, in CPU time: JSON encode, compress,
   decompress + decode (`--steps-only`: just this, no servers).

To compare two commits, run the same script in both trees, alternating (the box is shared):
    git worktree add /tmp/store-before <commit>
    cp loadtests/bench_quote_store.py /tmp/store-before/loadtests/
    uv run python /tmp/store-before/loadtests/bench_quote_store.py   # measures that tree's code
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

# This script's own tree first (a copy in another worktree measures that tree), as bench_engine.py does.
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

import bench_engine  # noqa: E402 - the sibling script: its configuration and baskets
import msgspec  # noqa: E402
from plumbing import ADMIN_URL, database  # noqa: E402

from quote_service.cache.redis import create_redis  # noqa: E402
from quote_service.clock import utcnow  # noqa: E402
from quote_service.db.migrate import apply_migrations  # noqa: E402
from quote_service.db.pool import create_pool  # noqa: E402
from quote_service.pricing.engine import price_quote  # noqa: E402
from quote_service.pricing.quote import EngineDefaults, Quote  # noqa: E402
from quote_service.quotes.store import QuoteStore, quote_key  # noqa: E402
from tests.faults.private import PrivateRedis  # noqa: E402


def priced(count: int, seed: int) -> list[Quote]:
    """`count` different 3-line quotes of the benchmark configuration, valid for 15 minutes from now."""
    snapshot, defaults, now = bench_engine.typical_snapshot(), EngineDefaults(), utcnow()
    quotes = []
    for request, customer in bench_engine.varied_baskets(count, seed=seed):
        quote = price_quote(
            request, snapshot=snapshot, products=bench_engine.PRODUCTS, flash=bench_engine.FLASH,
            customer=customer, defaults=defaults, now=now, quote_id=uuid.uuid4(),
        )  # fmt: skip
        quotes.append(quote)
    return quotes


async def put_all(store: QuoteStore, quotes: list[Quote], concurrency: int) -> tuple[float, list[float], float]:
    """(wall seconds, each put's latency in seconds, CPU seconds) for `quotes` put by `concurrency` tasks."""
    latencies: list[float] = []
    queue = iter(quotes)

    async def worker() -> None:
        for quote in queue:
            started = time.perf_counter()
            await store.put(quote, now=utcnow())
            latencies.append(time.perf_counter() - started)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall, latencies, time.process_time() - cpu


async def measure(args: argparse.Namespace, database_url: str, redis_url: str) -> None:
    redis = create_redis(redis_url)
    pool = await create_pool(database_url, min_size=1, max_size=4)
    store = QuoteStore(redis, pool, spool=Path(tempfile.mkdtemp(prefix="qs-bench-spool-")))
    await store.start()
    try:
        await put_all(store, priced(args.quotes, seed=1), 16)
        codec = getattr(store, "codec", None)
        while codec is not None and codec.dictionary_id is None:  # noqa: ASYNC110 - a plain attribute, no event to wait on
            await asyncio.sleep(0.05)  # the dictionary is trained off the event loop
        measured = priced(args.quotes, seed=2)
        before = int((await redis.info("memory"))["used_memory"])
        await put_all(store, measured, 16)
        grown = int((await redis.info("memory"))["used_memory"]) - before
        values = [len(v) for v in await redis.mget([quote_key(q.quote_id) for q in measured]) if v is not None]
        json_mean = statistics.mean(len(msgspec.json.encode(q)) for q in measured)
        print(
            f"bytes: used_memory growth {grown / len(measured):.0f} B per live quote; stored value mean "
            f"{statistics.mean(values):.0f} B (JSON {json_mean:.0f} B); {len(measured)} 3-line quotes"
        )
        for concurrency in args.concurrency:
            rounds = []
            for _ in range(args.rounds):
                wall, latencies, cpu = await put_all(store, priced(args.quotes, seed=3), concurrency)
                q = statistics.quantiles(latencies, n=100)
                rounds.append((len(latencies) / wall, q[49] * 1e3, q[98] * 1e3, cpu / len(latencies) * 1e6))
            med = [statistics.median(r[i] for r in rounds) for i in range(4)]
            print(
                f"put x{concurrency:<3} median of {args.rounds}: {med[0]:.0f} puts/s, p50 {med[1]:.2f} ms, "
                f"p99 {med[2]:.2f} ms, CPU {med[3]:.1f} µs/put"
            )
        reads = measured[:1000]
        cpu = time.process_time()
        for quote in reads:
            assert await store.get(quote.quote_id, now=utcnow()) is not None
        print(f"get: CPU {(time.process_time() - cpu) / len(reads) * 1e6:.1f} µs/read")
    finally:
        await store.stop()
        await redis.aclose()
        await pool.close()


def steps() -> None:
    """timeit of each step on the bench basket, where the tree has the compact codec."""
    try:
        import zstandard

        from quote_service.quotes import compact
    except ImportError:
        print("steps: this tree stores JSON (no quotes/compact.py)")
        return
    quote = priced(1, seed=4)[0]
    bench = price_quote(
        bench_engine.REQUEST, snapshot=bench_engine.typical_snapshot(), products=bench_engine.PRODUCTS,
        flash=bench_engine.FLASH, customer=bench_engine.CUSTOMER, defaults=EngineDefaults(),
        now=utcnow(), quote_id=uuid.uuid4(),
    )  # fmt: skip
    samples = [msgspec.json.encode(q) for q in priced(compact.MIN_SAMPLES, seed=5)]
    data = zstandard.train_dictionary(compact.DICTIONARY_BYTES, samples, k=1024, d=8).as_bytes()
    compressor = compact.compressor(data)
    decompressor = zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(data))
    for name, q in (("bench basket (bench_engine.REQUEST)", bench), ("a varied 3-line basket", quote)):
        step_times(name, q, compressor, decompressor)


def step_times(name: str, quote: Quote, compressor: Any, decompressor: Any) -> None:
    decoder = msgspec.json.Decoder(Quote)
    encoder = msgspec.json.Encoder()
    payload = encoder.encode(quote)
    packed = compressor.compress(payload)

    def best(fn: Callable[[], object]) -> float:
        # CPU time, not wall time: on a shared box the wall clock counts the neighbours' turns.
        return min(timeit.Timer(fn, timer=time.process_time).repeat(number=2000, repeat=7)) / 2000 * 1e6

    print(
        f"steps, {name}: JSON {len(payload)} B -> {len(packed) + 9} B stored; JSON encode "
        f"{best(lambda: encoder.encode(quote)):.1f} µs, compress {best(lambda: compressor.compress(payload)):.1f} µs; "
        f"JSON decode {best(lambda: decoder.decode(payload)):.1f} µs, decompress + decode "
        f"{best(lambda: decoder.decode(decompressor.decompress(packed))):.1f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quotes", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--steps-only", action="store_true", help="only the timeit of each step (no servers)")
    args = parser.parse_args()
    if args.steps_only:
        steps()
        return
    import quote_service

    print(f"tree: {Path(quote_service.__file__).resolve().parents[1]}")
    name = f"qs_store_bench_{os.getpid()}"
    redis = PrivateRedis()
    asyncio.run(database(name, create=True))
    database_url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        redis.start()
        asyncio.run(apply_migrations(database_url))
        asyncio.run(measure(args, database_url, redis.url))
        steps()
    finally:
        redis.close()
        asyncio.run(database(name, create=False))


if __name__ == "__main__":
    main()
