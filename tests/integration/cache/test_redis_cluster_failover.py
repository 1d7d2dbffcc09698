"""A Redis Cluster master killed in the middle of a flash-sale storm, its replica taking over.

`quote-service serve --workers 2` runs on a private cluster of 3 masters with one replica each.
Once the client has seen KILL_AT_UNITS units acknowledged, the master holding the sale's slot
(`{fs:<sale id>}`) is SIGKILLed and its replica promoted (`CLUSTER FAILOVER TAKEOVER`, as an
operator or the cluster itself would after `cluster-node-timeout`). Replication is
asynchronous, so the new master may lack the last reservations; purchases answered 503 while
the slot had no master are retried with the same Idempotency-Key, as a checkout system does.

The promises are the storm's (tests/integration/flash_sales/test_flash_sales_storm.py): never more sold
than allocated, every customer within the limit, every acknowledged purchase in the ledger
exactly once, and after reconcile the counters equal the ledger and exactly the rest sells.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest

from quote_service.cache.redis import RedisClient
from quote_service.config import Settings
from tests.integration.conftest import Caller
from tests.integration.flash import Client
from tests.integration.flash_sales import test_flash_sales_storm as storm
from tests.integration.flash_sales.test_flash_sales_storm import (
    ALLOCATED,
    CONFIRMED,
    IN_FLIGHT,
    LIMIT,
    REFUSALS,
    REPLAYED,
    Attempt,
    Outcome,
    Storm,
    attempt,
    check_after_the_storm,
    plan,
    sale_key,
    sold_of,
    storm_sale,
    summary,
)
from tests.redis_cluster import LocalCluster, Node, cluster_available

pytestmark = [pytest.mark.long, pytest.mark.slow, pytest.mark.fresh_app]  # a failover: an app started for each test

# The storm module's server (2 workers), client fleet and database connection, here built on
# this module's `settings` (the private cluster with replicas).
server = storm.server
fleet = storm.fleet
db = storm.db

ATTEMPTS = 1_200
CUSTOMERS = 300
KILL_AT_UNITS = 30
RETRY_503 = 40
RETRY_PAUSE = 0.25


@pytest.fixture
def failover_cluster() -> Iterator[LocalCluster]:
    problem = cluster_available()
    if problem:
        pytest.skip(f"cannot start a Redis Cluster: {problem}")
    cluster = LocalCluster(masters=3, replicas=1, node_timeout_ms=1000).start()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def settings(database_url: str, failover_cluster: LocalCluster, clean_stores: None) -> Settings:
    """This module's settings: the session's database, the private cluster with replicas."""
    return Settings(database_url=database_url, redis_url=failover_cluster.url, log_format="json", log_level="WARNING")


def replica_of(cluster: LocalCluster, master: Node) -> Node:
    for node in cluster.nodes:
        if node is not master and node.alive:
            info = node.info("replication")
            if info["role"] == "slave" and int(info["master_port"]) == master.port:
                return node
    raise LookupError(f"no replica follows {master.port}")


@dataclass(slots=True)
class Killer:
    """Kills the sale's master once the client has seen `at_units` units acknowledged."""

    cluster: LocalCluster
    key: str
    at_units: int
    units: int = 0
    killed: Node | None = None
    promoted: Node | None = None
    unanswered_at_kill: int = 0
    units_after_kill: int = 0
    retried: list[str] = field(default_factory=list)

    def seen(self, outcome: Outcome, pending: int) -> None:
        if outcome.status == 201:
            self.units += outcome.attempt.quantity
            if self.killed is not None:
                self.units_after_kill += outcome.attempt.quantity
        if self.killed is None and self.units >= self.at_units:
            master = self.cluster.master_of(self.key)
            replica = replica_of(self.cluster, master)
            self.cluster.kill(master)
            with replica.client() as client:
                client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
            self.killed, self.promoted, self.unanswered_at_kill = master, replica, pending


async def storm_through_failover(
    fleet: list[httpx.AsyncClient],
    headers: dict[str, str],
    sale: dict[str, object],
    planned: list[Attempt],
    killer: Killer,
) -> Storm:
    """As the storm's `storm`, each attempt retried (same key) while it is answered 503."""
    gates = [asyncio.Semaphore(IN_FLIGHT // len(fleet)) for _ in fleet]
    pending = len(planned)

    async def one(n: int, item: Attempt) -> Outcome:
        nonlocal pending
        http = fleet[n % len(fleet)]
        for _ in range(RETRY_503):
            async with gates[n % len(fleet)]:
                outcome = await attempt(http, headers, sale, item)
            if outcome.status != 503:
                break
            killer.retried.append(item.key)
            await asyncio.sleep(RETRY_PAUSE)
        pending -= 1
        killer.seen(outcome, pending)
        return outcome

    started = time.perf_counter()
    outcomes = list(await asyncio.gather(*(one(n, item) for n, item in enumerate(planned))))
    return Storm(outcomes, time.perf_counter() - started)


async def test_a_master_killed_mid_storm_and_replaced_by_its_replica_never_oversells_or_loses_a_purchase(
    client: Client,
    admin: Caller,
    service_key: dict[str, str],
    fleet: list[httpx.AsyncClient],
    failover_cluster: LocalCluster,
    redis: RedisClient,
    db: asyncpg.Connection,
) -> None:
    http = fleet[0]
    sale = await storm_sale(client, admin, allocated=ALLOCATED, limit=LIMIT)
    planned = plan(random.Random("failover"), "k", attempts=ATTEMPTS, customers=CUSTOMERS)
    killer = Killer(failover_cluster, sale_key(sale), KILL_AT_UNITS)

    result = await storm_through_failover(fleet, service_key, sale, planned, killer)
    print(
        summary("failover storm", result),
        f"- killed :{killer.killed and killer.killed.port} with {killer.unanswered_at_kill} unanswered,"
        f" {killer.units_after_kill} units sold after,"
        f" {len(killer.retried)} retries after 503 ({len(set(killer.retried))} attempts)",
    )

    assert killer.killed is not None, "the storm ended before the kill"
    assert killer.promoted is not None
    assert killer.unanswered_at_kill > 0
    assert killer.units_after_kill > 0  # the promoted replica went on selling the sale
    assert not killer.killed.alive
    assert failover_cluster.master_of(sale_key(sale)) is killer.promoted
    # Every attempt got a final answer: a purchase or a refusal, never a 5xx (503s were retried).
    assert set(result.statuses()) <= {201, 409}, result.codes()
    retried = set(killer.retried)
    for outcome in result.refused():
        assert outcome.code in REFUSALS, outcome
    for outcome in result.won():
        data = outcome.body["data"]
        # A retried attempt may replay a purchase whose first answer was lost to the failover.
        expected = {CONFIRMED, REPLAYED} if outcome.attempt.key in retried else {CONFIRMED}
        assert outcome.body["message"] in expected, outcome
        assert (data["customer_id"], data["quantity"]) == (outcome.attempt.customer, outcome.attempt.quantity)

    # The promoted master may lack the last replicated reservations: reconcile brings the
    # counters back to the ledger, and exactly the rest of the allocation is still for sale.
    await check_after_the_storm(
        result, sale, db=db, http=http, admin=admin, service_key=service_key, redis=redis,
        label="failover", late="k-late",
    )  # fmt: skip
    assert await sold_of(db, sale["id"]) == ALLOCATED
