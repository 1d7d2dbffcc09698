"""Feature-flag evaluation (docs/flags.md): OpenFeature reasons and salted murmur3 buckets.

`CompiledFlag` is the one evaluator: the quote engine, the evaluate endpoint and `evaluate`
all answer through it. Evaluation order, first answer wins:

    is_enabled false                          -> DISABLED         default_value
    now outside [start_at, end_at)            -> DEFAULT          default_value
    user_segments / regions set, not listed   -> DEFAULT          default_value
    rules set, one does not match             -> DEFAULT          default_value
    percentage set, user outside the rollout  -> DEFAULT          default_value
    variants set                              -> SPLIT            the variant's value
    otherwise                                 -> TARGETING_MATCH  value

Buckets are MurmurHash3 x86 32-bit (unsigned) of the UTF-8 bytes of "<flag_key>:<user_id>":
seed 0 for the rollout percentage, seed 86028157 for the variant, so any other service can
reproduce an assignment, and the two draws (and two flags) are independent. Rules
(`rollout.rules`, pricing/targeting.py) read the context's `attributes`; each is compiled once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import mmh3
import msgspec

from quote_service.pricing.regions import match_region
from quote_service.pricing.targeting import Matcher, TargetingRule, compile_rule

FlagType = Literal["BOOLEAN", "STRING", "NUMBER", "PERCENTAGE", "JSON"]
Reason = Literal["DISABLED", "TARGETING_MATCH", "SPLIT", "DEFAULT", "ERROR"]
GuardrailMetric = Literal["conversion", "revenue_per_quote"]

NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})
"""A context without attributes (shared: the quote path builds none while no flag has rules)."""
BUCKETS = 10_000
"""Rollout buckets: a percentage p admits buckets [0, p x 100)."""
BUCKET_SEED = 0
VARIANT_SEED = 86028157
_HUNDRED = Decimal(100)
_T = TypeVar("_T")


class Guardrail(msgspec.Struct, frozen=True, kw_only=True):
    """An experiment's automatic rollback (docs/experiments.md): a variant with at least
    `min_exposures` quotes converting worse than the control by more than `max_drop_percent`
    (relative), significantly by a sequential test, is rolled back."""

    max_drop_percent: float
    min_exposures: int
    metric: GuardrailMetric = "conversion"
    """What is watched: conversion (orders per exposure) or revenue_per_quote."""


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
    rules: tuple[TargetingRule, ...] = ()
    """All must match the context's attributes (pricing/targeting.py)."""


class FeatureFlag(msgspec.Struct, frozen=True, kw_only=True):
    """A flag as the engine reads it; values are already validated against `type`."""

    key: str
    type: FlagType
    value: Any
    default_value: Any
    is_enabled: bool
    rollout: Rollout = msgspec.field(default_factory=Rollout)


class EvaluationContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who is asking: `city` and `country` are matched against the flag's regions, `attributes`
    (customer_tier, subtotal, context.user_agent, ...) against its rules."""

    user_id: str | None = None
    user_segment: str | None = None
    city: str | None = None
    country: str | None = None
    attributes: Mapping[str, Any] = NO_ATTRIBUTES


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


def _wheel(variants: Iterable[Variant], answers: Iterable[_T]) -> tuple[tuple[int, _T], ...]:
    """Each variant's answer with the running weight total up to and including it."""
    running = 0
    wheel = []
    for arm, answer in zip(variants, answers, strict=True):
        running += arm.weight
        wheel.append((running, answer))
    return tuple(wheel)


def _arm_at(point: int, wheel: tuple[tuple[int, _T], ...]) -> _T:
    """The first answer whose running weight total exceeds `point`."""
    for running, answer in wheel:
        if point < running:
            return answer
    raise AssertionError("unreachable: point < total")  # pragma: no cover


