"""The recent-quote cache holds at most RECENT_QUOTES_MAX_BYTES, whatever the size of its quotes
(docs/quotes-and-orders.md#identical-requests-the-recent-quote-cache, docs/operations.md#memory-per-worker)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from quote_service.quotes.service import QuoteService
from tests.integration.expect import expect_ok

Client = AsyncTestClient[Litestar]
QUOTE = "/api/v1/quote"
LIMIT = 2 * 1024 * 1024


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A process whose recent-quote cache may hold 2 MiB (the default is 32 MiB)."""
    return msgspec.structs.replace(settings, recent_quotes_max_bytes=LIMIT)


def basket(customer: str, lines: int) -> dict[str, Any]:
    """A basket of `lines` client-priced items (each line its own product and seller)."""
    return {
        "customer_id": customer,
        "currency": "TRY",
        "delivery_address": {"city": "Istanbul", "country": "TR"},
        "items": [
            {
                "product_id": f"item-{n:03d}-{'x' * 40}",
                "quantity": 1 + n % 7,
                "unit_price": f"{10 + n}.25",
                "category_id": f"category-{n % 9}",
                "seller_id": f"seller-{n % 20}",
                "tags": ["large", "basket"],
            }
            for n in range(lines)
        ],
    }


def held(quotes: QuoteService) -> int:
    """The bytes the cache's remembered quotes hold: each key and the byte strings of its entry."""
    return sum(
        len(key) + sum(len(part) for part in entry if isinstance(part, bytes)) for key, entry in quotes._recent.items()
    )


async def test_large_quotes_fill_the_cache_only_to_its_bytes_and_small_ones_still_hit(
    client: Client, service_key: dict[str, str]
) -> None:
    quotes: QuoteService = client.app.state.quotes
    first_small = expect_ok(await client.post(QUOTE, json=basket("small-early", 1), headers=service_key))

    for n in range(24):  # ~140 KB a quote: ~3.4 MB asked of a 2 MiB cache
        expect_ok(await client.post(QUOTE, json=basket(f"large-{n}", 200), headers=service_key))
        assert held(quotes) <= LIMIT
    assert held(quotes) > LIMIT // 2  # it was filled, not emptied
    assert quotes.recent_bytes <= LIMIT

    # The oldest went first: the small quote made before the large ones is priced again.
    again = expect_ok(await client.post(QUOTE, json=basket("small-early", 1), headers=service_key))
    assert again["quote_id"] != first_small["quote_id"]
    # A small quote made now is remembered and handed out again.
    small = expect_ok(await client.post(QUOTE, json=basket("small-late", 1), headers=service_key))
    repeat = expect_ok(await client.post(QUOTE, json=basket("small-late", 1), headers=service_key))
    assert repeat["quote_id"] == small["quote_id"]
    assert held(quotes) <= LIMIT


async def test_a_quote_larger_than_the_whole_cache_is_not_remembered_and_evicts_nothing(
    client: Client, service_key: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    quotes: QuoteService = client.app.state.quotes
    small = expect_ok(await client.post(QUOTE, json=basket("kept", 1), headers=service_key))
    before = quotes.recent_bytes
    monkeypatch.setattr(quotes, "_recent_limit", before + 50_000)  # a 200-line quote alone is larger

    large = expect_ok(await client.post(QUOTE, json=basket("too-large", 200), headers=service_key))
    again = expect_ok(await client.post(QUOTE, json=basket("too-large", 200), headers=service_key))

    assert again["quote_id"] != large["quote_id"]
    assert quotes.recent_bytes == before
    kept = expect_ok(await client.post(QUOTE, json=basket("kept", 1), headers=service_key))
    assert kept["quote_id"] == small["quote_id"]
