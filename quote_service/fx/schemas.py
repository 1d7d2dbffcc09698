"""FX rate payloads (docs/currencies.md). Rates are Decimal in, exact decimal text out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from quote_service.pricing.fx_rates import Source, Via
from quote_service.pricing.quote import CurrencyCode
from quote_service.structs import Frozen, Strict
from quote_service.validation import Instant, StrictDecimal


class FxRateInput(Strict):
    """POST: one rate of a pair, in force from `valid_from` until the pair's next rate."""

    base: CurrencyCode
    quote: CurrencyCode
    rate: StrictDecimal
    """Units of `quote` for one unit of `base`: above 0, at most 12 decimals."""
    source: Source = "manual"
    valid_from: Instant | None = None
    """From when it is in force (default: now; may be past)."""


class FxRate(Frozen):
    id: UUID
    base: str
    quote: str
    rate: Decimal
    source: str
    valid_from: datetime
    valid_until: datetime | None
    """The pair's next rate's `valid_from` (null: none yet, it is in force from `valid_from` on)."""
    created_by: str
    created_at: datetime


class FxRateInForce(Frozen):
    """GET /fx-rates?base&quote&at: the rate from `base` to `quote` at `at`."""

    base: str
    quote: str
    at: datetime
    rate: Decimal
    via: Via
    """`direct` (the pair's own rate), `inverse` (1 ÷ the rate of quote → base) or `cross` (through EUR)."""
    rate_id: UUID | None
    """The stored rate it is or inverts; null when crossed (see `rates`)."""
    source: str | None
    """The stored rates' source (null: crossed from rates of two sources)."""
    rates: list[FxRate]
    """The stored rates it comes from (two when crossed: EUR → base, EUR → quote)."""
