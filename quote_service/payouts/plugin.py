"""Payouts' registration: routes only (balances are worked out from the ledger when asked; a payout preview prices
its sale with the quote service's engine and the order's calculator)."""

from __future__ import annotations

from quote_service.payouts.controller import PayoutController, PayoutTermsController, SellerBalanceController
from quote_service.payouts.preview_controller import preview_payout
from quote_service.web.domain import Domain

PAYOUTS = Domain(
    name="payouts", routes=[PayoutTermsController, PayoutController, SellerBalanceController, preview_payout]
)
