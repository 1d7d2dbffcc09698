"""What the benchmark scripts share: the servers' URLs, a scratch database, readiness, the demo
seed and a service key, wrk, the reference server, a private redis-server. bench.py, bench_flash.py, soak.py and
the other scripts here import it; it imports none of them (no import circle)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

LUA = """
local ids = {%(ids)s}
local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = "%(key)s"%(money)s}
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  local items = {}
  for i = 1, math.random(1, 4) do
    items[i] = string.format('{"product_id":"%%s","quantity":%%d}', ids[math.random(#ids)], math.random(1, 5))
  end
  local body = string.format('{"customer_id":"c-%%d","seller_id":"seller-anatolia","items":[%%s],' ..
    '"delivery_address":{"city":"Istanbul","country":"TR","latitude":41.0082,"longitude":28.9784},' ..
    '"pickup_address":{"city":"Istanbul","country":"TR","latitude":41.0186,"longitude":29.0023},' ..
    '"is_express_delivery":%%s,"coupon_codes":["WELCOME10"],"currency":"TRY","customer_tier":"gold"}',
    math.random(1, 1000000000), table.concat(items, ","), math.random(0, 1) == 1 and "true" or "false")
  return wrk.format("POST", "/api/v1/quote", headers, body)
end
"""


def interpreter(maps: str | None = None) -> str:
    """The interpreter every benchmark process runs (the servers are started with this one), with
    what of its build moves a benchmark's absolute figures: on one 2-vCPU VM, the same code took
    ~15 % less CPU a quote on Debian's python3.11 (built with PGO and LTO, libpython in the
    executable) than on a pyenv build without --enable-optimizations and with a shared libpython
    (BENCHMARKS.md, "Decisions"). Ratios inside one run are unaffected.
    `maps` is /proc/self/maps' text (read when None)."""
    if maps is None:
        try:
            maps = Path("/proc/self/maps").read_text()
        except OSError:
            maps = ""
    shared = sorted({line.rsplit("/", 1)[-1] for line in maps.splitlines() if "/libpython" in line})
    flags = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    build = [flag for flag in ("--enable-optimizations", "--with-lto") if flag in flags]
    return (
        f"{platform.python_implementation()} {platform.python_version()} at {os.path.realpath(sys.executable)}; "
        f"libpython {'shared (' + ', '.join(shared) + ')' if shared else 'in the executable'}; "
        f"configure flags {' '.join(build) if build else 'without --enable-optimizations or --with-lto'}"
    )


def wrk(
    base: str, path: str, *, connections: int, duration: float, script: Path | None, threads: int = 2
) -> dict[str, float]:
    """Run wrk once; rps, p50/p99 in ms and non-2xx responses."""
    return wrk_result(base, path, connections=connections, duration=duration, script=script, threads=threads)[0]


def wrk_result(
    base: str, path: str, *, connections: int, duration: float, script: Path | None, threads: int = 2
) -> tuple[dict[str, float], Counter[int]]:
    """`wrk`, and the responses by status when the script prints `STATUS <code> <count>` lines
    (and `body_bytes` when it prints `BODY_BYTES <n>`)."""
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, base + path], capture_output=True, text=True, check=True).stdout  # noqa: S603
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    result["requests"] = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    for label, key in (("50%", "p50_ms"), ("99%", "p99_ms")):
        match = re.search(rf"{re.escape(label)}\s+([\d.]+)(us|ms|s)", out)
        assert match is not None, out
        value, unit = float(match.group(1)), match.group(2)
        result[key] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["non_2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    result["socket_errors"] = float(sum(int(g) for g in errors.groups())) if errors else 0.0
    body = re.search(r"^BODY_BYTES (\d+)$", out, re.MULTILINE)
    if body:
        result["body_bytes"] = float(body.group(1))
    statuses = Counter(
        {int(code): int(count) for code, count in re.findall(r"^STATUS (\d+) (\d+)$", out, re.MULTILINE)}
    )
    return result, statuses


def check_free(*ports: int) -> None:
    """Exit unless wrk is on PATH and nothing listens on `ports` (else a run would measure whatever does)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk; the scaling bundle carries one)")
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"port {port} is in use: choose another (--port, --reference-port)")


def prepare(base: str, env: dict[str, str]) -> tuple[str, list[str]]:
    """The demo catalog and its typical configuration (seed-demo); returns (service API key, product ids)."""
    key, by_sku = prepared(base, env)
    return key, list(by_sku.values())


def prepared(
    base: str, env: dict[str, str], python: str = sys.executable, cwd: Path | None = None
) -> tuple[str, dict[str, str]]:
    """`prepare`, by the CLI of `python` run in `cwd` (another checkout's); the product ids by SKU."""
    seed = [python, "-m", "quote_service.cli", "seed-demo"]
    subprocess.run(seed, env=env, check=True, capture_output=True, cwd=cwd)  # noqa: S603 - our own CLI
    with httpx.Client(base_url=base, timeout=10) as http:
        login = {"username": "demo-admin", "password": "quote-service-admin"}
        token = http.post("/api/v1/auth/token", json=login).json()["data"]["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        key = http.post("/api/v1/api-keys", json={"name": "bench"}, headers=admin).json()["data"]["key"]
        products = http.get("/api/v1/products", params={"limit": 500}, headers=admin).json()["data"]["items"]
    return key, {p["sku"]: p["id"] for p in products}


def backends(database_name: str) -> tuple[int, ...]:
    """The pids of the PostgreSQL backends connected to `database_name` now (a server's pool)."""

    async def found() -> tuple[int, ...]:
        conn = await asyncpg.connect(ADMIN_URL)
        try:
            rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database_name)
        finally:
            await conn.close()
        return tuple(row["pid"] for row in rows)

    return asyncio.run(found())


async def database(name: str, create: bool, admin_url: str = ADMIN_URL) -> None:
    """Drop the database `name`, and create it afresh when `create`."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def on_migrated_database(name: str, work: Callable[[str], Awaitable[None]]) -> None:
    """`work(url)` on a scratch database `name` of the local PostgreSQL, migrated first, dropped afterwards."""
    from quote_service.db.migrate import apply_migrations

    asyncio.run(database(name, create=True))
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        asyncio.run(apply_migrations(url))
        asyncio.run(work(url))
    finally:
        asyncio.run(database(name, create=False))


def wait_ready(base: str, process: subprocess.Popen[bytes], path: str = "/health/ready", seconds: float = 60) -> None:
    """Wait until the server answers `path` with 200 (a minute at most, or `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if httpx.get(base + path, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def start_reference(
    port: int, workers: int = 1, *, app: str = "reference_app.py", env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """loadtests/reference_app.py (or `app`, another script of this folder taking the same
    options: work_app.py) on `port` (granian, `workers` workers), `env` added to its environment."""
    here = Path(__file__).resolve().parent
    # Ahead of the caller's PYTHONPATH, not instead of it: where packages come from a --target folder
    # (a machine with no virtual environment), the reference needs them too.
    paths = [str(here), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    environment = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(here / app), "--port", str(port), "--workers", str(workers)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then wait for the exit."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_redis(port: int, maxmemory: str | None, policy: str, root: Path) -> subprocess.Popen[bytes]:
    """A private redis-server (no persistence), capped when `maxmemory` is given."""
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(root)]  # fmt: skip
    if maxmemory:
        command += ["--maxmemory", maxmemory, "--maxmemory-policy", policy]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port).ping():
                return process
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


@dataclass
class PrivateService:
    """`quote-service serve` on a private redis-server and a scratch database, seeded (demo data)."""

    base: str
    server: subprocess.Popen[bytes]
    store: redis.Redis
    database_url: str
    key: str
    """A service API key."""
    products: list[str]
    root: Path
    """A scratch directory, removed afterwards."""


@contextlib.contextmanager
def private_service(
    *,
    port: int,
    workers: int,
    maxmemory: str | None = None,
    policy: str = "noeviction",
    ready_seconds: float = 60,
    **env: str,
) -> Iterator[PrivateService]:
    """Serve on a redis-server of its own (its `used_memory` is this run's alone) and a fresh
    database `qs_priv_<pid>` on the local PostgreSQL; both removed afterwards. `env`: more
    service settings; `ready_seconds`: how long the server may take to start (a loaded box)."""
    root = Path(tempfile.mkdtemp(prefix="qs-bench-"))
    redis_port = free_port()
    store_process = start_redis(redis_port, maxmemory, policy, root)
    name = f"qs_priv_{os.getpid()}"
    asyncio.run(database(name, create=True))
    database_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    service_env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                   "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json", "RATE_LIMIT_PER_MINUTE": "100000000",
                   "ENVIRONMENT": "development", "METRICS_PUBLIC": "true", **env}  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "quote_service.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=service_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ready(base, server, seconds=ready_seconds)
        key, products = prepare(base, service_env)
        yield PrivateService(base, server, redis.Redis(port=redis_port), database_url, key, products, root)
    finally:
        stop(server)
        store_process.kill()
        store_process.wait()
        asyncio.run(database(name, create=False))
        shutil.rmtree(root, ignore_errors=True)
