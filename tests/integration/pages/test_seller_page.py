"""The seller page /seller (docs/sellers.md): for a seller account only; the admin pages are not a seller's."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.conftest import Caller, make_caller
from tests.integration.pages.test_pages import log_in

Client = AsyncTestClient[Litestar]


async def test_the_seller_page_is_a_sellers_and_the_admin_pages_are_not(
    client: Client, settings: Settings, password_hash: str, shopper: Caller
) -> None:
    await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="seller-bosphorus")
    await log_in(client, "seller", "bosphorus")
    page = await client.get("/seller")
    assert page.status_code == 200
    assert "seller-bosphorus" in page.text
    assert "/pages/static/seller.js" in page.text
    assert 'href="/dashboard"' not in page.text
    for admin_page in ("/dashboard", "/dashboard/books", "/dashboard/governance", "/store"):
        assert (await client.get(admin_page)).status_code == 403, admin_page
    assert (await client.get("/pages/static/seller.js")).status_code == 200

    client.cookies.clear()
    await log_in(client, "store", shopper.username)
    assert (await client.get("/seller")).status_code == 403


async def links_lead_somewhere(client: Client, page: str) -> list[str]:
    """The page's own links (not the API docs), each checked to open for the logged-in account."""
    links = [href for href in re.findall(r'href="(/[^"]*)"', page) if not href.startswith(("/pages/", "/docs"))]
    for href in links:
        assert (await client.get(href)).status_code == 200, f"{href} is refused too"
    return links


async def test_a_refused_page_says_whom_it_is_for_and_links_to_the_page_this_account_can_use(
    client: Client, settings: Settings, password_hash: str, shopper: Caller
) -> None:
    await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="seller-bosphorus")
    await log_in(client, "seller", "bosphorus")
    for path, needs in (
        ("/dashboard", "needs an administrator account"),
        ("/dashboard/governance", "needs an administrator account"),
        ("/store", "needs a shopper or an administrator account"),
    ):
        refused = await client.get(path)
        assert refused.status_code == 403
        assert needs in refused.text, path
        assert "bosphorus is a seller" in refused.text
        assert '<a href="/seller" id="home">Your shop</a>' in refused.text
        assert "/seller" in await links_lead_somewhere(client, refused.text)

    client.cookies.clear()
    await log_in(client, "store", shopper.username)
    refused = await client.get("/seller")
    assert refused.status_code == 403
    assert "needs a seller account" in refused.text
    assert '<a href="/store" id="home">Store</a>' in refused.text
    assert "/store" in await links_lead_somewhere(client, refused.text)
