"""`quote-service fx import FILE` as an operator runs it (docs/currencies.md#importing-ecb-rates): EUR
rates stored from each date in one transaction, audited as the system, cross rates derived at lookup, a
file imported again adds nothing, a bad row named and nothing written, a progress bar on a large file."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from quote_service.config import Settings
from tests.integration.cli.test_cli_embedded import run_cli
from tests.integration.cli.test_payouts_cli import env_of
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.fx.test_fx_rates_api import RATES, Client

pytestmark = pytest.mark.slow


async def test_an_import_stores_eur_rates_and_a_second_adds_nothing(
    client: Client, admin: Caller, settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    env = env_of(settings)
    file = tmp_path / "eurofxref-hist.csv"
    file.write_text("Date,USD,JPY,TRY,\n2026-01-05,1.09,N/A,37.6,\n2026-01-02,1.0850,155.66,37.5,\n")

    code, out, err = await run_cli("fx", "import", str(file), env=env)
    assert code == 0, err
    assert out.strip() == f"5 rates stored, 0 stored already (2 dates) from {file}"
    rows = await pool.fetch("SELECT base, quote, rate, source, created_by FROM fx_rates ORDER BY quote, valid_from")
    assert [tuple(r) for r in rows][:2] == [
        ("EUR", "JPY", "155.66", "ecb", "quote-service fx import"),
        ("EUR", "TRY", "37.5", "ecb", "quote-service fx import"),
    ]
    audited = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE entity_type = 'fx_rate' AND actor ->> 'kind' = 'system'"
    )
    assert audited == 5
    params = {"base": "TRY", "quote": "USD", "at": "2026-01-03T12:00:00Z"}
    cross = expect_ok(await client.get(RATES, params=params, headers=admin.headers))
    assert (cross["rate"], cross["via"]) == ("0.028933333333", "cross")

    code, out, _ = await run_cli("fx", "import", str(file), env=env)
    assert (code, out.split(" (")[0]) == (0, "0 rates stored, 5 stored already")
    assert await pool.fetchval("SELECT count(*) FROM fx_rates") == 5


async def test_a_malformed_row_is_named_and_nothing_is_written(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    file = tmp_path / "rates.csv"
    file.write_text("date,currency,rate\n2026-01-02,TRY,37.5\n2026-01-02,USD,-1\n2026-01-02,QQQ,1\n")

    code, out, err = await run_cli("fx", "import", str(file), env=env_of(settings))
    assert code == 1
    assert out == ""
    assert f"{file}: row 3: rate '-1' of USD must be a number above 0" in err, err
    assert f"{file}: row 4: currency 'QQQ'" in err, err
    assert err.strip().endswith("2 bad rows: nothing imported"), err
    assert await pool.fetchval("SELECT count(*) FROM fx_rates") == 0


async def test_a_large_file_shows_a_progress_bar(settings: Settings, pool: asyncpg.Pool, tmp_path: Path) -> None:
    first = date(2010, 1, 1)
    file = tmp_path / "long.csv"
    file.write_text(
        "".join(f"{first + timedelta(days=n)},TRY,{Decimal(1) + Decimal(n).scaleb(-3)}\n" for n in range(6000))
    )

    code, out, err = await run_cli("fx", "import", str(file), env=env_of(settings))
    assert code == 0, err
    assert out.startswith("6000 rates stored"), out
    assert "rates [" in err, err
    assert "6,000/6,000" in err, err
    assert await pool.fetchval("SELECT count(*) FROM fx_rates") == 6000
