"""Stored quotes in their compact form (a zstd dictionary trained on the deployment's own quotes):
read back whole by any process, ordered to the cent, and older JSON values still read.

docs/hot-path.md#stored-quotes-and-their-bytes.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import asyncpg
import msgspec
import pytest
import zstandard
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cache.redis import create_redis
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.quotes import compact
from quote_service.quotes.store import MADE_BY, QuoteStore, quote_key
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, maker_of
from tests.integration.expect import expect_error, expect_ok
from tests.integration.flags.test_feature_flags_api import create_flag
from tests.integration.orders.test_orders_api import ORDERS, build_quote, coupon, key, line, order, quote_store
from tests.integration.price_lists.test_price_list_quotes import one_price
from tests.integration.promotions.test_promotions_api import create_promotion
from tests.unit.pricing.test_engine_support import item, request
from tests.unit.pricing.test_engine_support import quote as price
from tests.waiting import until

Client = AsyncTestClient[Litestar]
QUOTE = "/api/v1/quote"


def basket(products: list[dict[str, Any]], customer_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "seller_id": "seller-1",
        "items": [
            {"product_id": products[0]["id"], "quantity": 3},
            {"product_id": products[1]["id"], "quantity": 2},
            {"product_id": products[2]["id"], "quantity": 1},
            {"product_id": "gift-wrap", "quantity": 1, "unit_price": "24.90", "category_id": "services"},
        ],
        "delivery_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0082, "longitude": 28.9784},
        "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0766, "longitude": 29.0122},
        "is_express_delivery": True,
        "currency": "TRY",
        **fields,
    }


async def trained(store: QuoteStore) -> None:
    await until(lambda: store.codec.dictionary_id is not None, "the store trained its dictionary")


async def test_an_order_of_a_compact_quote_reproduces_every_part_of_the_response(
    app: Litestar, client: Client, admin: Caller, service_key: dict[str, str], settings: Settings
) -> None:
    """Lines (one priced by a price list, one by the client), fees, coupon, promotion, flags,
    commission details and valid_until: GET /quotes/{id} gives back the response itself, and the
    order charges exactly its amounts, from the compressed value."""
    books = [
        await create_product(
            client, admin, base_price=price_, min_price="1.00", cost_price="0.50", category_id="books", stock=50
        )
        for price_ in ("30.00", "20.00", "10.00")
    ]
    await one_price(client, admin, books[2]["id"], "8.50")
    await coupon(client, admin, "SAVE10")
    await create_promotion(client, admin)
    await create_flag(client, admin, key="gift_message")
    store: QuoteStore = app.state.quote_store
    for n in range(compact.MIN_SAMPLES):  # the deployment's own quotes to train on
        expect_ok(await client.post(QUOTE, json=basket(books, f"c-{n}"), headers=service_key))
    await trained(store)

    body = basket(books, "c-order", coupon_codes=["SAVE10"])
    answered = expect_ok(await client.post(QUOTE, json=body, headers=service_key))

    redis = create_redis(settings.redis_url or "")
    try:
        value = await redis.get(quote_key(uuid.UUID(answered["quote_id"])))
    finally:
        await redis.aclose()
    assert value is not None
    maker = await maker_of(client, service_key)
    assert value[:17] == MADE_BY[maker[0]] + maker[1].bytes, "stored with its maker"
    assert value[17:18] == bytes([compact.FORMAT]), "stored compressed"
    assert len(value) < len(msgspec.json.encode(answered)) / 4
    assert answered["applied_promotions"]
    assert answered["applied_coupons"]
    assert answered["feature_flags"]
    assert {line["price_source"] for line in answered["items"]} == {"catalog", "price_list", "request"}
    assert expect_ok(await client.get(f"/api/v1/quotes/{answered['quote_id']}", headers=service_key)) == answered

    headers = {**service_key, **key()}
    placed = expect_ok(await client.post(ORDERS, json={"quote_id": answered["quote_id"]}, headers=headers), 201)
    money = ("subtotal", "discount_amount", "tax_amount", "delivery_fee", "small_basket_fee", "total_amount")
    assert {k: placed[k] for k in money} == {k: answered[k] for k in money}
    # Each order line repeats its quote line's fields (and adds its priced record: discounts by
    # source, net, commission parts: docs/orders-and-refunds.md#the-priced-record).
    assert len(placed["items"]) == len(answered["items"])
    for ordered, quoted in zip(placed["items"], answered["items"], strict=True):
        assert {k: v for k, v in ordered.items() if k in quoted} == {k: quoted[k] for k in quoted if k in ordered}
        assert {"discounts", "net", "commission"} <= ordered.keys()
    # The order's details also name the line each is on (`line`: docs/orders-and-refunds.md).
    kept = placed["commission_breakdown"]
    lines = [detail.pop("line", None) for detail in kept["details"]]
    assert kept == answered["commission_breakdown"]
    assert [line for line in lines if line is not None] == sorted(line for line in lines if line is not None)
    assert placed["applied_coupons"] == answered["applied_coupons"]


async def test_another_process_reads_a_compact_quote_with_the_dictionary_it_lacked(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    """The writer published its dictionary before compressing with it; a reader that never saw it
    fetches it once and reads the quote whole."""
    async with quote_store(settings, pool) as writer, quote_store(settings, pool) as reader:
        now = utcnow()
        for n in range(compact.MIN_SAMPLES):
            await writer.put(rich_quote(f"c-{n}"), now=now)
        await trained(writer)
        quote = rich_quote("c-read")
        maker = ("api_key", uuid.uuid4())
        await writer.put(quote, now=now, caller=maker)
        assert reader.codec.dictionary_id is None
        assert await reader.get(quote.quote_id, now=utcnow()) == (quote, maker)
        assert await reader.take_for_order(quote.quote_id, now=utcnow()) == (quote, maker)


async def test_a_dictionary_outlives_every_quote_compressed_with_it(settings: Settings, pool: asyncpg.Pool) -> None:
    async with quote_store(settings, pool) as store:
        now = utcnow()
        for n in range(compact.MIN_SAMPLES):
            await store.put(rich_quote(f"c-{n}"), now=now)
        await trained(store)
        quote = rich_quote("c-last")
        await store.put(quote, now=now)
        dictionary_id = store.codec.dictionary_id
        assert dictionary_id is not None
        redis = create_redis(settings.redis_url or "")
        try:
            quote_ttl = await redis.pttl(quote_key(quote.quote_id))
            dictionary_ttl = await redis.pttl(compact.dictionary_key(dictionary_id))
        finally:
            await redis.aclose()
        assert dictionary_ttl >= quote_ttl + compact.DICTIONARY_MARGIN_SECONDS * 1000 - 60_000


async def test_a_quote_stored_as_json_by_an_older_release_is_still_read_and_ordered_by_an_admin(
    client: Client, admin: Caller, service_key: dict[str, str], settings: Settings, pool: asyncpg.Pool
) -> None:
    """An older release recorded no maker: the quote is read whole, and only an admin may order it
    (for the rest of its validity), as nobody can tell who made it."""
    product = await create_product(client, admin, stock=5)
    quote = build_quote("c-old", [line(product, 1)])
    redis = create_redis(settings.redis_url or "")
    try:
        await redis.set(quote_key(quote.quote_id), msgspec.json.encode(quote), px=60_000)  # as before
    finally:
        await redis.aclose()
    async with quote_store(settings, pool) as store:
        assert await store.get(quote.quote_id, now=utcnow()) == (quote, None)

    expect_error(await order(client, service_key, quote), 404, "NOT_FOUND")
    placed = expect_ok(await order(client, admin.headers, quote), 201)
    assert placed["quote_id"] == str(quote.quote_id)


def rich_quote(customer_id: str) -> Any:
    """A priced 3-line quote valid for 15 minutes from now, with its own id."""
    basket_ = request(
        item("p-1", 2, unit_price="19.90", category_id="books"),
        item("p-2", 1, unit_price="249.00", category_id="electronics"),
        item("p-3", 4, unit_price="3.75", category_id="food"),
        customer_id=customer_id,
        coupon_codes=["NOPE"],
    )
    return msgspec.structs.replace(price(basket_, now=utcnow()), quote_id=uuid.uuid4())


async def test_a_dictionary_redis_lost_is_put_back_before_the_next_quote_is_answered(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    """Redis restarted empty (or evicted the key): the next group commit notices, publishes the
    dictionary again, and only then answers, so another process reads the new quote."""
    async with quote_store(settings, pool) as writer, quote_store(settings, pool) as reader:
        now = utcnow()
        for n in range(compact.MIN_SAMPLES):
            await writer.put(rich_quote(f"c-{n}"), now=now)
        await trained(writer)
        redis = create_redis(settings.redis_url or "")
        try:
            assert writer.codec.dictionary_key is not None
            assert await redis.delete(writer.codec.dictionary_key) == 1
        finally:
            await redis.aclose()
        quote = rich_quote("c-after")
        await writer.put(quote, now=utcnow())
        assert await reader.get(quote.quote_id, now=utcnow()) == (quote, None)


def big_quote_json(n: int) -> bytes:
    """A quote's JSON of ~27 KB: 250 lines, each its own product, price and quantity."""
    lines = [
        {
            "product_id": f"p-{n}-{i}",
            "quantity": 1 + (i * n) % 7,
            "unit_price": f"{(i * 37 + n) % 900 + 1}.{i % 100:02d}",
            "seller_id": f"seller-{i % 5}",
            "category_id": ("books", "electronics", "food")[i % 3],
        }
        for i in range(250)
    ]
    return msgspec.json.encode({"quote_id": str(uuid.uuid4()), "customer_id": f"c-{n}", "items": lines})


