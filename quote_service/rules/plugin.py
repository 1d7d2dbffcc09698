"""Pricing rules' registration: routes only."""

from __future__ import annotations

from quote_service.rules.controller import PricingRuleController
from quote_service.web.domain import Domain

RULES = Domain(name="rules", routes=[PricingRuleController])
