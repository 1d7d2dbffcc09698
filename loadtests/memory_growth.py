"""Where a worker's memory goes under the soak's load: tracemalloc snapshots of one in-process app.

    uv run python loadtests/memory_growth.py [--quotes 60000] [--every 20000] [--top 15]

The soak (loadtests/soak.py) says whether server memory levels off; this says what holds it.
One app (`create_app`, the service's own lifespan) on a private redis-server and a scratch
database on the local PostgreSQL, the demo catalog seeded; 32 concurrent clients send the
soak's distinct 3-line baskets through a service key. After a warm-up of `--every` quotes it
takes a tracemalloc snapshot every `--every` quotes and prints the allocation sites that grew
the most since the first one (what the app holds that it did not before: a structure that keeps
filling shows up here, a bounded one that is already full does not), and the process's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

from litestar.testing import AsyncTestClient
from plumbing import ADMIN_URL, database, free_port, start_redis


def rss_mib() -> float:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def basket(products: list[str], rng: random.Random) -> dict[str, object]:
    chosen = rng.sample(products, 3)
    return {
        "customer_id": f"soak-{rng.randrange(1, 2_000_000_000)}",
        "seller_id": "seller-anatolia",
        "items": [{"product_id": p, "quantity": rng.randint(1, 3)} for p in chosen],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
        "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0186, "longitude": 29.0023},
        "is_express_delivery": False,
        "coupon_codes": ["WELCOME10"],
        "currency": "TRY",
        "customer_tier": "gold",
    }


async def drive(args: argparse.Namespace) -> None:
    from quote_service.app import create_app

    app = create_app()
    async with AsyncTestClient(app=app, timeout=30) as http:
        login = {"username": "demo-admin", "password": "quote-service-admin"}
        token = (await http.post("/api/v1/auth/token", json=login)).json()["data"]["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        key = (await http.post("/api/v1/api-keys", json={"name": "memory"}, headers=admin)).json()["data"]["key"]
        items = (await http.get("/api/v1/products", params={"limit": 500}, headers=admin)).json()["data"]["items"]
        products = [p["id"] for p in items if p.get("currency", "TRY") == "TRY"]
        headers = {"X-API-Key": key}
        sent = 0
        statuses: dict[int, int] = {}

        async def client(seed: int, quota: int) -> None:
            nonlocal sent
            rng = random.Random(seed)
            for _ in range(quota):
                answer = await http.post("/api/v1/quote", json=basket(products, rng), headers=headers)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                sent += 1

        first: tracemalloc.Snapshot | None = None
        rounds = args.quotes // args.every
        for round_ in range(rounds + 1):
            await asyncio.gather(*(client(round_ * 1000 + c, args.every // 32) for c in range(32)))
            gc.collect()
            if first is None:
                tracemalloc.start(args.frames)
                first = tracemalloc.take_snapshot()
                print(f"warm after {sent} quotes: RSS {rss_mib():.0f} MiB; statuses {statuses}", flush=True)
                continue
            snapshot = tracemalloc.take_snapshot()
            traced, _ = tracemalloc.get_traced_memory()
            print(
                f"\nafter {sent} quotes: RSS {rss_mib():.0f} MiB, traced since warm {traced / 2**20:.1f} MiB; "
                f"statuses {statuses}",
                flush=True,
            )
            for stat in snapshot.compare_to(first, "traceback")[: args.top]:
                frames = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback)
                print(f"  {stat.size_diff / 2**20:+8.2f} MiB {stat.count_diff:+8d} blocks  {frames}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=60_000, help="quotes after the warm-up")
    parser.add_argument("--every", type=int, default=20_000, help="quotes between snapshots (and the warm-up)")
    parser.add_argument("--top", type=int, default=15, help="allocation sites printed per snapshot")
    parser.add_argument("--frames", type=int, default=4, help="traceback frames kept per allocation")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="qs-memory-"))
    redis_port = free_port()
    store = start_redis(redis_port, None, "noeviction", root)
    name = f"qs_memory_{os.getpid()}"
    asyncio.run(database(name, create=True))
    env = {
        "DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_PER_MINUTE": "100000000",
        "ENVIRONMENT": "development",
    }
    os.environ.update(env)
    try:
        seed = [sys.executable, "-m", "quote_service.cli", "seed-demo"]
        subprocess.run(seed, env=os.environ, check=True, capture_output=True)  # noqa: S603 - our own CLI
        asyncio.run(drive(args))
    finally:
        store.kill()
        store.wait()
        asyncio.run(database(name, create=False))
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
