"""Feature-flag evaluation (API.md §4): OpenFeature reasons and salted murmur3 buckets.

Evaluation order, first answer wins:

    is_enabled false                          -> DISABLED         default_value
    now outside [start_at, end_at)            -> DEFAULT          default_value
    user_segments / regions set, not listed   -> DEFAULT          default_value
    percentage set, user outside the rollout  -> DEFAULT          default_value
    variants set                              -> SPLIT            the variant's value
    otherwise                                 -> TARGETING_MATCH  value

Buckets are MurmurHash3 x86 32-bit (unsigned) of the UTF-8 bytes of "<flag_key>:<user_id>":
seed 0 for the rollout percentage, seed 86028157 for the variant, so any other service can
reproduce an assignment, and the two draws (and two flags) are independent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import mmh3
import msgspec

from quote_service.pricing.regions import match_region

FlagType = Literal["BOOLEAN", "STRING", "NUMBER", "PERCENTAGE", "JSON"]
Reason = Literal["DISABLED", "TARGETING_MATCH", "SPLIT", "DEFAULT", "ERROR"]

BUCKETS = 10_000
"""Rollout buckets: a percentage p admits buckets [0, p x 100)."""
BUCKET_SEED = 0
VARIANT_SEED = 86028157
_HUNDRED = Decimal(100)


class Guardrail(msgspec.Struct, frozen=True, kw_only=True):
    """An experiment's automatic rollback (docs/experiments.md): a variant with at least
    `min_exposures` quotes converting worse than the control by more than `max_drop_percent`
    (relative), significantly by a sequential test, is rolled back."""

    max_drop_percent: float
    min_exposures: int


class Variant(msgspec.Struct, frozen=True, kw_only=True):
    """One arm of an experiment; `weight` is relative to the sum of all weights."""

    key: str
    weight: int
    value: Any


class Rollout(msgspec.Struct, frozen=True, kw_only=True):
    """Who gets the flag's value; an empty list or None means no restriction."""

    percentage: Decimal | None = None
    user_segments: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    start_at: datetime | None = None
    end_at: datetime | None = None
    variants: tuple[Variant, ...] = ()
    guardrail: Guardrail | None = None


class FeatureFlag(msgspec.Struct, frozen=True, kw_only=True):
    """A flag as the engine reads it; values are already validated against `type`."""

    key: str
    type: FlagType
    value: Any
    default_value: Any
    is_enabled: bool
    rollout: Rollout = msgspec.field(default_factory=Rollout)


class EvaluationContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who is asking: `city` and `country` are matched against the flag's regions."""

    user_id: str | None = None
    user_segment: str | None = None
    city: str | None = None
    country: str | None = None


class FlagEvaluation(msgspec.Struct, frozen=True, kw_only=True):
    """The answer: `enabled` is true exactly when the flag's value or a variant is served."""

    key: str
    enabled: bool
    value: Any
    variant: str | None
    reason: Reason


def _hash(flag_key: str, user_id: str, seed: int) -> int:
    return mmh3.hash(f"{flag_key}:{user_id}".encode(), seed, signed=False)


def bucket(flag_key: str, user_id: str) -> int:
    """The user's rollout bucket for this flag, in [0, 10000)."""
    return _hash(flag_key, user_id, BUCKET_SEED) % BUCKETS


def variant_bucket(flag_key: str, user_id: str, total_weight: int) -> int:
    """The user's point in [0, total_weight) on the flag's variant wheel."""
    return _hash(flag_key, user_id, VARIANT_SEED) % total_weight


def in_rollout(flag_key: str, user_id: str | None, percentage: Decimal) -> bool:
    """True when the user's bucket is below percentage x 100; no user is in only at 100 %."""
    if user_id is None:
        return percentage >= _HUNDRED
    return bucket(flag_key, user_id) < percentage * _HUNDRED  # int against Decimal compares exactly


