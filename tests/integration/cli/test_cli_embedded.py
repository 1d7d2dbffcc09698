"""The `quote-service` command, run as a user would: a real process, real stores.

`serve` with neither DATABASE_URL nor REDIS_URL must start (and afterwards stop) an embedded
PostgreSQL and Redis under QUOTE_SERVICE_HOME; the other commands run against the test stores.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cli import demo
from quote_service.cli.demo_agent import DEMO_AGENT_KEY
from quote_service.db.migrate import load_migrations, migrations_dir
from tests.conftest import free_port
from tests.integration.catalog.test_catalog import PRODUCTS, error_of, product_body, success_data
from tests.integration.servers import CLI, cli_env, wait_until_ready

pytestmark = [pytest.mark.long, pytest.mark.slow]


def all_migrations() -> str:
    """How `migrate` names every migration on disk, in order."""
    return ", ".join(f"{m.version:04d}_{m.name}" for m in load_migrations(migrations_dir()))


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run the command to completion: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def redis_answers(sock: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2)
            conn.connect(sock)
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def postgres_answers(socket_dir: str) -> bool:
    for path in Path(socket_dir).glob(".s.PGSQL.*"):
        if path.suffix == ".lock":
            continue
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(2)
                conn.connect(str(path))
                return True
        except OSError:
            continue
    return False


def logged_event(log: str, event: str) -> dict[str, Any]:
    """The first JSON log line of `event` in a process's output."""
    for line in log.splitlines():
        if line.startswith("{") and f'"{event}"' in line:
            entry: dict[str, Any] = json.loads(line)
            if entry.get("event") == event:
                return entry
    raise AssertionError(f"no {event} in the log:\n{log}")


