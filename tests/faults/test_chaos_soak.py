"""The chaos soak, short: mixed load on two workers, each of the five faults once, then the audit
(tests/faults/chaos.py; `uv run python -m tests.faults.chaos` runs a long one).

0 orders, refunds, cancels or flash purchases lost or stored twice, 0 Idempotency-Keys answered
both ways, every quote answered 200 in `quote_log`, stock, coupon uses and flash units in
balance. The counts are printed (`-s`).
"""

from __future__ import annotations

import pytest

from tests.faults.chaos import FAULTS, Soak
from tests.faults.private import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.long, pytest.mark.slow]

FAULT_EVERY = 22.0


@pytest.mark.timeout(1200)  # ~2.5 minutes of load and faults, then the audit; far longer on a busy machine
async def test_a_short_chaos_soak_loses_nothing_and_answers_every_key_one_way(
    private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    soak = Soak(seconds=FAULT_EVERY * (len(FAULTS) + 1), fault_every=FAULT_EVERY, clients=8, pg_outage=8.0)
    report = await soak.run(private_pg, private_redis)
    print("\n" + report.summary())
    assert sorted(set(report.faults)) == sorted(FAULTS), "each fault once"
    assert report.problems == []
    assert report.counts["lost"] == report.counts["duplicated"] == report.counts["keys_both_ways"] == 0
    assert report.counts["quotes_not_logged"] == 0
    done = {k.kind for k in report.keyed if 200 <= k.status < 300}
    assert done == {"order", "refund", "cancel", "purchase"}, "every kind of keyed request went through"
