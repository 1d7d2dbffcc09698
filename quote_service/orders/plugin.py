"""Orders' registration: routes only."""

from __future__ import annotations

from quote_service.orders.controller import OrderController
from quote_service.web.domain import Domain

ORDERS = Domain(name="orders", routes=[OrderController])
