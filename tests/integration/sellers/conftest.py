"""Two sellers, each with a product and a seller login (docs/sellers.md)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.config import Settings
from tests.integration.catalog.test_catalog import create_product
from tests.integration.conftest import Caller, make_caller

Client = AsyncTestClient[Litestar]
PRODUCTS = "/api/v1/products"


@pytest.fixture
async def seller(settings: Settings, password_hash: str) -> Caller:
    """A seller login for seller-1."""
    return await make_caller(settings, password_hash, "bosphorus", "seller", seller_id="seller-1")


@pytest.fixture
async def rival(settings: Settings, password_hash: str) -> Caller:
    """A seller login for seller-2."""
    return await make_caller(settings, password_hash, "cappadocia", "seller", seller_id="seller-2")


@pytest.fixture
async def own(client: Client, admin: Caller) -> dict[str, Any]:
    """seller-1's product: TRY 25.50, min 20.00, cost 10.00, 10 in stock."""
    return await create_product(client, admin, seller_id="seller-1")


@pytest.fixture
async def theirs(client: Client, admin: Caller) -> dict[str, Any]:
    """seller-2's product, as seller-1's."""
    return await create_product(client, admin, seller_id="seller-2")
