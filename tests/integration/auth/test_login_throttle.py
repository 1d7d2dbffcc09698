"""POST /auth/token under guessing: per-username and per-address limits, and a flood of bad logins.

The flood runs at a real server process, as a flood would: in the test's own process the
guessing clients and the server would share one event loop, and the clients' pace would be the
server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable

import httpx
import msgspec
import pytest
from litestar import Litestar

from quote_service.app import create_app
from quote_service.auth.throttle import SUSPECT_AFTER_ATTEMPTS
from quote_service.config import Settings
from tests.integration.conftest import PASSWORD, make_caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.servers import new_tag, race_server
from tests.waiting import until

pytestmark = pytest.mark.redis_backends

TOKEN = "/api/v1/auth/token"
WINDOW = 300


@pytest.fixture
async def app(settings: Settings) -> Litestar:
    limited = msgspec.structs.replace(
        settings, login_attempts_per_username=3, login_attempts_per_address=5, login_window_seconds=WINDOW
    )
    return create_app(limited)


def client_from(app: Litestar, address: str) -> httpx.AsyncClient:
    """A client of `app` (its lifespan already running) connecting from `address` (the scope's client)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://test")


@contextlib.asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """The app's lifespan in this task and event loop (AsyncTestClient runs the app in another);
    yields a factory of clients by address."""
    async with app.lifespan():
        yield lambda address: client_from(app, address)


@pytest.fixture
async def users(settings: Settings, password_hash: str) -> None:
    for name in ("alice", "bob"):
        await make_caller(settings, password_hash, name, "user")


async def login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, *, address: str | None = None
) -> httpx.Response:
    """A login; `address`: the client's, as a proxy the server trusts forwards it."""
    headers = {"X-Forwarded-For": address} if address else {}
    return await client.post(TOKEN, json={"username": username, "password": password}, headers=headers)


def assert_rate_limited(response: httpx.Response) -> None:
    expect_error(response, 429, "RATE_LIMITED")
    assert 1 <= int(response.headers["Retry-After"]) <= WINDOW


async def test_an_account_is_locked_after_its_failed_attempts_until_the_window_ends(app: Litestar, users: None) -> None:
    async with serving(app) as from_address:
        here, elsewhere = from_address("192.0.2.1"), from_address("192.0.2.2")
        for _ in range(3):
            expect_error(await login(here, "alice", "wrong-password"), 401, "UNAUTHORIZED")

        assert_rate_limited(await login(here, "ALICE"))  # the right password too, any spelling, any address
        assert_rate_limited(await login(elsewhere, "alice"))
        expect_ok(await login(here, "bob"))  # nothing else changed: other accounts, same address


async def test_an_address_is_limited_across_usernames(app: Litestar, users: None) -> None:
    async with serving(app) as from_address:
        guesser, neighbour = from_address("198.51.100.7"), from_address("198.51.100.8")
        for name in ("carol", "dave", "erin", "frank", "grace"):
            expect_error(await login(guesser, name, "wrong-password"), 401, "UNAUTHORIZED")

        assert_rate_limited(await login(guesser, "alice"))
        expect_ok(await login(neighbour, "alice"))  # the account itself is not locked


async def test_a_successful_login_clears_its_account_and_is_not_counted(app: Litestar, users: None) -> None:
    async with serving(app) as from_address:
        client = from_address("203.0.113.5")
        for _ in range(4):  # 8 attempts from one address (limit 5), 4 on one account (limit 3)
            expect_error(await login(client, "alice", "typo-password"), 401, "UNAUTHORIZED")
            expect_ok(await login(client, "alice"))


async def timed_login(client: httpx.AsyncClient, address: str) -> tuple[httpx.Response, float]:
    """alice's login from `address`, and the seconds it took."""
    started = time.perf_counter()
    response = await login(client, "alice", address=address)
    return response, time.perf_counter() - started


@contextlib.asynccontextmanager
async def flooding(client: httpx.AsyncClient, guessers: int) -> AsyncIterator[None]:
    """`guessers` clients, each from its own address, guessing unknown accounts back to back until
    the block ends. The block starts once every address looks like guessing (auth/throttle.py: a
    failure counted, or a few attempts): until then its attempts look like a person's, and in
    those opening moments a person may still be turned away (docs/authentication.md)."""
    marks = [0] * guessers
    stop = asyncio.Event()

    async def guess(number: int) -> None:
        while not stop.is_set():
            answer = await login(client, f"nobody-{secrets.token_hex(3)}", "wrong-password", address=f"10.0.{number}.1")
            marks[number] += SUSPECT_AFTER_ATTEMPTS if answer.status_code == 401 else 1

    def all_suspect() -> bool:
        # A guesser that failed ends the wait too: gathering it below raises its error.
        return min(marks) >= SUSPECT_AFTER_ATTEMPTS or any(task.done() for task in tasks)

    tasks = [asyncio.create_task(guess(n)) for n in range(guessers)]
    try:
        await until(all_suspect, "every guessing address looks like guessing", within=120)
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@pytest.mark.slow
@pytest.mark.long
async def test_a_real_login_stays_quick_during_a_flood_of_bad_logins(settings: Settings, password_hash: str) -> None:
    """64 clients from 64 addresses guess unknown accounts back to back; a real user still logs in
    within a few password checks' time (before the bound, this took as long as the whole queue)."""
    await make_caller(settings, password_hash, "alice", "user")
    # Address limits far away: what keeps the real login quick here is the bound on hashing work.
    # The server believes X-Forwarded-For from this machine, so each client names its address.
    env = {"LOGIN_CONCURRENCY": "1", "LOGIN_ATTEMPTS_PER_ADDRESS": "100000", "TRUSTED_PROXIES": "127.0.0.1"}
    tag = new_tag()
    with race_server(settings, **env) as server:
        async with server.client(tag) as real, server.client(tag, limits=httpx.Limits(max_connections=64)) as flood:
            first, alone = await timed_login(real, "192.0.2.200")
            expect_ok(first)
            async with flooding(flood, guessers=64):
                response, under_flood = await timed_login(real, "192.0.2.200")
        overlapping = await server.peak_in_flight(tag)

    expect_ok(response)
    assert under_flood < max(5.0, 10 * alone), f"{under_flood:.2f}s under the flood, {alone:.2f}s alone"
    assert overlapping >= 2, "the server never handled two of the flood's logins at the same time"
