"""A payout run never fails for every seller because one seller's entries are wrong
(docs/payouts.md#a-seller-held-by-a-run): that seller is held — not paid, named with its reason in the run's
answer, logged and counted — and the others are paid, those sorting after it too. Each test breaks one seller's
data on purpose, in the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import asyncpg
import pytest
import structlog
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from quote_service.payouts import service
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.integration.order_edits.test_edit_ledger import edited, seller_with_parcels
from tests.integration.order_edits.test_edits_api import ORDERS, basket, key, place
from tests.integration.payouts.test_payouts_api import PAYOUTS, Client, sell, set_terms


def held_count(reason: str) -> float:
    return REGISTRY.get_sample_value("qs_payout_sellers_held_total", {"reason": reason}) or 0.0


@contextmanager
def payout_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[MutableMapping[str, Any]]]:
    """The payouts' log lines meanwhile (a fresh module logger: a used one is cached with its processors)."""
    with capture_logs() as lines:
        monkeypatch.setattr(service, "log", structlog.get_logger(service.__name__))
        yield lines


async def test_a_seller_whose_ledger_lists_a_refund_twice_is_held_and_the_others_are_paid(
    client: Client,
    admin: Caller,
    shopper: Caller,
    service_key: dict[str, str],
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await set_terms(client, admin, hold_days=0, currency="TRY")
    broken, product = await seller_with_parcels(client, admin, "100.00")
    before, after = f"a-{uuid.uuid4().hex[:6]}", f"z-{uuid.uuid4().hex[:6]}"  # sorting before and after it
    for seller in (before, after):
        await sell(client, admin, shopper, seller, "50.00")
    order = await place(client, service_key, basket("c-broken", (product, 2)))
    one = {"lines": [{"product_id": product["id"], "quantity": 1}], "include_fees": True}
    back = expect_ok(
        await client.post(f"{ORDERS}/{order['id']}/refunds", json=one, headers={**admin.headers, **key()}), 201
    )
    await edited(client, service_key, order["id"], {"add": [{"product_id": product["id"], "quantity": 1}]})
    # Broken on purpose: the ledger's key keeps each entry once in the database, so the seller's ledger is read
    # wrong instead, listing the refund's entry twice (as statements' SQL did before migration 0840).
    read = service.entries_until

    async def repeated(conn: Any, *, seller_id: str, currency: str, until: Any) -> list[Any]:
        found = await read(conn, seller_id=seller_id, currency=currency, until=until)
        return found + [e for e in found if seller_id == broken and e.kind == "refund"]

    monkeypatch.setattr(service, "entries_until", repeated)
    counted = held_count("ledger_entry_repeated")

    with payout_log(monkeypatch) as lines:
        made = expect_ok(await client.post(f"{PAYOUTS}/run", json={}, headers=admin.headers), 201)

    assert sorted(p["seller_id"] for p in made["payouts"]) == [before, after]
    [held] = made["sellers_held"]
    assert (held["seller_id"], held["reason"]) == (broken, "ledger_entry_repeated")
    assert held["message"] == f"its ledger lists an entry more than once: refund {back['id']} (2 times)"
    assert await pool.fetchval("SELECT count(*) FROM payouts WHERE seller_id = $1", broken) == 0
    assert held_count("ledger_entry_repeated") == counted + 1
    [line] = [line for line in lines if line["event"] == "payout_seller_held"]
    assert (line["seller_id"], line["reason"], line["run_id"]) == (broken, "ledger_entry_repeated", made["id"])

    # Put right, the next run pays it (in the same cycle: it was not paid in it).
    monkeypatch.setattr(service, "entries_until", read)
    again = expect_ok(await client.post(f"{PAYOUTS}/run", json={}, headers=admin.headers), 201)
    assert ([p["seller_id"] for p in again["payouts"]], again["sellers_held"]) == ([broken], [])


async def test_a_seller_whose_payout_the_database_refuses_is_held_and_the_others_are_paid(
    client: Client, admin: Caller, shopper: Caller, pool: asyncpg.Pool
) -> None:
    await set_terms(client, admin, hold_days=0, currency="TRY")
    sellers = ["s-1", "s-2", "s-3"]
    for seller in sellers:
        await sell(client, admin, shopper, seller, "40.00")
    counted = held_count("database_refused")
    # Broken on purpose: the database refuses any share of seller s-2's entries (a check it fails).
    await pool.execute(
        """CREATE FUNCTION test_refuse_s2() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF NEW.seller_id = 's-2' THEN
                   RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation', CONSTRAINT = 'payout_items_test_check';
               END IF;
               RETURN NEW;
           END $$;
           CREATE TRIGGER test_refuse_s2 BEFORE INSERT ON payout_items
               FOR EACH ROW EXECUTE FUNCTION test_refuse_s2();"""
    )
    try:
        made = expect_ok(await client.post(f"{PAYOUTS}/run", json={}, headers=admin.headers), 201)
    finally:
        await pool.execute("DROP TRIGGER test_refuse_s2 ON payout_items; DROP FUNCTION test_refuse_s2()")

    assert [p["seller_id"] for p in made["payouts"]] == ["s-1", "s-3"]
    assert made["sellers_held"] == [
        {
            "seller_id": "s-2",
            "reason": "database_refused",
            "message": "the database refused its payout (CheckViolationError on payout_items_test_check)",
        }
    ]
    assert await pool.fetchval("SELECT count(*) FROM payouts WHERE seller_id = 's-2'") == 0, "nothing of it written"
    assert held_count("database_refused") == counted + 1