def pick_variant(flag_key: str, user_id: str, variants: Iterable[Variant]) -> Variant | None:
    """The variant the flag assigns this user; None if all weigh 0."""
    arms = tuple(variants)
    wheel = _wheel(arms, arms)
    if not wheel or wheel[-1][0] <= 0:
        return None
    return _arm_at(variant_bucket(flag_key, user_id, wheel[-1][0]), wheel)


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


def _fixed(flag: FeatureFlag, matched: FlagEvaluation) -> FlagEvaluation | None:
    """The answer for everyone at every instant, when the flag has one (off, or on without targeting)."""
    if not flag.is_enabled:
        return _off(flag, "DISABLED")
    rollout = flag.rollout
    targeted = (rollout.start_at, rollout.end_at, rollout.percentage) != (None, None, None)
    if targeted or rollout.user_segments or rollout.regions or rollout.variants or rollout.rules:
        return None
    return matched


class CompiledFlag:
    """One flag's evaluation, with everything that does not depend on the context worked out once.

    The service's one flag evaluator: it hands out prepared `FlagEvaluation`s (the default, the
    flag's value, one per variant), and `fixed` when the answer depends on nobody and no instant.
    """

    __slots__ = (
        "_arms",
        "_default",
        "_end_at",
        "_error",
        "_key",
        "_keyless",
        "_matched",
        "_regions",
        "_rules",
        "_segments",
        "_start_at",
        "_threshold",
        "_wheel",
        "attributes",
        "fixed",
        "flag",
    )

    def __init__(self, flag: FeatureFlag) -> None:
        rollout = flag.rollout
        self.flag = flag
        self._key = flag.key
        self._start_at, self._end_at = rollout.start_at, rollout.end_at
        self._segments, self._regions = rollout.user_segments, rollout.regions
        self._threshold = None if rollout.percentage is None else rollout.percentage * _HUNDRED
        self._rules: tuple[Matcher, ...] = tuple(compile_rule(rule) for rule in rollout.rules)
        self.attributes = frozenset(rule.attribute for rule in rollout.rules)
        """The context attributes the flag's rules read."""
        self._default = _off(flag, "DEFAULT")
        # Equal to the default, but another object: the answer given because the flag needed a
        # user id to split by and had none (`lacked_targeting_key`).
        self._keyless = _off(flag, "DEFAULT")
        self._error = _off(flag, "ERROR")
        self._matched = FlagEvaluation(
            key=flag.key, enabled=True, value=flag.value, variant=None, reason="TARGETING_MATCH"
        )
        splits = tuple(
            FlagEvaluation(key=flag.key, enabled=True, value=arm.value, variant=arm.key, reason="SPLIT")
            for arm in rollout.variants
        )
        self._wheel = _wheel(rollout.variants, splits) if rollout.variants else None
        self._arms = {arm.key: split for arm, split in zip(rollout.variants, splits, strict=True) if arm.weight > 0}
        """The variants a caller may force (`forced`): those still drawn (weight > 0)."""
        self.fixed = _fixed(flag, self._matched)
        """The answer whatever the context and instant; None when it depends on them."""

    def evaluate(self, ctx: EvaluationContext | None, now: datetime) -> FlagEvaluation:
        """The flag's answer for `ctx` at `now`; `ctx` may be None only when the answer is `fixed`."""
        if self.fixed is not None:
            return self.fixed
        assert ctx is not None, "a targeted flag needs a context"
        if self._start_at is not None and now < self._start_at:
            return self._default
        if self._end_at is not None and now >= self._end_at:
            return self._default
        if self._segments and not _segment_listed(self._segments, ctx.user_segment):
            return self._default
        if self._regions and not _region_listed(self._regions, ctx):
            return self._default
        if self._rules:
            attributes = ctx.attributes
            for matches in self._rules:
                if not matches(attributes):
                    return self._default
        user_id = ctx.user_id
        if self._threshold is not None:
            if user_id is None:
                if self._threshold < BUCKETS:  # percentage < 100: nobody without an id is in
                    return self._keyless
            elif bucket(self._key, user_id) >= self._threshold:  # int against Decimal compares exactly
                return self._default
        if self._wheel is None:
            return self._matched
        # Without a user id no sticky assignment exists: the caller gets the default, not a random arm.
        if user_id is None:
            return self._keyless
        total = self._wheel[-1][0]
        if total <= 0:  # weights are validated on write; a zero total can only come from bad data
            return self._error
        return _arm_at(variant_bucket(self._key, user_id, total), self._wheel)

    def lacked_targeting_key(self, evaluation: FlagEvaluation) -> bool:
        """Whether `evaluation` (this flag's) is the default only because the context had no user
        id to place it in the rollout or on the variant wheel (OFREP's TARGETING_KEY_MISSING)."""
        return evaluation is self._keyless

    def forced(self, variant: str, now: datetime) -> FlagEvaluation | None:
        """The answer when a trusted caller names `variant` (context.ab_test_group), or None when
        it names none of this running experiment's variants: the flag must be enabled, `now`
        inside its window and the variant still drawn (weight > 0; a rolled-back experiment
        keeps only its control). The audience (segments, regions, percentage) is not asked."""
        answer = self._arms.get(variant)
        if answer is None or not self.flag.is_enabled:
            return None
        if (self._start_at is not None and now < self._start_at) or (self._end_at is not None and now >= self._end_at):
            return None
        return answer


