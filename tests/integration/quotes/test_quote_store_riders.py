"""A rider: a write made of a quote that goes to Redis in the quote's own group-commit call (quotes/store.py
`Rider`; a checkout session's update rides so: docs/agents.md#what-an-update-costs). It lands with the quote,
with a quote handed out again only where that quote was not ordered, and its guarded write never replaces a
value whose status is another than the one it expects."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from quote_service.cache.redis import RedisClient, is_cluster
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.pricing.quote import Quote
from quote_service.quotes.store import QuoteStore, Ride, decode_quote
from tests.integration.orders.test_orders_api import build_quote, line, quote_store

PRODUCT = {"id": str(uuid.uuid4()), "currency": "TRY", "current_price": "10.00", "category_id": "c", "seller_id": "s"}


class Noted:
    """A rider writing `<prefix>:answer` (the quote's JSON) and `<prefix>:state` guarded by status "open"."""

    def __init__(self) -> None:
        self.prefix = f"test:rider:{uuid.uuid4()}"
        self.payloads: list[bytes] = []
        self.quotes: list[Quote | None] = []
        self.landings = 0

    def ride(self, payload: bytes, quote: Quote | None) -> Ride:
        self.payloads.append(payload)
        self.quotes.append(quote)
        state = b'{"id":1,"status":"open","n":' + str(len(self.payloads)).encode() + b"}"
        return Ride(f"{self.prefix}:answer", payload, 60, f"{self.prefix}:state", state, 60, b'"open"')

    def landed(self) -> None:
        self.landings += 1


@pytest.fixture
async def quotes(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[QuoteStore]:
    async with quote_store(settings, pool) as store:
        yield store


def a_quote() -> Quote:
    return build_quote(f"rider-{uuid.uuid4().hex[:8]}", [line(PRODUCT, 1)])


async def test_a_rider_lands_with_its_quote_in_one_call(quotes: QuoteStore, redis: RedisClient) -> None:
    rider = Noted()
    quote = a_quote()
    payload = await quotes.put(quote, now=utcnow(), rider=rider)
    assert (rider.payloads, rider.quotes, rider.landings) == ([payload], [quote], 1)  # the quote: not decoded again
    assert await redis.get(f"{rider.prefix}:answer") == payload
    assert await redis.get(f"{rider.prefix}:state") == b'{"id":1,"status":"open","n":1}'
    assert 0 < await redis.ttl(f"{rider.prefix}:state") <= 60


@pytest.mark.parametrize(("held", "written"), [("open", True), ("completed", False), ("canceled", False)])
async def test_the_guarded_write_replaces_only_the_expected_status(
    quotes: QuoteStore, redis: RedisClient, held: str, written: bool
) -> None:
    rider = Noted()
    before = b'{"id":1,"status":"' + held.encode() + b'","n":0}'
    await redis.set(f"{rider.prefix}:state", before)
    payload = await quotes.put(a_quote(), now=utcnow(), rider=rider)
    assert await redis.get(f"{rider.prefix}:answer") == payload  # the unguarded write: always
    after = await redis.get(f"{rider.prefix}:state")
    assert after == (b'{"id":1,"status":"open","n":1}' if written else before)


async def test_a_rider_on_a_quote_handed_out_again_lands_only_where_it_was_not_ordered(
    quotes: QuoteStore, redis: RedisClient
) -> None:
    quote = a_quote()
    payload = await quotes.put(quote, now=utcnow())
    quote_id = quote.quote_id
    rider = Noted()
    assert await quotes.was_ordered(quote_id, payload, rider) is False
    assert (rider.landings, rider.quotes, await redis.get(f"{rider.prefix}:answer")) == (1, [None], payload)

    assert await quotes.take_for_order(quote_id, now=utcnow()) is not None  # ordered: never handed out again
    late = Noted()
    assert await quotes.was_ordered(quote_id, payload, late) is True
    assert late.landings == 0
    assert await redis.exists(f"{late.prefix}:answer", f"{late.prefix}:state") == 0


@pytest.mark.redis_backends  # Redis key layout, Lua or slots: on a Redis Cluster too
async def test_a_rider_rides_only_where_its_keys_may_share_the_quotes_call(
    quotes: QuoteStore, redis: RedisClient
) -> None:
    """On a cluster a rider's keys live in other slots than the quote's: it never rides, its maker writes on
    its own (a checkout session's update then sends its own script, as before riders)."""
    rider = Noted()
    payload = await quotes.put(a_quote(), now=utcnow(), rider=rider)
    assert await quotes.get(decode_quote(payload).quote_id, now=utcnow()) is not None
    if is_cluster(redis):
        assert (rider.payloads, rider.landings) == ([], 0)
        assert await redis.exists(f"{rider.prefix}:answer") == 0
    else:
        assert (rider.payloads, rider.landings) == ([payload], 1)
