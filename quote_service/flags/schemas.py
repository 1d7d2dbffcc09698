"""Feature-flag payloads. Values are checked against the flag's `type` by the service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.pricing.flags import FlagType, GuardrailMetric, Rollout
from quote_service.pricing.targeting import Operator
from quote_service.structs import Frozen, Strict
from quote_service.validation import Instant, StrictDecimal

FlagKey = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9_.-]*\Z",
        description="Unique key: lower-case letters, digits, '_', '.', '-'; 1-64 chars.",
    ),
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=2000)]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Labels = Annotated[list[Label], msgspec.Meta(max_length=100)]
Weight = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]


class VariantIn(Strict):
    key: Label
    weight: Weight
    value: Any
    """Validated against the flag's type, like `value`."""


class GuardrailIn(Strict):
    """Roll a losing variant back automatically (experiments)."""

    max_drop_percent: Annotated[float, msgspec.Meta(gt=0, le=100)]
    """Relative drop of a variant's conversion below the control's that triggers a rollback, in %."""
    min_exposures: Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]
    """Quotes a variant needs before it can be judged."""
    metric: GuardrailMetric = "conversion"
    """conversion (orders per exposure) or revenue_per_quote (ordered goods per exposure)."""


AttributeName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*\Z",
        description="An attribute of the evaluation context: customer_tier, subtotal, context.user_agent, ...",
    ),
]


class RuleIn(Strict):
    """A targeting rule: the context's `attribute` compared by `operator` with `values` (docs/flags.md)."""

    attribute: AttributeName
    operator: Operator
    values: Annotated[list[Any], msgspec.Meta(min_length=1, max_length=100)]
    """Text, numbers or booleans; exactly one for eq, neq, gt, gte, lt, lte, semver_gte, semver_lt."""


class RolloutIn(Strict):
    """Who gets the flag's value; every part is optional."""

    percentage: StrictDecimal | None = None
    """0-100: share of users (by murmur3 bucket) who get the value."""
    user_segments: Labels | None = None
    regions: Labels | None = None
    """Cities or countries (ISO 3166-1 alpha-2), compared case-insensitively."""
    start_at: Instant | None = None
    end_at: Instant | None = None
    """Exclusive: the flag serves its value in [start_at, end_at)."""
    variants: Annotated[list[VariantIn], msgspec.Meta(max_length=100)] | None = None
    guardrail: GuardrailIn | None = None
    """Only with variants: the experiment's automatic rollback."""
    rules: Annotated[list[RuleIn], msgspec.Meta(max_length=50)] | None = None
    """Targeting: every rule must match the context, or the flag answers DEFAULT."""


class FeatureFlagUpdate(Strict):
    """PUT: every mutable field, so the create body fits. The key is the flag's identity (and
    its hash salt): it may be sent, and must then be the flag's own (else 422)."""

    key: FlagKey | None = None
    name: Name
    description: Description | None = None
    type: FlagType
    value: Any
    """Served when the flag is on: BOOLEAN bool, STRING text, NUMBER number, PERCENTAGE 0-100, JSON anything."""
    default_value: Any = UNSET
    """Served when the flag is off; omitted: false for BOOLEAN, null for the other types."""
    is_enabled: bool = True
    rollout: RolloutIn | None = None
    permanent: bool = False
    """Meant to stay (a kill switch, an operational toggle): never `potentially_stale`."""


class FeatureFlagCreate(FeatureFlagUpdate):
    """POST: the PUT body with the key required (the fields keep their order)."""

    key: FlagKey


class FeatureFlagPatch(Strict):
    """PATCH: only the fields sent change (each replaces the whole value: send the whole
    `rollout`); the flag that results is checked whole. `key`, when sent, must be the flag's own."""

    key: FlagKey | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    type: FlagType | UnsetType = UNSET
    value: Any = UNSET
    default_value: Any = UNSET
    is_enabled: bool | UnsetType = UNSET
    rollout: RolloutIn | UnsetType | None = UNSET
    permanent: bool | UnsetType = UNSET


Lifecycle = Literal["active", "potentially_stale", "permanent"]


class FeatureFlag(Frozen):
    id: UUID
    key: str
    name: str
    description: str | None
    type: FlagType
    value: Any
    default_value: Any
    is_enabled: bool
    rollout: Rollout
    permanent: bool
    lifecycle: Lifecycle
    """`potentially_stale`: served the same way to everyone (no variants; no percentage, or 0 or 100)
    and unchanged for STALE_FLAG_DAYS, and not `permanent` (docs/flags.md#stale-flags)."""
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class FlagChange(Frozen):
    """One change of a flag, as the history keeps it (docs/experiments.md#flag-history)."""

    id: int
    flag_id: UUID
    flag_key: str
    action: str
    """created, updated, rolled_back (by the experiment guardrail) or deleted."""
    actor: str
    reason: str | None
    """Why, when the writer said (the guardrail always does)."""
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_at: datetime


class EvaluationRequest(Strict):
    """Omitted `user_id`/`user_segment` default to the calling user's own (not for API keys)."""

    user_id: Label | None = None
    user_segment: Label | None = None
    region: Label | None = None
    """A city or a country code, matched against the flag's regions."""
    attributes: dict[str, Any] | None = None
    """The context's attributes, read by the flags' rules (a user's customer_* come from its account)."""
