"""The other admins of the governance tests: made on the command line, so each is another person
than the `admin` fixture in approvals (docs/governance.md#who-may-approve)."""

from __future__ import annotations

import pytest

from quote_service.config import Settings
from tests.integration.conftest import Caller, make_caller


@pytest.fixture
async def reviewer(settings: Settings, password_hash: str) -> Caller:
    return await make_caller(settings, password_hash, "reviewer", "admin")


@pytest.fixture
async def auditor(settings: Settings, password_hash: str) -> Caller:
    return await make_caller(settings, password_hash, "auditor", "admin")
