"""While PostgreSQL is down the quote-log writer backs off and loses nothing.

A failed write is the loop's counted failure (`qs_background_pass_failures_total{loop="quote-log"}`),
logged once per doubling of the failures in a row (1, 2, 4, ...) without a traceback, and the
pause before the next write doubles from 0.2 s; the rows stay queued and are written once
PostgreSQL is back. It used to retry every 0.2 s with a traceback each time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
import structlog
from prometheus_client import REGISTRY
from structlog.testing import LogCapture

from quote_service import background
from quote_service.cache.redis import create_redis
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.db.pool import create_pool
from quote_service.pricing.quote import Quote
from quote_service.quotes.quote_log import MAX_BACKOFF_SECONDS
from quote_service.quotes.store import QuoteStore
from tests.faults.private import PrivatePostgres
from tests.unit.pricing.test_engine_support import item, request
from tests.unit.pricing.test_engine_support import quote as price
from tests.waiting import until

pytestmark = [pytest.mark.long, pytest.mark.slow]

FAILURES = "qs_background_pass_failures_total"


def answered_quote() -> Quote:
    basket = request(item("p-1", 1, unit_price="10.00"))
    return msgspec.structs.replace(price(basket, now=utcnow()), quote_id=uuid.uuid4())


async def test_the_quote_log_backs_off_while_postgresql_is_down_and_loses_nothing(
    settings: Settings, private_pg: PrivatePostgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert settings.redis_url is not None
    pool = await create_pool(private_pg.url, min_size=1, max_size=2)
    redis = create_redis(settings.redis_url)
    store = QuoteStore(redis, pool, spool=tmp_path)

    def logged(expected: int) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            return int(await pool.fetchval("SELECT count(*) FROM quote_log")) == expected

        return probe

    await store.start()
    try:
        await store.put(answered_quote(), now=utcnow())
        await until(logged(1), "the first row is written")
        failed_before = REGISTRY.get_sample_value(FAILURES, {"loop": "quote-log"}) or 0.0
        # Its own unfiltered logger: an earlier test may have configured structlog at WARNING,
        # which would drop the loop's info line (background_loop_recovered) before any capture.
        capture = LogCapture()
        lines = capture.entries
        every_level = structlog.make_filtering_bound_logger(0)
        unfiltered = structlog.wrap_logger(None, processors=[capture], wrapper_class=every_level)
        monkeypatch.setattr(background, "log", unfiltered)
        private_pg.stop()
        down = time.monotonic()
        for _ in range(5):  # answered while PostgreSQL is down: Redis has them
            await store.put(answered_quote(), now=utcnow())
        await until(lambda: store.log.failures >= 5, "five writes failed")
        five_failures = time.monotonic() - down
        assert store.log.next_delay() == MAX_BACKOFF_SECONDS  # 0.2 s x 2^5, held at the maximum
        private_pg.start()
        await until(logged(6), "every row is written once PostgreSQL is back", within=20)
        await until(lambda: store.log.failures == 0, "the writer counts the write as a success")
    finally:
        await store.stop()
        await redis.aclose()
        await pool.close()
    failed = (REGISTRY.get_sample_value(FAILURES, {"loop": "quote-log"}) or 0.0) - failed_before
    failures = [line for line in lines if line["event"] == "quote_log_write_failed"]
    print(f"\n5 failed writes took {five_failures:.1f} s; {failed:.0f} failures counted, {len(failures)} lines")
    assert five_failures >= (0.4 + 0.8 + 1.6 + 3.2) * 0.9  # without backoff: 5 x 0.2 s
    assert failed >= 5
    assert [line["failures"] for line in failures[:3]] == [1, 2, 4]  # one line per doubling
    assert all("exc_info" not in line for line in failures)
    assert [line["event"] for line in lines].count("background_loop_recovered") == 1
