"""Seller payloads."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from quote_service.structs import Frozen


class SellerMe(Frozen):
    """GET /sellers/me: the seller this account acts for, and the account."""

    seller_id: str
    account_id: UUID
    account_name: str
    account_kind: Literal["user", "api_key"]
    products: int
    """How many products the catalog holds for this seller (active or not)."""
    active_products: int
