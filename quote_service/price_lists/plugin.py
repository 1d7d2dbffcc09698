"""Price lists' registration: routes only."""

from __future__ import annotations

from quote_service.price_lists.controller import PriceListController
from quote_service.web.domain import Domain

PRICE_LISTS = Domain(name="price_lists", routes=[PriceListController])
