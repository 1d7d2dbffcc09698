"""bench.py --work compares the service with loadtests/work_app.py, a server doing only a quote's own
work: the comparison means something only if that server prices exactly as the service does. On
the demo data, the same bodies (the wrk script's kind: 1-4 demo products, WELCOME10, express or
not, a gold customer) get the same quote from both, but for the quote's id and instants."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cache.config_bus import read_version
from quote_service.cli import demo
from quote_service.config import Settings
from tests.integration.expect import expect_ok
from tests.waiting import until

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
import work_app  # a load-test script, imported as the benchmark runs it
from bench_hot_path import basket  # the wrk script's bodies, as the benchmarks send them

# Written by the server when it answers, not priced: they differ between any two quotes.
_OWN = ("quote_id", "created_at", "valid_until")
# On a reduced line, from the price history read before pricing (quotes/prior_prices.py): a read the
# work reference leaves out, as it leaves out coupon uses and flash stock.
_PRIOR = ("prior_price", "reduction_started_at")


def priced(answer: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in answer.items() if key not in _OWN}
    kept["items"] = [{key: value for key, value in line.items() if key not in _PRIOR} for line in answer["items"]]
    return kept


@pytest.mark.slow
async def test_the_work_reference_prices_as_the_service_does(
    client: AsyncTestClient[Litestar],
    settings: Settings,
    pool: asyncpg.Pool,
    service_key: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await demo.seed_demo(settings, pool)
    async with pool.acquire() as conn:
        version = await read_version(conn)
        ids = [str(row["id"]) for row in await conn.fetch("SELECT id FROM products WHERE is_active")]
    rng = random.Random(3)
    sent = [basket(ids, rng) for _ in range(40)]
    headers = {**service_key, "Content-Type": "application/json"}

    async def quoted_on_the_seeded_configuration() -> bool:  # the app hears of seed-demo's writes within ~1 s
        answer = expect_ok(await client.post("/api/v1/quote", content=sent[0], headers=headers))
        return bool(answer["config_version"] >= version)

    await until(quoted_on_the_seeded_configuration, "the app quotes with the demo configuration")
    assert settings.database_url is not None
    monkeypatch.setenv("WORK_DATABASE_URL", settings.database_url)
    answers = []
    async with AsyncTestClient(work_app.create_app()) as work:  # its startup reads the demo configuration
        for body in sent:
            served = expect_ok(await client.post("/api/v1/quote", content=body, headers=headers))
            response = await work.post("/api/v1/quote", content=body)
            assert response.status_code == 200, response.text
            worked = expect_ok(response)
            assert worked["config_version"] == served["config_version"] == version
            assert priced(worked) == priced(served), body.decode()
            answers.append(served)
    # The bodies reach the engine's steps that cost the most: the coupon and the demo's promotions
    # (38 and 30 of these 40 quotes apply them).
    assert sum(bool(quote["applied_coupons"]) for quote in answers) >= 20
    assert sum(bool(quote["applied_promotions"]) for quote in answers) >= 20
    # What `priced` sets aside is there to set aside: the service marked some promoted lines as reduced.
    assert any("reduction_started_at" in line for quote in answers for line in quote["items"])
