"""The pages in a real browser (Playwright driving /usr/bin/chromium) against a real
`quote-service serve` process over this session's PostgreSQL and Redis: the fixtures the page
tests share, and the role check between them. The dashboard's tests are in
test_dashboard_browser.py, the store's in test_store_browser.py and test_store_checkout_browser.py."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from quote_service.config import Settings
from tests.integration.browser import chromium, log_in, needs_chromium
from tests.integration.conftest import Caller, make_caller
from tests.integration.servers import cli_env, running_server

pytestmark = [pytest.mark.slow, needs_chromium]
TIMEOUT_MS = 20_000


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = cli_env(DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url, LOG_LEVEL="WARNING")
    with running_server(env) as base:
        yield base


@pytest.fixture
async def people(settings: Settings, password_hash: str) -> tuple[Caller, Caller]:
    admin = await make_caller(settings, password_hash, "boss", "admin")
    shopper = await make_caller(settings, password_hash, "ayse", "user")
    return admin, shopper


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        yield client


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


async def product(api: httpx.AsyncClient, admin: Caller, sku: str, name: str, price: str, **extra: Any) -> Any:
    body = {
        "sku": sku,
        "name": name,
        "category_id": extra.pop("category_id", "electronics"),
        "seller_id": "s1",
        "currency": "TRY",
        "base_price": price,
        "min_price": "10.00",
        "cost_price": "5.00",
        "stock": 50,
        **extra,
    }
    return await ok(await api.post("/api/v1/products", json=body, headers=admin.headers), 201)


def no_token_in_urls(html: str, token: str) -> None:
    for url in re.findall(r'(?:href|src|action)="([^"]*)"', html):
        assert token not in url
        assert "token" not in url.lower()


async def test_shopper_cannot_open_dashboard_in_browser(base_url: str, people: tuple[Caller, Caller]) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await log_in(page, base_url, "/dashboard", "ayse")
        await expect(page.get_by_role("alert")).to_contain_text("needs an administrator")
        await expect(page.locator("#kpis")).to_have_count(0)
