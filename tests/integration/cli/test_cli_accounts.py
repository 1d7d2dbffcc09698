"""Accounts made by the command line: the password policy of create-user, seed-demo in production."""

from __future__ import annotations

import re

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cli import demo
from tests.integration.cli.test_cli_embedded import run_cli
from tests.integration.servers import cli_env

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


async def test_seed_demo_is_refused_in_production(clean_stores: None, database_url: str, redis_url: str) -> None:
    env = cli_env(DATABASE_URL=database_url, REDIS_URL=redis_url, **PRODUCTION)

    code, out, err = await run_cli("seed-demo", env=env)

    assert code == 2
    assert "ENVIRONMENT=production" in err
    assert "--force" in err
    assert demo.DEMO_ADMIN[1] not in out + err
    assert await user_count(database_url) == 0


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
