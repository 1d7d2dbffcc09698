"""A retry with an Idempotency-Key gets the key's first answer again, byte for byte, with
`Idempotent-Replayed: true` (docs/errors.md#idempotency-keys) — not the resource as it is now.

Before, a replay of `POST /orders` after an edit answered the order at revision 2 with another message
and no header, and every other keyed write answered its resource with "already ... with this
Idempotency-Key". Each test changes what the first answer showed, then replays the key.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import msgspec
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.lifecycle import partitions
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flash import buy, new_sale
from tests.integration.order_edits.test_edits_api import basket, commit, place, preview
from tests.integration.payouts.test_payouts_api import sell, set_terms

Client = AsyncTestClient[Litestar]
ORDERS = "/api/v1/orders"
QUOTE = "/api/v1/quote"
REPLAYED = "Idempotent-Replayed"


def the_first_again(first: httpx.Response, again: httpx.Response) -> None:
    """`again` is `first` sent again: its status, content type and bytes, marked as a replay."""
    assert REPLAYED not in first.headers
    assert again.headers.get(REPLAYED) == "true", (again.status_code, again.text)
    assert again.status_code == first.status_code, again.text
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.content == first.content, (first.text, again.text)


async def quoted(client: Client, headers: dict[str, str], body: dict[str, Any]) -> str:
    quote_id: str = expect_ok(await client.post(QUOTE, json=body, headers=headers))["quote_id"]
    return quote_id


class Keyed:
    """An order's request under an Idempotency-Key: its body and headers, and the product it orders."""

    def __init__(self, product: dict[str, Any], body: dict[str, Any], headers: dict[str, str]) -> None:
        self.product, self.body, self.headers = product, body, headers

    async def send(self, client: Client, **extra: str) -> httpx.Response:
        return await client.post(ORDERS, json=self.body, headers={**self.headers, **extra})


async def keyed_order(
    client: Client, admin: Caller, service_key: dict[str, str], customer: str, key: str, quantity: int = 1
) -> Keyed:
    """A product (25.50, 10 in stock), a quote of `quantity` units for `customer`, and its order's request."""
    product = await create_product(client, admin, stock=10)
    body = {"quote_id": await quoted(client, service_key, basket(customer, (product, quantity)))}
    return Keyed(product, body, {**service_key, "Idempotency-Key": key})


async def edited(client: Client, headers: dict[str, str], order: dict[str, Any], product: dict[str, Any]) -> Any:
    """The order after an edit that adds a unit of `product` (committed under a key of its own)."""
    shown = expect_ok(
        await preview(client, headers, order["id"], {"add": [{"product_id": product["id"], "quantity": 1}]}), 201
    )
    return expect_ok(await commit(client, headers, order["id"], shown["edit_id"]))


