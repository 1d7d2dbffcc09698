"""`make test` on a machine whose PostgreSQL and Redis answer but refuse this login (a missing
`postgres` role, a password): the run falls back to the embedded servers and says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ONE_STORE_TEST = "tests/integration/catalog/test_catalog.py::test_create_answers_201_with_money_in_the_currencys_digits"


@pytest.mark.long
@pytest.mark.slow  # a pytest run of its own, on freshly started embedded servers
def test_servers_that_answer_but_refuse_the_login_are_replaced_by_embedded_ones() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},  # not an xdist worker's
        "TEST_DATABASE_URL": "postgresql://qs_no_such_role@127.0.0.1:5432/postgres",
        "TEST_REDIS_URL": "redis://qs-no-such-user:not-the-password@127.0.0.1:6379",
    }
    run = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", ONE_STORE_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    (header,) = [line for line in run.stdout.splitlines() if line.startswith("servers: ")]
    assert header.startswith("servers: PostgreSQL embedded (cannot use postgresql://qs_no_such_role@127.0.0.1:5432")
    assert "qs_no_such_role" in header
    assert "; Redis embedded (cannot use redis://qs-no-such-user:***@127.0.0.1:6379: AuthenticationError" in header
    assert "not-the-password" not in run.stdout
    assert "1 passed" in run.stdout


def test_the_header_names_the_servers_in_use(pytestconfig: pytest.Config) -> None:
    from tests.conftest import chosen_servers, pytest_report_header

    (header,) = pytest_report_header(pytestconfig)
    pg, redis = chosen_servers()
    assert header.startswith("servers: PostgreSQL ")
    assert ("PostgreSQL embedded" in header) is (not pg.usable)
    assert ("Redis embedded" in header) is (not redis.usable)
