"""Fixtures of the agents' tests."""

from __future__ import annotations

import pytest

from quote_service.config import Settings
from tests.integration.conftest import Caller, make_caller


@pytest.fixture
async def reviewer(settings: Settings, password_hash: str) -> Caller:
    """Another admin (made on the command line): an approver of the `admin` fixture's requests."""
    return await make_caller(settings, password_hash, "reviewer", "admin")
