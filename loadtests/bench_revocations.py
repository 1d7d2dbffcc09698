"""What the logout revocation list costs: per bearer request, at start-up, and to reach other processes.

    uv run python loadtests/bench_revocations.py [--revoked 100000] [--calls 50000] [--rounds 20]

On the local PostgreSQL/Redis (a fresh database `qs_bench_revocations_<pid>`, dropped afterwards;
Redis db 12): migrates, creates one user, records --revoked logged-out tokens, then prints

1. the per-request cost of authenticating a bearer token with a warm principal cache
   (`AuthService.principal_from_bearer`), without a revocation list and with --revoked entries in
   it — the median of 7 timings of --calls calls each, taken in turns, in µs per call. API keys never reach the
   check (nor do the lean edge's API-key quotes);
2. the start-up load of the list (`Revocations.open`'s first look) with --revoked rows, and the
   check alone (one dictionary lookup);
3. how long a logout takes to be refused by another process: --rounds logouts on one
   `Revocations`, each timed until a second one (its own pool and Redis client, as another
   process) refuses the token — through the Redis message, then with the message dropped
   (PostgreSQL poll only, every second).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import timeit
import uuid

import asyncpg
from redis.asyncio import Redis

from quote_service.auth import credentials
from quote_service.auth.revocations import Revocations
from quote_service.auth.service import AuthService
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.migrate import apply_migrations
from quote_service.db.pool import create_pool

ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REVOCATIONS_REDIS_URL", "redis://127.0.0.1:6379/12")
GIVE_UP_SECONDS = 10.0


async def per_call_us(services: list[AuthService], token: str, calls: int) -> list[float]:
    """Per service, the median over 7 timings of `calls` warm `principal_from_bearer` calls, in µs
    per call; the services take turns, so a noisy moment on a shared machine hits them alike."""
    timings: list[list[float]] = [[] for _ in services]
    for service in services:
        await service.principal_from_bearer(token)  # fills the principal cache
    for _ in range(7):
        for service, times in zip(services, timings, strict=True):
            started = time.perf_counter()
            for _ in range(calls):
                await service.principal_from_bearer(token)
            times.append((time.perf_counter() - started) / calls * 1e6)
    return [statistics.median(times) for times in timings]


async def refused_after(one: Revocations, other: Revocations, settings: Settings, user_id: uuid.UUID) -> float:
    """Seconds from `one.revoke` returning until `other` refuses the token."""
    token = credentials.issue_token(settings, user_id=user_id, role="user", tier=None, segment=None, now=utcnow())
    claims = credentials.decode_claims(settings, token)
    await one.revoke(claims)
    started = time.perf_counter()
    while not other.is_revoked(claims.jti):
        if time.perf_counter() - started > GIVE_UP_SECONDS:
            raise RuntimeError(f"the other process did not learn of the logout in {GIVE_UP_SECONDS} s")
        await asyncio.sleep(0.0005)  # polled: the question is when it learns, not how to be told
    return time.perf_counter() - started


async def bench(args: argparse.Namespace, database_url: str) -> None:
    await apply_migrations(database_url)
    settings = Settings(database_url=database_url, redis_url=REDIS_URL)
    pools = [await create_pool(database_url, min_size=1, max_size=4) for _ in range(2)]
    redises = [Redis.from_url(REDIS_URL) for _ in range(2)]
    await redises[0].flushdb()
    conn = await asyncpg.connect(database_url)  # no statement timeout: a loaded machine may take a while
    try:
        user_id = await conn.fetchval(
            "INSERT INTO users (username, password_hash, role) VALUES ('bench', 'x', 'user') RETURNING id"
        )
        await conn.execute(
            """INSERT INTO revoked_tokens (jti, user_id, expires_at)
               SELECT md5(g::text), $1, now() + interval '1 hour' FROM generate_series(1, $2) AS g""",
            user_id,
            args.revoked,
        )
    finally:
        await conn.close()
    token = credentials.issue_token(settings, user_id=user_id, role="user", tier=None, segment=None, now=utcnow())
    claims_jti = credentials.decode_claims(settings, token).jti

    one, other = Revocations(pools[0], redises[0]), Revocations(pools[1], redises[1])
    started = time.perf_counter()
    await one.look()  # what `open` does first; its background tasks would starve in the timing loops
    load_ms = (time.perf_counter() - started) * 1000
    without, with_list = await per_call_us(
        [AuthService(settings, pools[0]), AuthService(settings, pools[0], revocations=one)], token, args.calls
    )
    await one.open()
    await other.open()
    print(f"bearer auth, warm: {without:.2f} µs/call without a list, {with_list:.2f} µs/call with {len(one):,} revoked")
    print(f"start-up load of {len(one):,} revocations: {load_ms:.0f} ms")
    check = min(timeit.repeat(lambda: one.is_revoked(claims_jti), number=1_000_000, repeat=5))
    print(f"the check alone (`is_revoked`, a miss, {len(one):,} entries): {check * 1000:.0f} ns")

    await asyncio.sleep(0.5)  # both subscribed (the channel follower confirms its subscription)
    by_message = [await refused_after(one, other, settings, user_id) for _ in range(args.rounds)]
    print(
        f"refused by another process, Redis message: median {statistics.median(by_message) * 1000:.2f} ms, "
        f"max {max(by_message) * 1000:.2f} ms ({args.rounds} logouts)"
    )

    async def dropped(*_: object) -> int:
        return 0

    one._redis.publish = dropped  # type: ignore[method-assign]  # the message is lost
    by_poll = [await refused_after(one, other, settings, user_id) for _ in range(max(3, args.rounds // 4))]
    print(
        f"refused by another process, message lost (poll only): median {statistics.median(by_poll) * 1000:.0f} ms, "
        f"max {max(by_poll) * 1000:.0f} ms"
    )
    for revocations in (one, other):
        await revocations.stop()
    for pool in pools:
        await pool.close()
    for redis in redises:
        await redis.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revoked", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    name = f"qs_bench_revocations_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await bench(args, ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