def evaluate(flag: FeatureFlag, ctx: EvaluationContext, now: datetime) -> FlagEvaluation:
    """Evaluate one flag for one context at `now` (compiled for this one call)."""
    return CompiledFlag(flag).evaluate(ctx, now)


CompiledFlags = tuple[CompiledFlag, ...]
"""Flags in key order (the order a quote reports them in)."""


@dataclass(frozen=True, slots=True)
class FlagSet:
    """Every flag of a snapshot, indexed by key, each compiled once."""

    by_key: dict[str, FeatureFlag]
    compiled: CompiledFlags = field(init=False, repr=False, compare=False)
    """`by_key`'s flags in key order, compiled (derived)."""
    _compiled_by_key: dict[str, CompiledFlag] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple(CompiledFlag(self.by_key[key]) for key in sorted(self.by_key))
        object.__setattr__(self, "compiled", compiled)
        object.__setattr__(self, "_compiled_by_key", {flag.flag.key: flag for flag in compiled})

    @classmethod
    def of(cls, flags: Iterable[FeatureFlag]) -> FlagSet:
        """Index `flags` by key (keys are unique in the database)."""
        return cls({flag.key: flag for flag in flags})

    def get(self, key: str) -> FeatureFlag | None:
        return self.by_key.get(key)

    def compiled_flag(self, key: str) -> CompiledFlag | None:
        """The compiled flag named `key`; None when no such flag exists."""
        return self._compiled_by_key.get(key)

    def evaluate(self, key: str, ctx: EvaluationContext, now: datetime) -> FlagEvaluation | None:
        """Evaluate the flag named `key`; None when no such flag exists."""
        compiled = self._compiled_by_key.get(key)
        return compiled.evaluate(ctx, now) if compiled is not None else None


def evaluate_compiled(
    flags: CompiledFlags, ctx: EvaluationContext | None, now: datetime
) -> tuple[dict[str, Any], dict[str, str]]:
    """(feature_flags: key -> value of every flag that is on, experiments: key -> variant), by key.

    `ctx` may be None when every flag's answer is fixed.
    """
    feature_flags: dict[str, Any] = {}
    experiments: dict[str, str] = {}
    for flag in flags:
        result = flag.evaluate(ctx, now)
        if result.enabled:
            feature_flags[result.key] = result.value
        if result.variant is not None:
            experiments[result.key] = result.variant
    return feature_flags, experiments
