"""Wire shapes of market intelligence: observations, the market, signals, decisions, elasticity."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import msgspec

from quote_service.structs import Frozen

MAX_OBSERVATIONS = 1000
MAX_URL_LENGTH = 2048


class ObservationsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The body of POST /competitor-prices; each observation is checked on its own (`rejected`)."""

    observations: list[dict[str, Any]]


class ObservationRecord(Frozen, array_like=True):
    """One accepted observation, as it travels on the stream (compact, exact: price as text)."""

    product_id: UUID
    competitor: str
    price: Decimal
    currency: str
    observed_at: datetime
    in_stock: bool | None = None
    url: str | None = None


class Rejection(Frozen):
    index: int
    field: str
    message: str


class IngestResult(msgspec.Struct, kw_only=True):
    accepted: int
    rejected: list[Rejection]


class CompetitorPrice(msgspec.Struct, kw_only=True):
    id: int
    product_id: UUID
    competitor: str
    price: str
    currency: str
    observed_at: datetime
    in_stock: bool | None
    url: str | None
    received_at: datetime


class MarketCompetitor(msgspec.Struct, kw_only=True):
    competitor: str
    price: str
    observed_at: datetime


class Market(msgspec.Struct, kw_only=True):
    product_id: UUID
    currency: str
    our_price: str
    competitors: list[MarketCompetitor]
    mean: str | None
    min: str | None
    max: str | None
    stddev: str | None
    our_rank: int | None
    window_hours: int


SignalStatus = Literal["open", "acknowledged", "resolved"]


class Signal(msgspec.Struct, kw_only=True):
    id: UUID
    type: str
    product_id: UUID | None
    severity: str
    details: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


class DecisionRun(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    product_ids: list[UUID] | None = None
    dry_run: bool = False
    auto_apply: bool = False


class Decision(msgspec.Struct, kw_only=True):
    id: UUID
    product_id: UUID
    old_price: str
    recommended_price: str
    change_percent: str
    reasons: list[str]
    confidence: float
    inputs: dict[str, Any]
    guardrails: list[str]
    status: str
    dry_run: bool
    created_at: datetime
    applied_at: datetime | None


class Elasticity(msgspec.Struct, kw_only=True):
    product_id: UUID
    elasticity: float | None
    r_squared: float | None
    points: int
    distinct_prices: int
    method: str
    window_days: int
    reason: str | None = None
