"""Feature-flag evaluation as docs/pricing.md ("Feature flags") states it, with its own MurmurHash3.

Evaluation, first answer wins: disabled → default; `now` outside `[start_at, end_at)` → default;
a segment or region list that does not name the customer → default; a targeting rule that does
not hold for the context's attributes → default (the reference's targeting.py); a percentage the
user's bucket is not below → default; variants → the variant on the user's point of the weight
wheel; otherwise the flag's value. Only what a quote shows is computed: served or not, value, variant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from quote_service.pricing.flags import FeatureFlag
from tests.unit.pricing.reference_engine.places import region_match
from tests.unit.pricing.reference_engine.targeting import rule_holds

ROLLOUT_SEED = 0
VARIANT_SEED = 86028157


def murmur3_32(data: bytes, seed: int) -> int:
    """MurmurHash3 x86 32-bit (unsigned), written from the reference algorithm."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = seed & mask
    rounded = len(data) - len(data) % 4
    for i in range(0, rounded, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    k = 0
    for shift, byte in enumerate(data[rounded:]):
        k |= byte << (8 * shift)
    if k:
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        k = (k * c2) & mask
        h ^= k
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h


def _draw(flag_key: str, user_id: str, seed: int) -> int:
    return murmur3_32(f"{flag_key}:{user_id}".encode(), seed)


def _listed(names: Iterable[str], name: str | None) -> bool:
    return name is not None and name.strip().casefold() in {listed.strip().casefold() for listed in names}


def served(
    flag: FeatureFlag,
    *,
    user_id: str | None,
    segment: str | None,
    city: str,
    country: str,
    now: datetime,
    attributes: Mapping[str, Any] | None = None,
) -> tuple[bool, Any, str | None]:
    """(served, value, variant) of one flag for one customer at `now`."""
    rollout = flag.rollout
    default = (False, flag.default_value, None)
    if not flag.is_enabled:
        return default
    if (rollout.start_at is not None and now < rollout.start_at) or (
        rollout.end_at is not None and now >= rollout.end_at
    ):
        return default
    if rollout.user_segments and not _listed(rollout.user_segments, segment):
        return default
    if rollout.regions and all(region_match(r, city=city, country=country) is None for r in rollout.regions):
        return default
    if not all(rule_holds(rule, attributes or {}) for rule in rollout.rules):
        return default
    if rollout.percentage is not None:
        if user_id is None:
            if rollout.percentage < 100:
                return default
        elif not _draw(flag.key, user_id, ROLLOUT_SEED) % 10_000 < rollout.percentage * 100:
            return default
    if not rollout.variants:
        return True, flag.value, None
    total = sum(variant.weight for variant in rollout.variants)
    if user_id is None or total <= 0:
        return default
    point = _draw(flag.key, user_id, VARIANT_SEED) % total
    for variant in rollout.variants:
        if point < variant.weight:
            return True, variant.value, variant.key
        point -= variant.weight
    raise AssertionError("unreachable: the point is below the total weight")


def flags_served(
    flags: Iterable[FeatureFlag],
    *,
    user_id: str,
    segment: str | None,
    city: str,
    country: str,
    now: datetime,
    attributes: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """(every flag served → its value, every variant assigned), listed by key."""
    feature_flags: dict[str, Any] = {}
    experiments: dict[str, str] = {}
    for flag in sorted(flags, key=lambda flag: flag.key):
        on, value, variant = served(
            flag, user_id=user_id, segment=segment, city=city, country=country, now=now, attributes=attributes
        )
        if on:
            feature_flags[flag.key] = value
        if variant is not None:
            experiments[flag.key] = variant
    return feature_flags, experiments
