"""What the benchmark scripts share: the servers' URLs, a scratch database, readiness, the demo
seed and a service key, wrk, the reference server. bench.py, bench_flash.py, bench_ingest.py,
bench_login.py and bench_analytics.py import it; it imports none of them (no import circle)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

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


def wrk(
    base: str, path: str, *, connections: int, duration: float, script: Path | None, threads: int = 2
) -> dict[str, float]:
    """Run wrk once; rps, p50/p99 in ms and non-2xx responses."""
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
    return result


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
    seed = [sys.executable, "-m", "quote_service.cli", "seed-demo"]
    subprocess.run(seed, env=env, check=True, capture_output=True)  # noqa: S603 - our own CLI
    with httpx.Client(base_url=base, timeout=10) as http:
        login = {"username": "demo-admin", "password": "quote-service-admin"}
        token = http.post("/api/v1/auth/token", json=login).json()["data"]["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        key = http.post("/api/v1/api-keys", json={"name": "bench"}, headers=admin).json()["data"]["key"]
        products = http.get("/api/v1/products", params={"limit": 500}, headers=admin).json()["data"]["items"]
    return key, [p["id"] for p in products]


async def database(name: str, create: bool, admin_url: str = ADMIN_URL) -> None:
    """Drop the database `name`, and create it afresh when `create`."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def wait_ready(base: str, process: subprocess.Popen[bytes], path: str = "/health/ready") -> None:
    """Wait until the server answers `path` with 200 (a minute at most)."""
    deadline = time.monotonic() + 60
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


def start_reference(port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """loadtests/reference_app.py on `port` (granian, `workers` workers)."""
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(ROOT)])}
    return subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(here / "reference_app.py"), "--port", str(port), "--workers", str(workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then wait for the exit."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
