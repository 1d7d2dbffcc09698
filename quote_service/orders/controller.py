"""HTTP: /api/v1/orders (placeholder: filled in by the orders work)."""

from __future__ import annotations

from litestar import Controller


class OrderController(Controller):
    path = "/api/v1/orders"
    tags = ["orders"]
