"""Coupons' registration: routes only (the counter repairs start with the quotes, quotes/plugin.py)."""

from __future__ import annotations

from quote_service.coupons.controller import CouponController, list_code_batches
from quote_service.web.domain import Domain

COUPONS = Domain(name="coupons", routes=[CouponController, list_code_batches])
