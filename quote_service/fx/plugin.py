"""FX rates' registration: routes only (the quote path will read them from the configuration snapshot)."""

from __future__ import annotations

from quote_service.fx.controller import FxRateController
from quote_service.web.domain import Domain

FX = Domain(name="fx", routes=[FxRateController])
