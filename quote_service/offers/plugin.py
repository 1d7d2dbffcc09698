"""Offers' registration: routes (the quote path reads offers from the configuration snapshot), and how
a revert of an offer's audit entry is written (through the offers' own write: its price history)."""

from __future__ import annotations

from quote_service.audit.revert import writes_back
from quote_service.offers import service
from quote_service.offers.controller import OfferController, product_offers
from quote_service.web.domain import Domain

OFFERS = Domain(name="offers", routes=[OfferController, product_offers])
writes_back("offer", service.write_back)
