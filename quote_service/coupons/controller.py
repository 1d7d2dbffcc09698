"""HTTP: /api/v1/coupons (admin)."""

from __future__ import annotations

from litestar import Controller

from quote_service.auth.guards import admin_only


class CouponController(Controller):
    path = "/api/v1/coupons"
    tags = ["coupons"]
    guards = [admin_only]
