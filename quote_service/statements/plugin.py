"""Seller statements' registration: routes only."""

from __future__ import annotations

from quote_service.statements.controller import StatementController
from quote_service.web.domain import Domain

STATEMENTS = Domain(name="statements", routes=[StatementController])
