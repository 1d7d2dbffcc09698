"""Payouts' registration: routes only (balances are worked out from the ledger when asked)."""

from __future__ import annotations

from quote_service.payouts.controller import PayoutController, PayoutTermsController, SellerBalanceController
from quote_service.web.domain import Domain

PAYOUTS = Domain(name="payouts", routes=[PayoutTermsController, PayoutController, SellerBalanceController])
