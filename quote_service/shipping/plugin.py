"""Shipping profiles' registration: routes only (the quote path reads them from the configuration snapshot)."""

from __future__ import annotations

from quote_service.shipping.controller import ShippingProfileController
from quote_service.web.domain import Domain

SHIPPING = Domain(name="shipping", routes=[ShippingProfileController])
"""HTTP: /api/v1/shipping-profiles (admin)."""
