"""What the extension tests share: the example tax server (examples/tax_extension.py) run on a free
loopback port, an extension made over HTTP, a product of a seller, a quote body."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from types import ModuleType
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.doc_blocks import ROOT
from tests.integration.conftest import Caller
from tests.integration.expect import expect_ok
from tests.webhook_receiver import free_port

Client = AsyncTestClient[Litestar]
EXTENSIONS = "/api/v1/extensions"
QUOTE = "/api/v1/quote"


def example() -> ModuleType:
    """examples/tax_extension.py, imported from its file (examples/ is no package)."""
    name = "tax_extension_example"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "tax_extension.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@contextmanager
def tax_engine(secret: str, *, rate: str = "20", delay_ms: float = 0.0, port: int | None = None) -> Iterator[str]:
    """The example tax server answering at `rate` percent, serving on 127.0.0.1; yields its URL."""
    module = example()
    port = port or free_port()
    server = module.make_server(port, secret, rate=Decimal(rate), delay_ms=delay_ms)
    module.serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{port}/tax"
    finally:
        server.shutdown()
        server.server_close()


async def extension(client: Client, admin: Caller, url: str, **fields: Any) -> dict[str, Any]:
    """A new extension (a tax one unless `kind` says otherwise), with its secret."""
    body = {"kind": "tax", "url": url, "timeout_ms": 500, **fields}
    made: dict[str, Any] = expect_ok(await client.post(EXTENSIONS, json=body, headers=admin.headers), 201)
    return made


async def product(client: Client, admin: Caller, price: str, seller: str = "seller-1", **fields: Any) -> str:
    body = {
        "sku": f"SKU-{price}-{seller}-{free_port()}",
        "name": "Extension probe",
        "category_id": "books",
        "seller_id": seller,
        "currency": "EUR",
        "base_price": price,
        "min_price": "0.00",
        "cost_price": "0.00",
        "stock": 1000,
        **fields,
    }
    made: dict[str, Any] = expect_ok(await client.post("/api/v1/products", json=body, headers=admin.headers), 201)
    product_id: str = made["id"]
    return product_id


def basket(*lines: tuple[str, int], country: str = "DE", customer: str = "customer-ext") -> dict[str, Any]:
    return {
        "customer_id": customer,
        "items": [{"product_id": product_id, "quantity": quantity} for product_id, quantity in lines],
        "delivery_address": {"city": "Berlin", "country": country},
        "currency": "EUR",
    }
