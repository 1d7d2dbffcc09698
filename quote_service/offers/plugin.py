"""Offers' registration: routes only (the quote path reads offers from the configuration snapshot)."""

from __future__ import annotations

from quote_service.offers.controller import OfferController, product_offers
from quote_service.web.domain import Domain

OFFERS = Domain(name="offers", routes=[OfferController, product_offers])
