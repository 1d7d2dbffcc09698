"""The seller page /seller (docs/sellers.md): for a seller account only; the admin pages are not a seller's."""

from __future__ import annotations

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
