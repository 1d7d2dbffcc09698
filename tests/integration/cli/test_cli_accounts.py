"""Accounts made by the command line: the password policy of create-user, seed-demo in production."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import select
import subprocess
import termios
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cli import demo
from tests.integration.cli.test_cli_embedded import run_cli
from tests.integration.servers import CLI, cli_env

pytestmark = pytest.mark.slow

PRODUCTION = {"ENVIRONMENT": "production", "SECRET_KEY": "a-production-secret-key-of-at-least-32-chars"}
TOKEN = "/api/v1/auth/token"


async def user_count(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM users")
        return count
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("password", "sentence"),
    [
        ("short", "password must be at least 8 characters"),
        (" " * 12, "password must not be only whitespace or one character repeated"),
        ("password", "password is one of the most common passwords"),
        ("12345678", "password is one of the most common passwords"),
        ("Bob-the-builder", "password must not contain the username"),
    ],
)
async def test_create_user_explains_a_refused_password_in_a_sentence(
    clean_stores: None, database_url: str, redis_url: str, password: str, sentence: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)

    code, _, err = await run_cli("create-user", "--username", "bob", "--password", password, "--role", "user", env=env)

    assert code == 1
    assert err.strip().startswith(f"quote-service: {sentence}")
    assert "$." not in err
    assert await user_count(database_url) == 0


async def test_create_user_explains_a_bad_username(clean_stores: None, database_url: str, redis_url: str) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)

    code, _, err = await run_cli(
        "create-user", "--username", "bob smith", "--password", "a-fine-passphrase", "--role", "user", env=env
    )

    assert code == 1
    assert "username: must be 1-64 characters" in err
    assert "$." not in err


@pytest.mark.long
async def test_seed_demo_is_refused_in_production(clean_stores: None, database_url: str, redis_url: str) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url, **PRODUCTION)

    code, out, err = await run_cli("seed-demo", env=env)

    assert code == 2
    assert "ENVIRONMENT=production" in err
    assert "--force" in err
    assert demo.DEMO_ADMIN[1] not in out + err
    assert await user_count(database_url) == 0


@pytest.mark.long
async def test_seed_demo_forced_in_production_gets_generated_passwords(
    client: AsyncTestClient[Litestar], database_url: str, redis_url: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url, **PRODUCTION)

    code, out, err = await run_cli("seed-demo", "--force", env=env)

    assert code == 0, err
    generated = dict(re.findall(r"^demo \w+: +(\S+) / (\S+) +\(generated", out, flags=re.MULTILINE))
    assert set(generated) == {demo.DEMO_ADMIN[0], demo.DEMO_USER[0]}
    for username, default in (demo.DEMO_ADMIN, demo.DEMO_USER):
        assert generated[username] != default
        refused = await client.post(TOKEN, json={"username": username, "password": default})
        assert (refused.status_code, refused.json()["error"]["code"]) == (401, "UNAUTHORIZED")
        accepted = await client.post(TOKEN, json={"username": username, "password": generated[username]})
        assert accepted.status_code == 200, accepted.text

    code, again, err = await run_cli("seed-demo", "--force", env=env)
    assert code == 0, err
    assert "(generated" not in again
    assert f"{demo.DEMO_ADMIN[0]} already existed; its password is unchanged" in again


async def run_fed(*args: str, env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
    """Run the command with `stdin` piped in (not a terminal): (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def run_on_a_terminal(*args: str, env: dict[str, str], typed: list[str]) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as its controlling terminal and stdin, typing each of
    `typed` once the terminal has asked for it: (exit code, everything the terminal showed)."""
    main, child = os.openpty()

    def own_terminal() -> None:  # in the child: a session of its own whose terminal is the pty
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(  # noqa: S603 - the service's own command
        [*CLI, *args], env=env, stdin=child, stdout=child, stderr=child, preexec_fn=own_terminal, close_fds=True
    )
    os.close(child)
    shown = b""
    try:
        for answer in typed:
            asked = shown.count(b": ")
            while shown.count(b": ") == asked:  # the next question
                ready, _, _ = select.select([main], [], [], 60)
                assert ready, f"not asked; the terminal shows {shown!r}"
                shown += os.read(main, 4096)
            os.write(main, answer.encode() + b"\n")
        with contextlib.suppress(OSError):  # EIO: the command ended and closed the terminal
            while chunk := os.read(main, 4096):
                shown += chunk
        return process.wait(timeout=60), shown.decode()
    finally:
        os.close(main)
        if process.poll() is None:
            process.kill()


async def logs_in(client: AsyncTestClient[Litestar], username: str, password: str) -> bool:
    answer = await client.post(TOKEN, json={"username": username, "password": password})
    return answer.status_code == 200


async def test_create_user_takes_the_password_from_stdin_or_the_environment(
    client: AsyncTestClient[Litestar], database_url: str, redis_url: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)
    piped = ("create-user", "--username", "pia", "--role", "user", "--password-stdin")
    code, out, err = await run_fed(*piped, env=env, stdin=b"sent-through-a-pipe\n")
    assert code == 0, err
    assert "sent-through-a-pipe" not in out + err
    variable = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url, QUOTE_SERVICE_PASSWORD="from-the-env-42")
    code, _, err = await run_fed("create-user", "--username", "envy", "--role", "user", env=variable)
    assert code == 0, err

    assert await logs_in(client, "pia", "sent-through-a-pipe")
    assert await logs_in(client, "envy", "from-the-env-42")


async def test_create_user_without_a_password_off_a_terminal_says_how(
    clean_stores: None, database_url: str, redis_url: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)
    code, _, err = await run_fed("create-user", "--username", "bob", "--role", "user", env=env)
    assert code == 1
    assert err.startswith("quote-service: create-user needs a password: --password-stdin")
    assert await user_count(database_url) == 0


@pytest.mark.long
async def test_create_user_asks_for_the_password_twice_on_a_terminal(
    client: AsyncTestClient[Litestar], database_url: str, redis_url: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url)
    command = ("create-user", "--username", "typist", "--role", "user")
    code, shown = await asyncio.to_thread(
        run_on_a_terminal, *command, env=env, typed=["typed-passphrase", "typed-otherwise"]
    )
    assert code == 1
    assert "the two passwords differ; nothing was created" in shown
    assert await user_count(database_url) == 0

    code, shown = await asyncio.to_thread(
        run_on_a_terminal, *command, env=env, typed=["typed-passphrase", "typed-passphrase"]
    )
    assert code == 0, shown
    assert "Password for typist: " in shown
    assert "The same password again: " in shown
    assert "typed-passphrase" not in shown  # not echoed
    assert await logs_in(client, "typist", "typed-passphrase")


@pytest.mark.long
async def test_accounts_get_a_customer_group(
    client: AsyncTestClient[Litestar], database_url: str, redis_url: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url, QUOTE_SERVICE_PASSWORD="a-fine-passphrase")
    code, out, err = await run_fed(
        "create-user", "--username", "buyer", "--role", "user", "--customer-group", "b2b", env=env
    )
    assert code == 0, err
    assert "customer group b2b" in out
    code, key, err = await run_fed("create-api-key", "--name", "wholesale", "--customer-group", "b2b", env=env)
    assert code == 0, err
    assert "customer group b2b" in err

    token = (await client.post(TOKEN, json={"username": "buyer", "password": "a-fine-passphrase"})).json()
    for headers in ({"Authorization": f"Bearer {token['data']['access_token']}"}, {"X-API-Key": key.strip()}):
        me = await client.get("/api/v1/users/me", headers=headers)
        assert me.json()["data"]["customer_group"] == "b2b"

    code, _, err = await run_fed("create-api-key", "--name", "wide", "--customer-group", "g" * 65, env=env)
    assert (code, err.count("customer_group")) == (1, 1), err


async def test_create_api_key_prints_the_key_and_one_line_about_it(
    clean_stores: None, database_url: str, tmp_path: Path
) -> None:
    """`KEY=$(quote-service create-api-key ...)` on a terminal shows one line, not the stores' start-up logs:
    here Redis is the embedded one, whose start is logged at INFO."""
    env = cli_env(DATABASE_URL=database_url, QUOTE_SERVICE_HOME=str(tmp_path))
    del env["LOG_LEVEL"]
    code, out, err = await run_fed("create-api-key", "--name", "checkout", env=env)
    assert code == 0, err
    assert re.fullmatch(r"qsk_\S+\n", out), out
    [said] = err.splitlines()
    assert said.startswith("API key checkout ("), err


@pytest.mark.long
async def test_seller_accounts_name_their_seller(
    client: AsyncTestClient[Litestar], database_url: str, redis_url: str
) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url, QUOTE_SERVICE_PASSWORD="a-fine-passphrase")
    code, _, err = await run_fed("create-user", "--username", "shop", "--role", "seller", env=env)
    assert (code, "--seller-id" in err) == (1, True), err
    code, out, err = await run_fed(
        "create-user", "--username", "shop", "--role", "seller", "--seller-id", "seller-7", env=env
    )
    assert (code, "seller seller-7" in out) == (0, True), err
    code, key, err = await run_fed(
        "create-api-key", "--name", "feed", "--role", "seller", "--seller-id", "seller-7", env=env
    )
    assert (code, "seller seller-7" in err) == (0, True), err
    code, _, err = await run_fed("create-api-key", "--name", "feed2", "--seller-id", "seller-7", env=env)
    assert (code, "--seller-id" in err) == (1, True), err

    token = (await client.post(TOKEN, json={"username": "shop", "password": "a-fine-passphrase"})).json()
    for headers in ({"Authorization": f"Bearer {token['data']['access_token']}"}, {"X-API-Key": key.strip()}):
        me = await client.get("/api/v1/sellers/me", headers=headers)
        assert me.json()["data"]["seller_id"] == "seller-7"
