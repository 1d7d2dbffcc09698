"""MAX_QUOTE_LINES: how many items a quote may have (200 by default, settable up to 5,000).

One item past the limit is 422 VALIDATION_FAILED naming `items`, and nothing is stored; a
basket at the limit is priced, each line its own (docs/configuration.md).
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import ConfigError, Settings
from tests.integration.expect import expect_error, expect_ok, field_errors
from tests.integration.quotes.test_quote_api import QUOTE, client_with, quote_body

Client = AsyncTestClient[Litestar]


def basket(lines: int) -> dict[str, Any]:
    """`lines` client-priced items of the README's kind, each a product of its own."""
    items = [{"product_id": f"p-{i}", "quantity": 1, "unit_price": 1.25, "category_id": "books"} for i in range(lines)]
    return quote_body(items=items)


async def test_the_default_takes_200_items_and_refuses_201_naming_items(
    client: Client, service_key: dict[str, str]
) -> None:
    assert Settings().max_quote_lines == 200
    priced = expect_ok(await client.post(QUOTE, json=basket(200), headers=service_key))
    assert (len(priced["items"]), priced["subtotal"]) == (200, "250.00")
    refused = expect_error(await client.post(QUOTE, json=basket(201), headers=service_key), 422, "VALIDATION_FAILED")
    assert field_errors(refused) == {"items": "at most 200 items a quote (MAX_QUOTE_LINES)"}


async def test_max_quote_lines_raised_to_5000_prices_a_5000_line_basket(
    settings: Settings, service_key: dict[str, str]
) -> None:
    # ~0.2 s cold on an idle 2-core box; a QUOTE_TIMEOUT of 10 s, not 2, so that a stall of a CI box busy with
    # the suite's other worker (one took it past 2 s on 2026-11-28) fails nothing: this is about the limit.
    async with client_with(settings, max_quote_lines=5000, quote_timeout=10.0) as wide:
        priced = expect_ok(await wide.post(QUOTE, json=basket(5000), headers=service_key))
        assert (len(priced["items"]), priced["subtotal"]) == (5000, "6250.00")
        stored = expect_ok(await wide.get(f"/api/v1/quotes/{priced['quote_id']}", headers=service_key))
        assert len(stored["items"]) == 5000
        over = await wide.post(QUOTE, json=basket(5001), headers=service_key)
        assert "items" in field_errors(expect_error(over, 422, "VALIDATION_FAILED"))


async def test_a_lower_limit_refuses_what_the_default_takes(settings: Settings, service_key: dict[str, str]) -> None:
    async with client_with(settings, max_quote_lines=3) as narrow:
        expect_ok(await narrow.post(QUOTE, json=basket(3), headers=service_key))
        refused = expect_error(await narrow.post(QUOTE, json=basket(4), headers=service_key), 422, "VALIDATION_FAILED")
        assert field_errors(refused) == {"items": "at most 3 items a quote (MAX_QUOTE_LINES)"}


@pytest.mark.parametrize("value", ["0", "5001", "-5"])
def test_max_quote_lines_outside_1_to_5000_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"MAX_QUOTE_LINES must be (positive|between 1 and 5,000)"):
        Settings.from_env({"MAX_QUOTE_LINES": value})
