"""HTTP: /api/v1/feature-flags (admin)."""

from __future__ import annotations

from litestar import Controller

from quote_service.auth.guards import admin_only


class FeatureFlagController(Controller):
    path = "/api/v1/feature-flags"
    tags = ["feature-flags"]
    guards = [admin_only]