@pytest.fixture
def home() -> Iterator[Path]:
    """A QUOTE_SERVICE_HOME of its own, short enough for a Unix socket path."""
    path = Path(tempfile.mkdtemp(prefix="qs-home-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def login(http: httpx.Client, username: str, password: str) -> dict[str, Any]:
    response = http.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()["data"]
    return token


def test_serve_without_urls_runs_on_embedded_stores_and_stops_them(home: Path) -> None:
    env = cli_env(QUOTE_SERVICE_HOME=str(home))
    created = subprocess.run(  # noqa: S603 - our own console script
        [*CLI, "create-user", "--username", "alice", "--password", "wonderland-tea-party", "--role", "user"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert "created user alice" in created.stdout

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_file = home / "serve.log"
    with log_file.open("wb") as log_handle:
        server = subprocess.Popen(  # noqa: S603 - our own console script
            [*CLI, "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    redis_socket = postgres_socket_dir = ""
    try:
        wait_until_ready(server, base, log_file)
        log = log_file.read_text()
        redis_socket = urlsplit(logged_event(log, "embedded_redis")["url"]).path
        postgres_url = logged_event(log, "embedded_postgres")["url"]
        postgres_socket_dir = parse_qs(urlsplit(postgres_url).query)["host"][0]
        assert Path(redis_socket).is_relative_to(home)
        assert Path(postgres_socket_dir).is_relative_to(home)
        assert f"demo admin: {demo.DEMO_ADMIN[0]} / {demo.DEMO_ADMIN[1]}" in log
        assert f"demo seller ({demo.DEMO_SELLER_ID}): {demo.DEMO_SELLER[0]} / {demo.DEMO_SELLER[1]}" in log
        assert redis_answers(redis_socket)
        assert postgres_answers(postgres_socket_dir)

        with httpx.Client(base_url=base, timeout=10) as http:
            admin_token = login(http, *demo.DEMO_ADMIN)
            assert admin_token["role"] == "admin"
            alice_token = login(http, "alice", "wonderland-tea-party")
            assert alice_token["role"] == "user"

            as_alice = {"Authorization": f"Bearer {alice_token['access_token']}"}
            page = http.get("/api/v1/products", params={"limit": 500}, headers=as_alice).json()
            assert page["success"] is True
            assert page["data"]["next_cursor"] is None
            # The 50 demo products, the 2 ÖTV-taxed perfumes (docs/taxes.md), and the 20 of the
            # generated two-week history behind analytics.
            skus = [p["sku"] for p in page["data"]["items"]]
            assert len(set(skus)) == len(skus) == 72
            assert sum(sku.startswith("DEMO-") for sku in skus) == 50
            assert sum(sku.startswith("OTV-PERF-") for sku in skus) == 2
            assert sum(sku.startswith("GEN-") for sku in skus) == 20
            assert all(p["currency"] == "TRY" for p in page["data"]["items"])

            as_admin = {"Authorization": f"Bearer {admin_token['access_token']}"}
            response = http.post("/api/v1/products", json=product_body(sku="LIVE-1"), headers=as_admin)
            assert response.status_code == 201, response.text
            refused = http.post("/api/v1/products", json=product_body(sku="ALICE-1"), headers=as_alice)
            assert (refused.status_code, refused.json()["error"]["code"]) == (403, "FORBIDDEN")
            after = http.get("/api/v1/products", params={"limit": 500}, headers=as_admin).json()["data"]["items"]
            seeded = ("DEMO-", "GEN-", "OTV-PERF-")
            assert sorted(p["sku"] for p in after if not p["sku"].startswith(seeded)) == ["LIVE-1"]

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, log_file.read_text()
        assert not redis_answers(redis_socket), "the embedded Redis outlived the server"
        assert not postgres_answers(postgres_socket_dir), "the embedded PostgreSQL outlived the server"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        if redis_socket and redis_answers(redis_socket):
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as conn:
                conn.connect(redis_socket)
                conn.sendall(b"SHUTDOWN NOSAVE\r\n")

    # The data outlives the servers: the same user cannot be created twice.
    again = subprocess.run(  # noqa: S603 - our own console script
        [*CLI, "create-user", "--username", "alice", "--password", "wonderland-tea-party", "--role", "user"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1
    assert "alice" in again.stderr
    assert not redis_answers(redis_socket)


async def test_migrate_twice_has_nothing_pending_the_second_time(make_database: object, redis_url: str) -> None:
    make = cast(Callable[[], Awaitable[str]], make_database)
    env = cli_env(DATABASE_URL=await make(), REDIS_URL=redis_url)
    code, out, err = await run_cli("migrate", env=env)
    assert code == 0, err
    assert out.strip() == f"migrations applied: {all_migrations()}"
    code, out, err = await run_cli("migrate", env=env)
    assert code == 0, err
    assert out.strip() == "migrations applied: none pending"


async def test_concurrent_migrations_apply_each_file_once(make_database: object, redis_url: str) -> None:
    make = cast(Callable[[], Awaitable[str]], make_database)
    database_url = await make()
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)
    results = await asyncio.gather(*(run_cli("migrate", env=env) for _ in range(3)))
    assert [code for code, _, _ in results] == [0, 0, 0], results
    outputs = sorted(out.strip() for _, out, _ in results)
    assert outputs == [f"migrations applied: {all_migrations()}"] + ["migrations applied: none pending"] * 2
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations(migrations_dir()))
    finally:
        await conn.close()


async def test_create_api_key_prints_a_key_that_works(
    client: AsyncTestClient[Litestar], database_url: str, redis_url: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)
    code, out, err = await run_cli("create-api-key", "--name", "checkout-eu", env=env)
    assert code == 0, err
    # stdout is the key alone (`KEY=$(quote-service create-api-key ...)`); what it is, on stderr.
    assert len(out.splitlines()) == 1
    key = out.removesuffix("\n")
    assert key.startswith("qsk_")
    assert len(key) >= 20
    assert "checkout-eu" in err
    assert "role service" in err

    me = success_data(await client.get("/api/v1/users/me", headers={"X-API-Key": key}))
    assert (me["name"], me["role"], me["kind"]) == ("checkout-eu", "service", "api_key")
    listed = success_data(await client.get(PRODUCTS, headers={"X-API-Key": key}))
    assert listed["items"] == []
    forbidden = await client.post(PRODUCTS, json=product_body(), headers={"X-API-Key": key})
    error_of(forbidden, 403, "FORBIDDEN")
    error_of(await client.get(PRODUCTS, headers={"X-API-Key": key + "x"}), 401, "UNAUTHORIZED")


async def test_create_user_refuses_a_bad_password_and_creates_nothing(
    clean_stores: None, database_url: str, redis_url: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)
    code, _, err = await run_cli("create-user", "--username", "bob", "--password", "short", "--role", "admin", env=env)
    assert code == 1
    assert err.startswith("quote-service: ")
    assert "password" in err
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM users") == 0
    finally:
        await conn.close()


async def test_seed_demo_schedules_a_flash_sale_a_minute_ahead_once(
    client: AsyncTestClient[Litestar], database_url: str, redis_url: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)
    before = datetime.now(UTC)
    code, out, err = await run_cli("seed-demo", env=env)
    after = datetime.now(UTC)
    assert code == 0, err
    assert "demo flash sale" in out
    assert f"role agent, created: {DEMO_AGENT_KEY}" in out  # the demo agent's key and its ACP checkout
    assert f"curl -X POST $BASE/acp/checkout_sessions -H 'Authorization: Bearer {DEMO_AGENT_KEY}'" in out
    code, again, err = await run_cli("seed-demo", env=env)
    assert code == 0, err
    assert "already scheduled or running" in again
    assert f"role agent, already present: {DEMO_AGENT_KEY}" in again

    admin = success_data(
        await client.post("/api/v1/auth/token", json={"username": demo.DEMO_ADMIN[0], "password": demo.DEMO_ADMIN[1]})
    )
    headers = {"Authorization": f"Bearer {admin['access_token']}"}
    sales = success_data(await client.get("/api/v1/flash-sales", headers=headers))["items"]
    # Besides the demo sale: the ended sales of the generated history (for flash-sale analytics).
    assert [s["name"] for s in sales].count(demo.DEMO_SALE_NAME) == 1
    assert {s["status"] for s in sales if s["name"] != demo.DEMO_SALE_NAME} <= {"ended"}
    sale = next(s for s in sales if s["name"] == demo.DEMO_SALE_NAME)
    assert sale["status"] == "scheduled"
    # A minute after the command read the clock, somewhere between starting it and its exit
    # (a loaded machine may take seconds to start the process).
    starts_at = datetime.fromisoformat(sale["starts_at"])
    assert before + timedelta(seconds=55) <= starts_at <= after + timedelta(seconds=65)
    assert [i["remaining_stock"] for i in sale["items"]] == [20, 20, 20]
    assert sale["id"] in out