async def test_big_baskets_train_their_dictionary_off_the_event_loop(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training takes time in the samples' bytes (1,000-line quotes: ~310 ms): past
    TRAIN_ON_LOOP_BYTES it runs in a worker thread, and the loop goes on meanwhile; small samples
    still train on the loop. Either way the dictionary compresses and reads back."""
    trained_on: list[threading.Thread] = []
    train = zstandard.train_dictionary

    def recorded(*args: Any, **kwargs: Any) -> Any:
        trained_on.append(threading.current_thread())
        return train(*args, **kwargs)

    monkeypatch.setattr(zstandard, "train_dictionary", recorded)
    redis = create_redis(settings.redis_url or "")
    try:
        for make, off_loop in ((lambda n: msgspec.json.encode(rich_quote(f"c-{n}")), False), (big_quote_json, True)):
            codec = compact.QuoteCodec(redis)
            samples = [make(n) for n in range(compact.MIN_SAMPLES)]
            assert (sum(map(len, samples)) > compact.TRAIN_ON_LOOP_BYTES) is off_loop
            for sample in samples:
                assert codec.pack(sample, valid_until=time.time() + 60) == sample
            assert await codec.train()
            assert (trained_on[-1] is not threading.main_thread()) is off_loop
            packed = codec.pack(samples[0], valid_until=time.time() + 60)
            assert packed[:1] == bytes([compact.FORMAT])
            assert len(packed) < len(samples[0]) / 4
            assert await codec.unpack(packed) == samples[0]
    finally:
        await redis.aclose()
