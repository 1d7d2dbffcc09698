"""HTTP: /api/v1/commission-rates (admin)."""

from __future__ import annotations

from litestar import Controller

from quote_service.auth.guards import admin_only


class CommissionRateController(Controller):
    path = "/api/v1/commission-rates"
    tags = ["commission-rates"]
    guards = [admin_only]
