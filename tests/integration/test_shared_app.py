"""The started app the integration tests share (tests/integration/conftest.py): once the stores are
emptied, the domains' resets leave nothing of the last test in the app's memory — the principal
behind an API key, a product in the catalog's local tier
(docs/development.md#one-started-app-per-worker)."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from quote_service.web.domain import Domains
from tests.conftest import empty_stores
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller
from tests.integration.expect import expect_error, expect_ok

Client = AsyncTestClient[Litestar]


async def test_a_reset_after_the_stores_were_emptied_forgets_cached_keys_and_products(
    client: Client, app: Litestar, settings: Settings, admin: Caller, service_key: dict[str, str], password_hash: str
) -> None:
    product = await create_product(client, admin)
    price = f"/api/v1/products/{product['id']}/price"
    expect_ok(await client.get(price, headers=service_key))  # the key's principal and the product are cached
    assert settings.database_url is not None
    assert settings.redis_url is not None
    await empty_stores(settings.database_url, settings.redis_url)

    client.blocking_portal.call(app.plugins.get(Domains).reset, app.state)

    expect_error(await client.get(price, headers=service_key), 401, "UNAUTHORIZED")
    again = await make_caller(settings, password_hash, "admin", "admin")
    key = expect_ok(await client.post("/api/v1/api-keys", json={"name": "again"}, headers=again.headers), 201)["key"]
    expect_error(await client.get(price, headers={"X-API-Key": key}), 404, "NOT_FOUND")
