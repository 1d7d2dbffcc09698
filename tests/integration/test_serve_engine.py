"""`serve` says which pricing engine it runs: one line at start, and `pricing_engine` in each
worker's `started` log line (CI asks for the compiled engine: the served workers must load it too)."""

from __future__ import annotations

import json

import pytest

from quote_service import pricing
from quote_service.config import Settings
from tests.integration.servers import cli_env, running_server_logged
from tests.waiting import until_sync


@pytest.mark.slow  # a real server process
def test_serve_names_the_pricing_engine_its_workers_run(settings: Settings) -> None:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url)

    with running_server_logged(env, "--workers", "2") as (_, log_file):

        def started() -> list[dict[str, str]]:
            return [json.loads(line) for line in log_file.read_text().splitlines() if '"event":"started"' in line]

        until_sync(lambda: len(started()) == 2, "both workers started", within=60)
        lines, workers = log_file.read_text().splitlines(), started()

    assert f"pricing engine: {pricing.ENGINE}" in lines
    assert [worker["pricing_engine"] for worker in workers] == [pricing.ENGINE] * 2
