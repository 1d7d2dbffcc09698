"""The seller role's registration: its own routes (the domains' routes serve it too, scoped)."""

from __future__ import annotations

from quote_service.sellers.controller import SellerController
from quote_service.web.domain import Domain

SELLERS = Domain(name="sellers", routes=[SellerController])
