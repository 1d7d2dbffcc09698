"""`quote-service payouts run --as-of` as an operator runs it (docs/payouts.md#from-the-command-line): the
payouts POST /payouts/run would make, a progress bar over the sellers, nothing paid twice, a refused
as_of in a sentence."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from quote_service.clock import utcnow
from quote_service.config import Settings
from tests.integration.cli.test_cli_embedded import run_cli
from tests.integration.conftest import Caller
from tests.integration.payouts.test_payouts_api import Client, sell, set_terms
from tests.integration.servers import cli_env

pytestmark = pytest.mark.slow


async def test_the_command_pays_each_seller_once_with_a_progress_bar(
    client: Client, admin: Caller, shopper: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url)
    await set_terms(client, admin, hold_days=0, currency="TRY")
    for n, seller in enumerate(("s-a", "s-b", "s-c")):
        await sell(client, admin, shopper, seller, f"{10 + n}.00")
    as_of = (utcnow() + timedelta(minutes=1)).isoformat()

    code, out, err = await run_cli("payouts", "run", "--as-of", as_of, env=env)
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["s-a", "s-b", "s-c"]
    assert lines[-1].startswith("3 payouts made as of ")
    assert "sellers [" in err, err
    assert "3/3" in err, err
    rows = await pool.fetch("SELECT seller_id, created_by FROM payouts ORDER BY seller_id")
    assert [(r["seller_id"], r["created_by"]) for r in rows] == [
        (seller, "quote-service payouts run") for seller in ("s-a", "s-b", "s-c")
    ]
    audited = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE entity_type = 'payout' AND actor ->> 'kind' = 'system'"
    )
    assert audited == 3

    code, out, _ = await run_cli("payouts", "run", "--as-of", as_of, "--quiet", env=env)
    assert (code, out.splitlines()[-1].split(" as of")[0]) == (0, "0 payouts made")

    code, _, err = await run_cli("payouts", "run", "--as-of", "2020-01-01T00:00:00Z", env=env)
    assert code == 1
    assert err.strip().startswith("quote-service: as_of: must not be before the latest run's as_of"), err
    code, _, err = await run_cli("payouts", "run", "--as-of", "yesterday", env=env)
    assert code == 2
    assert "not an RFC 3339 instant" in err