def pick_variant(flag_key: str, user_id: str, variants: Iterable[Variant]) -> Variant | None:
    """The first variant whose running weight total exceeds the user's point; None if all weigh 0."""
    arms = tuple(variants)
    total = sum(arm.weight for arm in arms)
    if total <= 0:
        return None
    point = variant_bucket(flag_key, user_id, total)
    running = 0
    for arm in arms:
        running += arm.weight
        if point < running:
            return arm
    raise AssertionError("unreachable: point < total")  # pragma: no cover


def _segment_listed(segments: tuple[str, ...], segment: str | None) -> bool:
    if segment is None:
        return False
    wanted = segment.strip().casefold()
    return any(listed.strip().casefold() == wanted for listed in segments)


def _region_listed(regions: tuple[str, ...], ctx: EvaluationContext) -> bool:
    if ctx.city is None and ctx.country is None:
        return False
    return any(match_region(region, city=ctx.city, country=ctx.country) is not None for region in regions)


def _off(flag: FeatureFlag, reason: Reason) -> FlagEvaluation:
    return FlagEvaluation(key=flag.key, enabled=False, value=flag.default_value, variant=None, reason=reason)


def evaluate(flag: FeatureFlag, ctx: EvaluationContext, now: datetime) -> FlagEvaluation:
    """Evaluate one flag for one context at `now`, exactly in the order of API.md §4."""
    if not flag.is_enabled:
        return _off(flag, "DISABLED")
    rollout = flag.rollout
    if rollout.start_at is not None and now < rollout.start_at:
        return _off(flag, "DEFAULT")
    if rollout.end_at is not None and now >= rollout.end_at:
        return _off(flag, "DEFAULT")
    if rollout.user_segments and not _segment_listed(rollout.user_segments, ctx.user_segment):
        return _off(flag, "DEFAULT")
    if rollout.regions and not _region_listed(rollout.regions, ctx):
        return _off(flag, "DEFAULT")
    if rollout.percentage is not None and not in_rollout(flag.key, ctx.user_id, rollout.percentage):
        return _off(flag, "DEFAULT")
    if rollout.variants:
        # Without a user id no sticky assignment exists: the caller gets the default, not a random arm.
        if ctx.user_id is None:
            return _off(flag, "DEFAULT")
        arm = pick_variant(flag.key, ctx.user_id, rollout.variants)
        if arm is None:  # weights are validated on write; a zero total can only come from bad data
            return _off(flag, "ERROR")
        return FlagEvaluation(key=flag.key, enabled=True, value=arm.value, variant=arm.key, reason="SPLIT")
    return FlagEvaluation(key=flag.key, enabled=True, value=flag.value, variant=None, reason="TARGETING_MATCH")


class FlagSet(msgspec.Struct, frozen=True):
    """Every flag of a snapshot, indexed by key."""

    by_key: dict[str, FeatureFlag]

    @classmethod
    def of(cls, flags: Iterable[FeatureFlag]) -> FlagSet:
        """Index `flags` by key (keys are unique in the database)."""
        return cls({flag.key: flag for flag in flags})

    def get(self, key: str) -> FeatureFlag | None:
        return self.by_key.get(key)

    def evaluate(self, key: str, ctx: EvaluationContext, now: datetime) -> FlagEvaluation | None:
        """Evaluate the flag named `key`; None when no such flag exists."""
        flag = self.by_key.get(key)
        return evaluate(flag, ctx, now) if flag is not None else None


def evaluate_all(flags: FlagSet, ctx: EvaluationContext, now: datetime) -> tuple[dict[str, Any], dict[str, str]]:
    """(feature_flags: key -> value of every flag that is on, experiments: key -> variant), by key."""
    return evaluate_compiled(compile_flags(flags), ctx, now)


