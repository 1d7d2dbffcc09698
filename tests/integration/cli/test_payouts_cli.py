"""`quote-service payouts run --as-of` as an operator runs it (docs/payouts.md#from-the-command-line): the
payouts POST /payouts/run would make, a progress bar over the sellers, nothing paid twice, a refused
as_of in a sentence (one before the latest run's, or later than now + PAYOUT_MAX_AHEAD_SECONDS), and a
seller held for its wrong entries named while the others are paid."""

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


def env_of(settings: Settings) -> dict[str, str]:
    """The command's environment: this test's stores."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    return cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url)


async def test_the_command_pays_each_seller_once_with_a_progress_bar(
    client: Client, admin: Caller, shopper: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    env = env_of(settings)
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
    code, _, err = await run_cli("payouts", "run", "--as-of", "9999-12-31T23:59:59Z", env=env)
    assert code == 1
    assert err.strip().startswith("quote-service: as_of: must not be later than now + PAYOUT_MAX_AHEAD_SECONDS"), err
    assert await pool.fetchval("SELECT count(*) FROM payout_runs WHERE as_of > now() + interval '1 day'") == 0


async def test_a_seller_held_by_the_command_is_named_and_the_exit_status_is_1(
    client: Client, admin: Caller, shopper: Caller, settings: Settings, pool: asyncpg.Pool
) -> None:
    env = env_of(settings)
    await set_terms(client, admin, hold_days=0, currency="TRY")
    for seller in ("s-a", "s-b"):
        await sell(client, admin, shopper, seller, "10.00")
    # Broken on purpose: the database refuses any share of seller s-a's entries.
    await pool.execute(
        """CREATE FUNCTION test_refuse_s_a() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF NEW.seller_id = 's-a' THEN RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF;
               RETURN NEW;
           END $$;
           CREATE TRIGGER test_refuse_s_a BEFORE INSERT ON payout_items
               FOR EACH ROW EXECUTE FUNCTION test_refuse_s_a();"""
    )
    try:
        code, out, err = await run_cli("payouts", "run", "--quiet", env=env)
    finally:
        await pool.execute("DROP TRIGGER test_refuse_s_a ON payout_items; DROP FUNCTION test_refuse_s_a()")
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].startswith("s-b: 10.30 TRY"), out
    assert lines[1] == "s-a: held, not paid (database_refused): the database refused its payout (CheckViolationError)"
    assert lines[2].startswith("1 payouts made as of ")
    assert "1 sellers held, not paid" in err, err
