"""The published OpenAPI document is true: schemathesis over it against a live server.

Every kind of caller at once (an admin, a shopper, a seller, a service key, an agent key, nobody), and
a session that only logs out, every check (`--checks all`): no answer may be a 5xx, have an
undocumented status or content type, or break its documented schema, and the server must log no
error. Example counts are bounded to keep the test near a minute on two cores; `st run` with the
same arguments reproduces any failure (its output is shown).

A deeper probe, by hand after changing a route or the document: `SCHEMATHESIS_DEPTH=N` (examples x N,
plus the deterministic `coverage` phase: boundary values, missing and malformed headers) and
`SCHEMATHESIS_SEED=S` (docs/development.md#probing-the-api). At depths 3 to 6 over five seeds it found a
500 (an audit id past a bigint), headers taken that the document refuses, and a schema every answer
matched twice, each fixed with a test of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.auth import credentials
from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.conftest import Caller, make_caller
from tests.integration.servers import CLI, cli_env, running_server_logged

DEPTH = int(os.environ.get("SCHEMATHESIS_DEPTH", "1"))
"""Examples x DEPTH; above 1 the `coverage` phase too (minutes: a probe, not CI's run)."""
SEED = os.environ.get("SCHEMATHESIS_SEED", "1")
pytestmark = [pytest.mark.long, pytest.mark.slow, pytest.mark.timeout(300 * DEPTH + 120)]

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")
# Logging out would end the admin's and the user's sessions for the rest of their runs (every
# later request a documented 401): a session of its own is logged out instead. Ending a user's
# sessions (admin) could end the admin's own the same way.
LOGOUT = "/api/v1/auth/logout"
END_SESSIONS = "/api/v1/users/{user_id}/sessions/revoke"
_FUZZ = "coverage,fuzzing" if DEPTH > 1 else "fuzzing"


def _examples(count: int) -> tuple[str, str]:
    return "--max-examples", str(count * DEPTH)


RUNS = {
    "admin": [
        *("--phases", f"{_FUZZ},stateful", *_examples(10)),
        *("--exclude-path", LOGOUT, "--exclude-path", END_SESSIONS),
    ],
    "user": ["--phases", _FUZZ, *_examples(5), "--exclude-path", LOGOUT],
    "seller": ["--phases", _FUZZ, *_examples(3), "--exclude-path", LOGOUT],
    "service": ["--phases", _FUZZ, *_examples(3)],
    "agent": ["--phases", _FUZZ, *_examples(3)],
    "none": ["--phases", _FUZZ, *_examples(3)],
    "logout": ["--phases", "fuzzing", *_examples(3), "--include-path", LOGOUT],
}


PINNED = {
    "product_id": "SELECT id FROM products ORDER BY created_at, id LIMIT 1",
    "sale_id": "SELECT id FROM flash_sales ORDER BY id LIMIT 1",
    "order_id": "SELECT id FROM orders ORDER BY id LIMIT 1",
    "seller_id": "SELECT seller_id FROM products WHERE seller_id IS NOT NULL ORDER BY seller_id LIMIT 1",
    "code": "SELECT code FROM coupons ORDER BY code LIMIT 1",
    "webhook_id": "SELECT id FROM webhooks ORDER BY id LIMIT 1",
    "rate_id": "SELECT id FROM commission_rates ORDER BY id LIMIT 1",
    "offer_id": "SELECT id FROM offers ORDER BY id LIMIT 1",
    "flag_id": "SELECT id FROM feature_flags ORDER BY id LIMIT 1",
    "flag_key": "SELECT key FROM feature_flags ORDER BY key LIMIT 1",
    "key": "SELECT key FROM feature_flags ORDER BY key LIMIT 1",
    "rule_id": "SELECT id FROM pricing_rules ORDER BY id LIMIT 1",
    "profile_id": "SELECT id FROM shipping_profiles ORDER BY id LIMIT 1",
    "plan_id": "SELECT id FROM installment_plans ORDER BY id LIMIT 1",
    "list_id": "SELECT id FROM price_lists ORDER BY id LIMIT 1",
    "user_id": "SELECT id FROM users WHERE role <> 'admin' ORDER BY username LIMIT 1",
    "terms_id": "SELECT id FROM payout_terms ORDER BY id LIMIT 1",
    "quote_id": "SELECT quote_id FROM quote_log ORDER BY created_at, quote_id LIMIT 1",
    "promotion_id": "SELECT id FROM promotions ORDER BY id LIMIT 1",
    "payout_id": "SELECT id FROM payouts ORDER BY id LIMIT 1",
    "key_id": "SELECT id FROM api_keys ORDER BY id LIMIT 1",
    "entry_id": "SELECT id FROM audit_log ORDER BY id LIMIT 1",
    "name": "SELECT name FROM campaigns ORDER BY name LIMIT 1",
}
"""A path parameter → the SQL naming one of seed-demo's entities of its kind (`test_..._on_the_demos_data`)."""


def _run(
    base: str, headers: dict[str, str], arguments: list[str], workdir: Path, config: Path = CONFIG
) -> subprocess.Popen[str]:
    command = [str(ST), "--config-file", str(config), "run", f"{base}/openapi.json", "--checks", "all"]
    command += ["--seed", SEED, "--no-color", "--workers", "1", *arguments]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    # Run in a scratch directory: schemathesis keeps a cache of failures in `.schemathesis/`.
    return subprocess.Popen(  # noqa: S603 - schemathesis's console script
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir
    )


def _logged_errors(log_file: Path) -> list[str]:
    errors = []
    for line in log_file.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if str(entry.get("level", "")).lower() in {"error", "critical"}:
            errors.append(line)
    return errors


async def test_the_document_holds_for_every_kind_of_caller(
    settings: Settings,
    admin: Caller,
    shopper: Caller,
    password_hash: str,
    client: AsyncTestClient[Litestar],
    service_key: dict[str, str],
    tmp_path: Path,
) -> None:
    seller = await make_caller(settings, password_hash, "contract-seller", "seller", seller_id="contract-seller")
    made = await client.post(
        "/api/v1/api-keys", json={"name": "contract-agent", "role": "agent"}, headers=admin.headers
    )
    assert made.status_code == 201, made.text
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, RATE_LIMIT_PER_MINUTE="1000000")
    session = credentials.issue_token(
        settings, user_id=shopper.id, role=shopper.role, tier=None, segment=None, now=utcnow()
    )
    callers = {
        "admin": admin.headers,
        "user": shopper.headers,
        "seller": seller.headers,
        "service": service_key,
        "agent": {"X-API-Key": made.json()["data"]["key"]},
        "none": {},
        "logout": {"Authorization": f"Bearer {session}"},
    }
    with running_server_logged(env, "--workers", "2") as (base, log_file):
        runs = {who: _run(base, callers[who], arguments, tmp_path) for who, arguments in RUNS.items()}
        outputs = {who: run.communicate(timeout=300 * DEPTH)[0] for who, run in runs.items()}
        errors = _logged_errors(log_file)

    for who, run in runs.items():
        assert run.returncode == 0, f"schemathesis as {who}:\n{outputs[who]}"
    assert errors == []