class CompiledFlag:
    """One flag's evaluation with everything that does not depend on the context worked out once.

    Answers exactly as `evaluate` (the same checks in the same order), but hands out prepared
    `FlagEvaluation`s: the default, the flag's value, one per variant.
    """

    __slots__ = (
        "_arms",
        "_default",
        "_end_at",
        "_error",
        "_key",
        "_matched",
        "_regions",
        "_segments",
        "_start_at",
        "_threshold",
        "_total_weight",
        "flag",
    )

    def __init__(self, flag: FeatureFlag) -> None:
        rollout = flag.rollout
        self.flag = flag
        self._key = flag.key
        self._start_at, self._end_at = rollout.start_at, rollout.end_at
        self._segments, self._regions = rollout.user_segments, rollout.regions
        self._threshold = None if rollout.percentage is None else rollout.percentage * _HUNDRED
        self._default = _off(flag, "DEFAULT")
        self._error = _off(flag, "ERROR")
        self._matched = FlagEvaluation(
            key=flag.key, enabled=True, value=flag.value, variant=None, reason="TARGETING_MATCH"
        )
        self._total_weight = sum(arm.weight for arm in rollout.variants)
        running = 0
        arms = []
        for arm in rollout.variants:
            running += arm.weight
            split = FlagEvaluation(key=flag.key, enabled=True, value=arm.value, variant=arm.key, reason="SPLIT")
            arms.append((running, split))
        self._arms = tuple(arms) if rollout.variants else None

    def evaluate(self, ctx: EvaluationContext, now: datetime) -> FlagEvaluation:
        """`evaluate(self.flag, ctx, now)` for an enabled flag."""
        if self._start_at is not None and now < self._start_at:
            return self._default
        if self._end_at is not None and now >= self._end_at:
            return self._default
        if self._segments and not _segment_listed(self._segments, ctx.user_segment):
            return self._default
        if self._regions and not _region_listed(self._regions, ctx):
            return self._default
        user_id = ctx.user_id
        if self._threshold is not None:
            if user_id is None:
                if self._threshold < BUCKETS:  # percentage < 100
                    return self._default
            elif _hash(self._key, user_id, BUCKET_SEED) % BUCKETS >= self._threshold:
                return self._default
        if self._arms is None:
            return self._matched
        if user_id is None:
            return self._default
        if self._total_weight <= 0:
            return self._error
        point = _hash(self._key, user_id, VARIANT_SEED) % self._total_weight
        for running, split in self._arms:
            if point < running:
                return split
        raise AssertionError("unreachable: point < total")  # pragma: no cover


CompiledFlags = tuple[tuple[FeatureFlag, FlagEvaluation | None, CompiledFlag | None], ...]
"""Flags in key order, each with its evaluation when nobody and no instant can change it, else compiled."""


def fixed_evaluation(flag: FeatureFlag) -> FlagEvaluation | None:
    """What `evaluate` answers for `flag` whatever the context and instant; None when that depends on them."""
    if not flag.is_enabled:
        return _off(flag, "DISABLED")
    rollout = flag.rollout
    if (
        rollout.start_at is None
        and rollout.end_at is None
        and not rollout.user_segments
        and not rollout.regions
        and rollout.percentage is None
        and not rollout.variants
    ):
        return FlagEvaluation(key=flag.key, enabled=True, value=flag.value, variant=None, reason="TARGETING_MATCH")
    return None


def compile_flags(flags: FlagSet) -> CompiledFlags:
    """The flags in key order, each fixed or compiled (a snapshot does this once)."""
    compiled = []
    for key in sorted(flags.by_key):
        flag = flags.by_key[key]
        fixed = fixed_evaluation(flag)
        compiled.append((flag, fixed, CompiledFlag(flag) if fixed is None else None))
    return tuple(compiled)


def evaluate_compiled(
    flags: CompiledFlags, ctx: EvaluationContext | None, now: datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    """`evaluate_all` over compiled flags; `ctx` may be None when every evaluation is fixed."""
    feature_flags: dict[str, Any] = {}
    experiments: dict[str, str] = {}
    for flag, fixed, compiled in flags:
        if compiled is not None:
            assert ctx is not None
            result = compiled.evaluate(ctx, now)
        else:
            assert fixed is not None
            result = fixed
        if result.enabled:
            feature_flags[flag.key] = result.value
        if result.variant is not None:
            experiments[flag.key] = result.variant
    return feature_flags, experiments
