"""Feature flags' registration: routes only."""

from __future__ import annotations

from quote_service.flags.controller import FeatureFlagController
from quote_service.web.domain import Domain

FLAGS = Domain(name="flags", routes=[FeatureFlagController])