async def test_the_document_holds_on_the_demos_data(settings: Settings, admin: Caller, tmp_path: Path) -> None:
    """Most operations name an entity in their path: with made-up ids they reach only their 404. Here schemathesis
    runs as an admin over seed-demo's data with each path id pinned to one of its entities (`PINNED`; DELETE left
    out, so each stays for the operations after it), and every check holds as above."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, RATE_LIMIT_PER_MINUTE="1000000")
    seed = [*CLI, "seed-demo"]
    await asyncio.to_thread(subprocess.run, seed, env=env, check=True, capture_output=True)
    conn = await asyncpg.connect(settings.database_url)
    try:
        pinned = {name: await conn.fetchval(sql) for name, sql in PINNED.items()}
    finally:
        await conn.close()
    missing = sorted(name for name, value in pinned.items() if value is None)
    assert missing == [], f"seed-demo made no entity for {missing}"
    config = tmp_path / "schemathesis.toml"
    values = "".join(f'"path.{name}" = {json.dumps(str(value))}\n' for name, value in pinned.items())
    config.write_text(f"{CONFIG.read_text()}\n[parameters]\n{values}")
    arguments = ["--phases", _FUZZ, *_examples(10), "--exclude-method", "DELETE"]
    arguments += ["--exclude-path", LOGOUT, "--exclude-path", END_SESSIONS]
    with running_server_logged(env, "--workers", "2") as (base, log_file):
        run = _run(base, admin.headers, arguments, tmp_path, config)
        output = run.communicate(timeout=300 * DEPTH)[0]
        errors = _logged_errors(log_file)
    assert run.returncode == 0, f"schemathesis on the demo's data:\n{output}"
    assert errors == []