async def test_an_order_edited_since_replays_its_first_201(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    keyed = await keyed_order(client, admin, service_key, "replay-1", "order-replay-1", quantity=2)
    first = await keyed.send(client)
    assert first.status_code == 201, first.text
    assert (await edited(client, service_key, first.json()["data"], keyed.product))["revision"] == 2

    again = await keyed.send(client)

    the_first_again(first, again)
    assert again.json()["data"]["revision"] == 1
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1


async def test_a_replay_is_written_in_the_first_requests_money_format(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    keyed = await keyed_order(client, admin, service_key, "replay-2", "order-numbers")
    first = await keyed.send(client, **{"X-Money-Format": "number"})
    assert first.status_code == 201, first.text
    assert b'"refunded_amount":0.00' in first.content  # money as JSON numbers

    again = await keyed.send(client, **{"X-Money-Format": "string"})

    the_first_again(first, again)


async def test_a_refund_replays_its_first_answer_after_the_order_changed(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("replay-3", (case, 3)))
    url = f"{ORDERS}/{order['id']}/refunds"
    body = {"lines": [{"product_id": case["id"], "quantity": 1}], "reason": "damaged"}
    headers = {**admin.headers, "Idempotency-Key": "refund-replay"}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    second = {"lines": [{"product_id": case["id"], "quantity": 1}], "include_fees": True}
    expect_ok(await client.post(url, json=second, headers={**admin.headers, "Idempotency-Key": "refund-2"}), 201)

    the_first_again(first, await client.post(url, json=body, headers=headers))


async def test_a_cancel_replays_its_first_answer(client: Client, admin: Caller, service_key: dict[str, str]) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("replay-4", (case, 2)))
    url = f"{ORDERS}/{order['id']}/cancel"
    headers = {**service_key, "Idempotency-Key": "cancel-replay"}
    first = await client.post(url, json={"reason": "changed my mind"}, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["status"] == "cancelled"

    the_first_again(first, await client.post(url, json={"reason": "changed my mind"}, headers=headers))


async def test_an_edit_commit_replays_the_revision_it_made_after_a_later_edit(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("replay-5", (case, 1)))
    shown = expect_ok(
        await preview(client, service_key, order["id"], {"add": [{"product_id": case["id"], "quantity": 1}]}), 201
    )
    same = {"Idempotency-Key": "commit-replay"}
    first = await commit(client, service_key, order["id"], shown["edit_id"], **same)
    assert first.status_code == 200, first.text
    assert first.json()["data"]["revision"] == 2
    assert (await edited(client, service_key, order, case))["revision"] == 3

    again = await commit(client, service_key, order["id"], shown["edit_id"], **same)

    the_first_again(first, again)
    assert again.json()["data"]["revision"] == 2


async def test_a_code_batch_replays_its_first_answer(client: Client, admin: Caller, pool: asyncpg.Pool) -> None:
    body = {"code": "REPLAY", "type": "PERCENTAGE", "value": 10, "valid_from": "2025-01-01T00:00:00Z"}
    expect_ok(await client.post("/api/v1/coupons", json=body, headers=admin.headers), 201)
    url = "/api/v1/coupons/REPLAY/codes"
    headers = {**admin.headers, "Idempotency-Key": "batch-replay"}
    first = await client.post(url, json={"count": 5}, headers=headers)
    assert first.status_code == 201, first.text

    the_first_again(first, await client.post(url, json={"count": 5}, headers=headers))
    assert await pool.fetchval("SELECT count(*) FROM coupon_codes") == 5


async def test_a_payout_run_replays_its_first_answer_after_its_payout_was_paid(
    client: Client, admin: Caller, shopper: Caller
) -> None:
    """A run under an Idempotency-Key pays once and answers its first answer again (the payout `pending`, as
    it was answered), rather than running again and answering a run that paid nothing."""
    await set_terms(client, admin, hold_days=0, currency="TRY")
    await sell(client, admin, shopper, "s-replay", "100.00")
    url = "/api/v1/payouts/run"
    body = {"as_of": utcnow().isoformat()}
    headers = {**admin.headers, "Idempotency-Key": "run-replay"}
    first = await client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    [payout] = first.json()["data"]["payouts"]
    expect_ok(await client.post(f"/api/v1/payouts/{payout['id']}/paid", json={}, headers=admin.headers))

    again = await client.post(url, json=body, headers=headers)

    the_first_again(first, again)
    assert again.json()["data"]["payouts"][0]["status"] == "pending"


async def test_a_flash_purchase_replays_its_first_answer_on_either_path_and_from_the_ledger(
    client: Client, admin: Caller, shopper: Caller, service_key: dict[str, str], redis: Any
) -> None:
    """The service key's first purchase is served by Litestar (the lean edge learns the key then), its
    replays by the lean edge; a shopper's purchases always by Litestar; and after Redis lost every
    marker, the replay is answered from PostgreSQL: the same bytes each time."""
    sale, _ = await new_sale(client, admin)
    first = await buy(client, service_key, sale, key="buy-replay", customer_id="replay-6")
    assert first.status_code == 201, first.text
    mine = await buy(client, shopper.headers, sale, key="buy-replay")  # another caller's key of the same name
    assert mine.status_code == 201, mine.text
    assert REPLAYED not in mine.headers
    assert mine.json()["data"]["purchase_id"] != first.json()["data"]["purchase_id"]
    one = {"lines": [{"product_id": sale["items"][0]["product_id"], "quantity": 1}]}
    refunds = f"{ORDERS}/{first.json()['data']['order_id']}/refunds"
    expect_ok(await client.post(refunds, json=one, headers={**admin.headers, "Idempotency-Key": "r"}), 201)

    the_first_again(first, await buy(client, service_key, sale, key="buy-replay", customer_id="replay-6"))
    the_first_again(mine, await buy(client, shopper.headers, sale, key="buy-replay"))
    await redis.flushdb()
    the_first_again(first, await buy(client, service_key, sale, key="buy-replay", customer_id="replay-6"))


async def test_a_flash_refusal_replays_with_the_header(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    sale, _ = await new_sale(client, admin, item={"per_user_limit": 1})
    first = await buy(client, service_key, sale, quantity=2, key="buy-too-many", customer_id="replay-7")
    expect_error(first, 409, "PURCHASE_LIMIT_EXCEEDED")

    the_first_again(first, await buy(client, service_key, sale, quantity=2, key="buy-too-many", customer_id="replay-7"))


async def test_a_refusal_replays_byte_for_byte_after_the_state_changed(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    scarce = await create_product(client, admin, stock=3)
    body = {"quote_id": await quoted(client, service_key, basket("replay-8", (scarce, 3)))}
    expect_ok(await client.post(f"/api/v1/products/{scarce['id']}/stock", json={"delta": -2, "reason": "broken"},
                                headers=admin.headers))  # fmt: skip
    headers = {**service_key, "Idempotency-Key": "order-refused"}
    first = await client.post(ORDERS, json=body, headers=headers)
    expect_error(first, 409, "INSUFFICIENT_STOCK")
    expect_ok(await client.post(f"/api/v1/products/{scarce['id']}/stock", json={"delta": 5, "reason": "found"},
                                headers=admin.headers))  # fmt: skip

    the_first_again(first, await client.post(ORDERS, json=body, headers=headers))
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_another_body_under_the_key_is_a_conflict_and_the_first_body_still_replays(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    keyed = await keyed_order(client, admin, service_key, "replay-9", "order-twice")
    other = {"quote_id": await quoted(client, service_key, basket("replay-9", (keyed.product, 2)))}
    first = await keyed.send(client)
    assert first.status_code == 201, first.text

    conflict = await client.post(ORDERS, json=other, headers=keyed.headers)
    expect_error(conflict, 409, "IDEMPOTENCY_CONFLICT")
    assert REPLAYED not in conflict.headers
    the_first_again(first, await keyed.send(client))


async def test_a_key_is_the_callers_own(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    """Another caller sending the same key gets an answer of its own, never the first caller's."""
    made = await client.post("/api/v1/api-keys", json={"name": "other-checkout"}, headers=admin.headers)
    other_key = {"X-API-Key": expect_ok(made, 201)["key"]}
    case = await create_product(client, admin, stock=10)
    mine = {"quote_id": await quoted(client, service_key, basket("replay-10", (case, 1)))}
    first = await client.post(ORDERS, json=mine, headers={**service_key, "Idempotency-Key": "shared"})
    assert first.status_code == 201, first.text

    theirs = {"quote_id": await quoted(client, other_key, basket("replay-10", (case, 1)))}
    own = await client.post(ORDERS, json=theirs, headers={**other_key, "Idempotency-Key": "shared"})
    assert own.status_code == 201, own.text
    assert REPLAYED not in own.headers
    assert own.json()["data"]["id"] != first.json()["data"]["id"]
    the_first_again(own, await client.post(ORDERS, json=theirs, headers={**other_key, "Idempotency-Key": "shared"}))
    the_first_again(first, await client.post(ORDERS, json=mine, headers={**service_key, "Idempotency-Key": "shared"}))
    assert await pool.fetchval("SELECT count(*) FROM orders") == 2


async def test_racing_twins_make_one_order_and_get_one_answer(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool
) -> None:
    """Identical requests at once: one writes, the others wait for it (or, past DB_LOCK_TIMEOUT, are told
    409 IDEMPOTENCY_IN_PROGRESS) and get its answer, byte for byte."""
    keyed = await keyed_order(client, admin, service_key, "replay-11", "order-race")

    answers = await asyncio.gather(*(keyed.send(client) for _ in range(6)))

    placed = [a for a in answers if a.status_code == 201]
    assert {a.status_code for a in answers} <= {201, 409}
    assert all(a.json()["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS" for a in answers if a.status_code == 409)
    assert len({a.content for a in placed}) == 1
    assert [a.headers.get(REPLAYED) for a in placed].count(None) == 1
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1
    the_first_again(next(a for a in placed if REPLAYED not in a.headers), await keyed.send(client))


async def test_past_retention_a_key_answers_its_order_as_it_is_now(
    client: Client, admin: Caller, service_key: dict[str, str], pool: asyncpg.Pool, settings: Settings
) -> None:
    """The kept answers go with their day's partition past IDEMPOTENCY_RETENTION_DAYS; the order's key stays
    with the order, so the key still never orders twice: it answers the order as it is now, marked a replay."""
    keyed = await keyed_order(client, admin, service_key, "replay-12", "order-old")
    first = expect_ok(await keyed.send(client), 201)
    await edited(client, service_key, first, keyed.product)
    # Three days pass; with a retention of one day, the lifecycle pass drops the answer's day whole.
    await pool.execute("UPDATE idempotency_answers SET created_at = created_at - interval '3 days'")
    one_day = msgspec.structs.replace(settings, idempotency_retention_days=1)
    dropped = []
    async with pool.acquire() as conn:
        for _ in range(2):  # the first pass gives the row a partition of its own day, the second drops it
            done = await partitions.apply(conn, one_day, utcnow())
            assert done is not None
            dropped += [p.name for p in done.dropped if p.table == "idempotency_answers"]
    assert dropped
    assert await pool.fetchval("SELECT count(*) FROM idempotency_answers") == 0

    again = await keyed.send(client)

    assert again.headers.get(REPLAYED) == "true"
    assert again.json()["message"] == "Order already placed with this Idempotency-Key"
    assert (again.json()["data"]["id"], again.json()["data"]["revision"]) == (first["id"], 2)
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1


async def test_a_payment_replays_its_first_answer_after_a_later_payment(
    client: Client, admin: Caller, service_key: dict[str, str]
) -> None:
    case = await create_product(client, admin, stock=10)
    order = await place(client, service_key, basket("replay-payment", (case, 1)))
    await edited(client, service_key, order, case)  # one unit more: 25.50 and its tax are due
    url = f"{ORDERS}/{order['id']}/payments"
    headers = {**service_key, "Idempotency-Key": "payment-replay"}
    first = await client.post(url, json={"amount": "10.00"}, headers=headers)
    assert first.status_code == 201, first.text
    expect_ok(await client.post(url, json={"amount": "1.00"}, headers={**service_key, "Idempotency-Key": "later"}), 201)

    the_first_again(first, await client.post(url, json={"amount": "10.00"}, headers=headers))
    now = expect_ok(await client.get(f"{ORDERS}/{order['id']}", headers=service_key))
    assert now["paid_amount"] == "11.00"  # the replay recorded nothing more
