"""Feature-flag evaluation (docs/pricing.md): murmur3 buckets, rollout, targeting, schedule, variants."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import mmh3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quote_service.pricing.flags import (
    EvaluationContext,
    FeatureFlag,
    FlagEvaluation,
    FlagSet,
    Rollout,
    Variant,
    bucket,
    evaluate,
    evaluate_compiled,
    variant_bucket,
)
from tests.unit.pricing.reference_engine.flags import murmur3_32

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
USERS = [f"user-{n}" for n in range(10_000)]


def flag(key: str = "new_checkout", **fields: Any) -> FeatureFlag:
    """An enabled BOOLEAN flag serving true (default false), changed by `fields`."""
    values: dict[str, Any] = {"type": "BOOLEAN", "value": True, "default_value": False, "is_enabled": True}
    values.update(fields)
    return FeatureFlag(key=key, **values)


def rollout(**fields: Any) -> Rollout:
    return Rollout(**fields)


def ctx(**fields: Any) -> EvaluationContext:
    return EvaluationContext(**fields)


# --- Buckets against known murmur3 values ----------------------------------------------------------


def test_murmur3_library_gives_the_published_reference_values() -> None:
    assert mmh3.hash(b"", 0, signed=False) == 0
    assert mmh3.hash(b"", 1, signed=False) == 0x514E28B7
    assert mmh3.hash(b"hello", 0, signed=False) == 613153351
    assert mmh3.hash(b"The quick brown fox jumps over the lazy dog", 0x9747B28C, signed=False) == 0x2FA826CD


@pytest.mark.parametrize(
    ("flag_key", "user_id", "hash_seed_0", "hash_seed_86028157"),
    [
        ("dynamic_pricing", "user-1", 3537517053, 1626481461),
        ("dynamic_pricing", "user-2", 3605125681, 480931868),
        ("new_checkout", "42", 1626117879, 3340276775),
        ("express_delivery_multiplier", "customer-7", 1004432907, 313807767),
        ("flag", "ü", 273023992, 1848909154),  # UTF-8 bytes, not code points
    ],
)
def test_buckets_are_the_documented_murmur3_of_key_colon_user(
    flag_key: str, user_id: str, hash_seed_0: int, hash_seed_86028157: int
) -> None:
    data = f"{flag_key}:{user_id}".encode()
    assert murmur3_32(data, 0) == hash_seed_0
    assert murmur3_32(data, 86028157) == hash_seed_86028157

    assert bucket(flag_key, user_id) == hash_seed_0 % 10_000
    assert variant_bucket(flag_key, user_id, 100) == hash_seed_86028157 % 100
    assert variant_bucket(flag_key, user_id, 7) == hash_seed_86028157 % 7


@given(st.text(max_size=40), st.text(max_size=40))
def test_bucket_matches_the_reference_algorithm_for_any_text(flag_key: str, user_id: str) -> None:
    data = f"{flag_key}:{user_id}".encode()

    assert bucket(flag_key, user_id) == murmur3_32(data, 0) % 10_000
    assert variant_bucket(flag_key, user_id, 1000) == murmur3_32(data, 86028157) % 1000


@given(st.text(min_size=1, max_size=64), st.text(min_size=1, max_size=64), st.integers(1, 10**6))
def test_buckets_are_in_range(flag_key: str, user_id: str, total_weight: int) -> None:
    assert 0 <= bucket(flag_key, user_id) < 10_000
    assert 0 <= variant_bucket(flag_key, user_id, total_weight) < total_weight


# --- Percentage rollout ----------------------------------------------------------------------------


def test_thirty_percent_rollout_admits_thirty_percent_of_users() -> None:
    thirty = flag(rollout=rollout(percentage=Decimal(30)))

    admitted = sum(evaluate(thirty, ctx(user_id=user), NOW).enabled for user in USERS)

    assert 2800 <= admitted <= 3200


def test_two_flags_split_users_independently() -> None:
    half = flag("flag_a", rollout=rollout(percentage=Decimal(50)))
    thirty = flag("flag_b", rollout=rollout(percentage=Decimal(30)))

    in_a = {user for user in USERS if evaluate(half, ctx(user_id=user), NOW).enabled}
    in_b = {user for user in USERS if evaluate(thirty, ctx(user_id=user), NOW).enabled}

    # Independent draws: the overlap is the product of the rates (15 %), not min(50, 30) = 30 %.
    assert 1300 <= len(in_a & in_b) <= 1700


def test_rollout_boundary_is_an_exact_decimal_comparison() -> None:
    user = "user-1"
    b = bucket("new_checkout", user)  # 0 <= b < 10000

    def reason(percentage: Decimal) -> str:
        return evaluate(flag(rollout=rollout(percentage=percentage)), ctx(user_id=user), NOW).reason

    assert reason(Decimal(b) / 100) == "DEFAULT"  # bucket < percentage x 100 is strict
    assert reason(Decimal(b) / 100 + Decimal("0.001")) == "TARGETING_MATCH"
    assert reason(Decimal(b + 1) / 100) == "TARGETING_MATCH"


def test_percentage_zero_admits_nobody_and_hundred_everybody() -> None:
    nobody = flag(rollout=rollout(percentage=Decimal(0)))
    everybody = flag(rollout=rollout(percentage=Decimal(100)))

    assert not any(evaluate(nobody, ctx(user_id=user), NOW).enabled for user in USERS[:1000])
    assert all(evaluate(everybody, ctx(user_id=user), NOW).enabled for user in USERS[:1000])


def test_missing_user_id_is_out_of_a_partial_rollout_but_in_at_hundred_percent() -> None:
    anonymous = ctx()

    assert evaluate(flag(rollout=rollout(percentage=Decimal("99.99"))), anonymous, NOW).reason == "DEFAULT"
    assert evaluate(flag(rollout=rollout(percentage=Decimal(100))), anonymous, NOW).reason == "TARGETING_MATCH"
    assert evaluate(flag(), anonymous, NOW).reason == "TARGETING_MATCH"  # no percentage: no user needed


@given(st.text(min_size=1, max_size=64), st.text(min_size=1, max_size=64), st.decimals(0, 100, places=2))
def test_the_same_user_always_gets_the_same_answer(flag_key: str, user_id: str, percentage: Decimal) -> None:
    variants = (Variant(key="a", weight=1, value=True), Variant(key="b", weight=3, value=False))
    subject = flag(flag_key, rollout=rollout(percentage=percentage, variants=variants))

    answers = {evaluate(subject, ctx(user_id=user_id), NOW) for _ in range(3)}
    rebuilt = flag(flag_key, rollout=rollout(percentage=percentage, variants=variants))

    assert len(answers) == 1
    assert evaluate(rebuilt, ctx(user_id=user_id), NOW) in answers


# --- Variants --------------------------------------------------------------------------------------


def test_variant_weights_set_the_proportions() -> None:
    variants = (
        Variant(key="small", weight=1, value=1),
        Variant(key="medium", weight=2, value=2),
        Variant(key="large", weight=7, value=3),
    )
    experiment = flag(type="NUMBER", value=0, default_value=0, rollout=rollout(variants=variants))

    counts = Counter(evaluate(experiment, ctx(user_id=user), NOW).variant for user in USERS)

    assert 800 <= counts["small"] <= 1200
    assert 1800 <= counts["medium"] <= 2200
    assert 6800 <= counts["large"] <= 7200
    assert sum(counts.values()) == len(USERS)


def test_variant_is_the_first_whose_running_weight_exceeds_the_point() -> None:
    variants = (
        Variant(key="never", weight=0, value="x"),
        Variant(key="low", weight=3, value="l"),
        Variant(key="high", weight=7, value="h"),
    )
    experiment = flag(type="STRING", value="v", default_value="d", rollout=rollout(variants=variants))

    for user in USERS[:500]:
        point = variant_bucket("new_checkout", user, 10)
        result = evaluate(experiment, ctx(user_id=user), NOW)

        expected = variants[1] if point < 3 else variants[2]
        assert result == FlagEvaluation(
            key="new_checkout", enabled=True, value=expected.value, variant=expected.key, reason="SPLIT"
        )


def test_variants_without_a_user_id_serve_the_default() -> None:
    variants = (Variant(key="a", weight=1, value=True), Variant(key="b", weight=1, value=False))

    result = evaluate(flag(rollout=rollout(variants=variants)), ctx(), NOW)

    assert result == FlagEvaluation(key="new_checkout", enabled=False, value=False, variant=None, reason="DEFAULT")


def test_variants_all_weighing_zero_are_an_error_answered_with_the_default() -> None:
    variants = (Variant(key="a", weight=0, value=True),)

    result = evaluate(flag(rollout=rollout(variants=variants)), ctx(user_id="u"), NOW)

    assert (result.reason, result.enabled, result.value) == ("ERROR", False, False)


def test_percentage_gates_before_the_variant_split() -> None:
    variants = (Variant(key="a", weight=1, value=True),)
    experiment = flag(rollout=rollout(percentage=Decimal(40), variants=variants))

    reasons = Counter(evaluate(experiment, ctx(user_id=user), NOW).reason for user in USERS)

    assert set(reasons) == {"SPLIT", "DEFAULT"}
    assert 3800 <= reasons["SPLIT"] <= 4200


# --- Disabled, schedule, segments, regions ---------------------------------------------------------


def test_disabled_flag_answers_disabled_with_its_default_whatever_the_context() -> None:
    off = flag(is_enabled=False, default_value=False, rollout=rollout(percentage=Decimal(100)))

    result = evaluate(off, ctx(user_id="u", user_segment="vip", city="Berlin"), NOW)

    assert result == FlagEvaluation(key="new_checkout", enabled=False, value=False, variant=None, reason="DISABLED")


def test_schedule_window_includes_its_start_and_excludes_its_end() -> None:
    start, end = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    scheduled = flag(rollout=rollout(start_at=start, end_at=end))
    tick = timedelta(microseconds=1)

    def reason(at: datetime) -> str:
        return evaluate(scheduled, ctx(), at).reason

    assert reason(start - tick) == "DEFAULT"
    assert reason(start) == "TARGETING_MATCH"
    assert reason(end - tick) == "TARGETING_MATCH"
    assert reason(end) == "DEFAULT"


def test_open_ended_windows() -> None:
    assert evaluate(flag(rollout=rollout(start_at=NOW)), ctx(), NOW + timedelta(days=3650)).enabled
    assert evaluate(flag(rollout=rollout(end_at=NOW)), ctx(), NOW - timedelta(days=3650)).enabled


@pytest.mark.parametrize(
    ("segments", "segment", "reason"),
    [
        ((), None, "TARGETING_MATCH"),
        ((), "anyone", "TARGETING_MATCH"),
        (("vip", "beta"), "vip", "TARGETING_MATCH"),
        (("vip", "beta"), "BETA", "TARGETING_MATCH"),
        (("vip", "beta"), "basic", "DEFAULT"),
        (("vip",), None, "DEFAULT"),
    ],
)
def test_segments_listed_or_not(segments: tuple[str, ...], segment: str | None, reason: str) -> None:
    targeted = flag(rollout=rollout(user_segments=segments))

    assert evaluate(targeted, ctx(user_segment=segment), NOW).reason == reason


@pytest.mark.parametrize(
    ("regions", "city", "country", "reason"),
    [
        ((), None, None, "TARGETING_MATCH"),
        (("TR",), "Istanbul", "TR", "TARGETING_MATCH"),
        (("tr",), None, "TR", "TARGETING_MATCH"),
        (("Berlin",), "BERLIN", "DE", "TARGETING_MATCH"),
        (("Berlin", "TR"), "Munich", "DE", "DEFAULT"),
        (("TR",), None, None, "DEFAULT"),
    ],
)
def test_regions_match_city_or_country_case_insensitively(
    regions: tuple[str, ...], city: str | None, country: str | None, reason: str
) -> None:
    targeted = flag(rollout=rollout(regions=regions))

    assert evaluate(targeted, ctx(city=city, country=country), NOW).reason == reason


def test_enabled_is_true_exactly_when_the_value_or_a_variant_is_served() -> None:
    variants = (Variant(key="a", weight=1, value="A"),)
    flags = [
        flag(type="STRING", value="on", default_value="off"),
        flag(type="STRING", value="on", default_value="off", is_enabled=False),
        flag(type="STRING", value="on", default_value="off", rollout=rollout(user_segments=("vip",))),
        flag(type="STRING", value="on", default_value="off", rollout=rollout(variants=variants)),
    ]

    for subject in flags:
        result = evaluate(subject, ctx(user_id="u"), NOW)
        served_value = result.value in {"on", "A"}
        assert result.enabled is served_value
        assert result.enabled is (result.reason in {"TARGETING_MATCH", "SPLIT"})


# --- FlagSet ---------------------------------------------------------------------------------------


def test_evaluate_compiled_lists_flags_that_are_on_and_assigned_variants() -> None:
    variants = (Variant(key="fast", weight=1, value=Decimal("2.5")),)
    flags = FlagSet.of(
        [
            flag("dynamic_pricing"),
            flag("off_flag", is_enabled=False),
            flag("vip_only", rollout=rollout(user_segments=("vip",))),
            flag(
                "express_delivery_multiplier",
                type="NUMBER",
                value=Decimal(2),
                default_value=None,
                rollout=rollout(variants=variants),
            ),
        ]
    )

    feature_flags, experiments = evaluate_compiled(flags.compiled, ctx(user_id="u", user_segment="basic"), NOW)

    assert feature_flags == {"dynamic_pricing": True, "express_delivery_multiplier": Decimal("2.5")}
    assert experiments == {"express_delivery_multiplier": "fast"}


def test_flag_set_looks_flags_up_by_key() -> None:
    flags = FlagSet.of([flag("a"), flag("b", is_enabled=False)])

    assert flags.get("a") == flag("a")
    assert flags.get("missing") is None
    assert flags.evaluate("missing", ctx(), NOW) is None
    result = flags.evaluate("b", ctx(), NOW)
    assert result is not None
    assert result.reason == "DISABLED"
