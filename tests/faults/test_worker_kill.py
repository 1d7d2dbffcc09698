"""SIGKILL of one granian worker under quote load: the master respawns it and stays up.

Before, the master logged "Unexpected exit from worker-1", stopped the other worker and exited
1: every request failed until something outside restarted the service. Now the other worker
keeps answering while the killed one is replaced. Measured here (printed with `-s`): requests
that failed (those in flight on, or queued for, the killed worker), the time until the new
worker process exists and until it has started the application, and the quote-log rows lost
(none: every answered quote's row is in the spool before its answer leaves, and the next worker
writes what the killed one had not).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.faults.private import PrivatePostgres, PrivateRedis, ServiceProcess, service_env, serving
from tests.faults.scenario import QUOTE, Outcome, basket, seed, timed_request
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

CONCURRENCY = 16


def _workers(service: ServiceProcess) -> list[int]:
    """The granian workers alive now (not multiprocessing's resource tracker)."""
    found = []
    for pid in service.worker_pids():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:  # exited since it was listed (a worker just killed)
            continue
        if b"resource_tracker" not in command:
            found.append(pid)
    return found


def _app_starts(service: ServiceProcess) -> int:
    """Workers that have finished their application start-up (the lifespan's `started` line)."""
    return service.log_text().count('"event":"started"')


async def test_a_killed_worker_is_respawned_and_the_service_keeps_answering(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    env = service_env(private_pg.url, private_redis.url, METRICS_PUBLIC="true", QUOTE_LOG_SPOOL_DIR=str(spool))
    with serving(env, "--workers", "2") as service:
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(base_url=service.base, timeout=30, limits=limits) as http:
            data = await seed(http, private_pg.url)
            # ready means one worker has started; wait for both (polling another process: no event to await)
            await until(lambda: _app_starts(service) >= 2, "both workers' apps started", within=60)
            before = _workers(service)
            assert len(before) == 2, before
            starts_before = _app_starts(service)
            assert starts_before == 2, service.log_text()[-3000:]
            outcomes: list[Outcome] = []
            stop = asyncio.Event()

            async def quoting(worker: int) -> None:
                n = worker
                while not stop.is_set():
                    n += CONCURRENCY
                    body = basket(n, data.products)
                    outcomes.append(await timed_request(http, "POST", QUOTE, json=body, headers=data.service_key))

            load = [asyncio.create_task(quoting(w)) for w in range(CONCURRENCY)]
            await until(lambda: len(outcomes) >= 50, "the load gets going", within=60)
            victim = before[0]
            killed_at = time.monotonic()
            os.kill(victim, signal.SIGKILL)

            spawned_at = started_at = None
            while time.monotonic() - killed_at < 60 and started_at is None:
                current = _workers(service)
                if spawned_at is None and len(current) == 2 and victim not in current:
                    spawned_at = time.monotonic()
                if spawned_at is not None and _app_starts(service) > starts_before:
                    started_at = time.monotonic()
                assert service.alive(), f"the master exited:\n{service.log_text()[-3000:]}"
                await asyncio.sleep(0.02)
            assert spawned_at is not None, service.log_text()[-3000:]
            assert started_at is not None, service.log_text()[-3000:]
            settled = started_at + 0.5  # then load on both workers again, judged below

            def served_after_restart() -> bool:
                return sum(1 for o in outcomes if o.started > settled and o.status) >= 50

            await until(served_after_restart, "load served after the restart", within=60)
            stop.set()
            await asyncio.gather(*load)
            assert service.alive()

            # The killed worker's live gauges went with it: two workers' pools, nothing in flight
            # (each worker reads its in-flight count into the gauge every second: docs/operations.md).
            async def settled_gauges() -> bool:
                scrape = (await http.get("/metrics")).text.splitlines()
                return "qs_quotes_in_flight 0.0" in scrape and 'qs_db_pool_connections{state="max"} 20.0' in scrape

            await until(settled_gauges, "two workers' pools and nothing in flight on /metrics")
            # the quote log's counters before the stop (spooled bytes, rows replayed, dropped, rejected):
            # printed below if a row is lost
            scrape = (await http.get("/metrics")).text.splitlines()
            log_metrics = [line for line in scrape if line.startswith("qs_quote_log")]
        code = service.stop()
        service_log = service.log_text()  # read now: the log file goes with the block
        assert code == 0, service_log[-3000:]

    failed = [o for o in outcomes if o.status != 200]
    answered = [o for o in outcomes if o.status == 200]
    after_respawn = [o for o in outcomes if o.started > started_at + 0.5]
    print(
        f"{len(outcomes)} quotes, {len(failed)} failed (statuses {sorted({o.status for o in failed})}); "
        f"new worker process {spawned_at - killed_at:.2f} s after the kill, application started "
        f"{started_at - killed_at:.2f} s after it"
    )
    assert all(o.status in (0, 200, 503) for o in outcomes)
    assert len(failed) <= 2 * CONCURRENCY, "more failures than requests in flight on or queued for the worker"
    assert after_respawn
    assert all(o.status == 200 for o in after_respawn)
    # Replaced = the new worker's application started (its process alone can appear within 50 ms).
    assert [o for o in outcomes if killed_at < o.started < started_at and o.status == 200], (
        "the surviving worker must answer while the other is being replaced"
    )

    ids = [o.body["data"]["quote_id"] for o in answered if o.body]
    redis = Redis.from_url(private_redis.url)
    try:
        assert await redis.exists(*(f"qs:quote:{q}" for q in ids)) == len(ids), "an answered quote is not readable"
    finally:
        await redis.aclose()
    conn = await asyncpg.connect(private_pg.url)
    try:
        logged = {str(r["quote_id"]) for r in await conn.fetch("SELECT quote_id FROM quote_log")}
    finally:
        await conn.close()
    lost = [o for o in answered if o.body and o.body["data"]["quote_id"] not in logged]
    print(f"quote_log rows lost with the killed worker: {len(lost)} of {len(ids)} answered quotes")
    # Every answered quote's row was in the killed worker's spool before its answer left; the new
    # worker (or the other one) wrote what the dead one had not (quotes/spool.py). It used to lose
    # the rows answered in its last 0.2 s (0-42 here).
    if lost:  # what the next look needs: when they were answered, whether their rows are on disk, the log
        on_disk = b"".join(path.read_bytes() for path in spool.rglob("*") if path.is_file())
        kept = sum(1 for o in lost if o.body and o.body["data"]["quote_id"].encode() in on_disk)
        # the spool's and the writer's lines, and the workers' starts (a start tried again)
        told = ("spool", "quote_log", "start", "Spawning", "worker")
        spool_lines = [line for line in service_log.splitlines() if any(word in line for word in told)]
        print(
            f"lost rows answered {[round(o.started - killed_at, 2) for o in lost]} s after the kill "
            f"(application restarted at {started_at - killed_at:.2f} s); {kept} of them still in the spool on "
            f"disk ({sorted((p.name, p.stat().st_size) for p in spool.rglob('*') if p.is_file())}); "
            f"the service's spool and quote-log lines:",
            *spool_lines[-40:],
            "the quote log's metrics before the stop:",
            *log_metrics,
            sep="\n",
        )
    assert lost == []
    assert len({q for q in ids}) == len(ids) == len({uuid.UUID(q) for q in ids})
