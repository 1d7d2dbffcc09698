"""Commission rates' registration: routes only."""

from __future__ import annotations

from quote_service.commissions.controller import CommissionRateController
from quote_service.web.domain import Domain

COMMISSIONS = Domain(name="commissions", routes=[CommissionRateController])
