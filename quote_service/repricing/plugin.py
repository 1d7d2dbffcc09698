"""The inventory repricer's registration: routes only."""

from __future__ import annotations

from quote_service.repricing.controller import RepricingController
from quote_service.web.domain import Domain

REPRICING = Domain(name="repricing", routes=[RepricingController])
