"""Promotions' registration: routes only."""

from __future__ import annotations

from quote_service.promotions.controller import PromotionController
from quote_service.web.domain import Domain

PROMOTIONS = Domain(name="promotions", routes=[PromotionController])
