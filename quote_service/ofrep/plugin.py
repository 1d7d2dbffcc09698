"""OFREP's registration: routes only (its OpenAPI operations are added by ofrep/openapi.py)."""

from __future__ import annotations

from quote_service.ofrep.controller import OfrepController
from quote_service.web.domain import Domain

OFREP = Domain(name="ofrep", routes=[OfrepController])
