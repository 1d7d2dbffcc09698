"""HTTP: /api/v1/pricing-rules (admin)."""

from __future__ import annotations

from litestar import Controller

from quote_service.auth.guards import admin_only


class PricingRuleController(Controller):
    path = "/api/v1/pricing-rules"
    tags = ["pricing-rules"]
    guards = [admin_only]
