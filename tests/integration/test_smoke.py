from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Caller


async def test_health_and_products(client: AsyncTestClient[Litestar], admin: Caller, service_key: dict[str, str]) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    r = await client.get("/api/v1/products", headers=service_key)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"items": [], "next_cursor": None}
