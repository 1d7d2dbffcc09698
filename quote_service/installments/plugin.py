"""Installment plans' registration: routes only (a quote with a card_bin reads the active plans itself)."""

from __future__ import annotations

from quote_service.installments.controller import InstallmentPlanController
from quote_service.web.domain import Domain

INSTALLMENTS = Domain(name="installments", routes=[InstallmentPlanController])
"""HTTP: /api/v1/installment-plans (admin)."""
