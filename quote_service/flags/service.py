"""Feature-flag writes (every value checked against the flag's type) and evaluation."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, getcontext
from time import perf_counter_ns
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.auth.policy import foreign_labels
from quote_service.auth.schemas import Principal
from quote_service.db.pool import Connection
from quote_service.db.rows import found, row_as
from quote_service.errors import FieldError, Forbidden, ValidationFailed
from quote_service.flags import repository
from quote_service.flags.schemas import (
    EvaluationRequest,
    FeatureFlag,
    FeatureFlagCreate,
    FeatureFlagPatch,
    FeatureFlagUpdate,
    RolloutIn,
)
from quote_service.flags.targeting import check_rules
from quote_service.observability import flag_timing
from quote_service.patch import patched, sent_fields
from quote_service.pricing import flags as engine
from quote_service.pricing.flags import EvaluationContext, FlagEvaluation, FlagType, Guardrail, Rollout, Variant
from quote_service.webhooks import events

_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_MAX_NUMBER = Decimal("1e15")
_MAX_STRING = 10_000
_MAX_DEPTH = 32
_HUNDRED = Decimal(100)
_TYPE_DEFAULTS: dict[str, Any] = {"BOOLEAN": False}


def flag_from_row(row: asyncpg.Record) -> FeatureFlag:
    """A flag as the API shows it."""
    model = repository.model_from_row(row)
    return row_as(
        FeatureFlag,
        row,
        key=model.key,
        type=model.type,
        value=model.value,
        default_value=model.default_value,
        is_enabled=model.is_enabled,
        rollout=model.rollout,
    )


def _plain(number: Decimal) -> Decimal:
    """Without a positive exponent, so 1e3 reads "1000", not "1E+3". A number of more integer digits than a
    Decimal holds (28: 1e28 and up) is left as it is, for the range checks to refuse (quantizing it raised
    InvalidOperation: a 500 where a 422 naming the field belongs)."""
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0 and number.adjusted() < getcontext().prec:
        return number.quantize(Decimal(1))
    return number


_JSON_ENCODER = msgspec.json.Encoder(decimal_format="number")
_JSON_DECODER = msgspec.json.Decoder()


def _as_decimal(raw: Any) -> Decimal | None:
    """A JSON number, or a string of plain decimal digits, as a finite Decimal; None otherwise."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, Decimal):  # JSON numbers with a fraction arrive as Decimal (web/request.py)
        number = raw
    elif isinstance(raw, int | float):
        number = msgspec.convert(raw, Decimal)
    elif isinstance(raw, str) and _DECIMAL_TEXT.fullmatch(raw):
        number = Decimal(raw)
    else:
        return None
    return _plain(number) if number.is_finite() else None


def typed_value(flag_type: FlagType, raw: Any, field: str, errors: list[FieldError]) -> Any:
    """`raw` as a value of `flag_type`, or a FieldError appended to `errors`."""
    if flag_type == "JSON":
        # An opaque document: its numbers stay JSON numbers (the request decoder made them Decimal).
        return _JSON_DECODER.decode(_JSON_ENCODER.encode(raw))
    if flag_type == "BOOLEAN":
        if isinstance(raw, bool):
            return raw
        errors.append(FieldError(field, "must be true or false for a BOOLEAN flag"))
    elif flag_type == "STRING":
        if isinstance(raw, str) and len(raw) <= _MAX_STRING:
            return raw
        errors.append(FieldError(field, f"must be a string of at most {_MAX_STRING} characters for a STRING flag"))
    else:
        number = _as_decimal(raw)
        if flag_type == "NUMBER" and number is not None and abs(number) < _MAX_NUMBER:
            return number
        if flag_type == "PERCENTAGE" and number is not None and 0 <= number <= _HUNDRED:
            return number
        wanted = "a number between 0 and 100" if flag_type == "PERCENTAGE" else "a finite number below 1e15"
        errors.append(FieldError(field, f"must be {wanted} for a {flag_type} flag"))
    return None


def storage_problem(value: Any) -> str | None:
    """Why `value` is refused (JSON nested too deeply; NUL is refused for every body in web/request.py)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:  # iterative: a hostile value must not exhaust the Python stack
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= _MAX_DEPTH:
                return f"must not nest more than {_MAX_DEPTH} levels deep"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None


def _check_storable(fields: dict[str, Any], errors: list[FieldError]) -> None:
    for field, value in fields.items():
        problem = storage_problem(value)
        if problem is not None:
            errors.append(FieldError(field, problem))


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def _check_rollout(flag_type: FlagType, rollout: RolloutIn | None, errors: list[FieldError]) -> Rollout:
    if rollout is None:
        return Rollout()
    percentage = rollout.percentage
    if percentage is not None and (not percentage.is_finite() or not 0 <= percentage <= _HUNDRED):
        errors.append(FieldError("rollout.percentage", "must be a number between 0 and 100"))
    if rollout.start_at is not None and rollout.end_at is not None and rollout.end_at <= rollout.start_at:
        errors.append(FieldError("rollout.end_at", "must be after start_at"))
    _check_storable({"rollout.user_segments": rollout.user_segments, "rollout.regions": rollout.regions}, errors)
    variants: list[Variant] = []
    seen: set[str] = set()
    for index, variant in enumerate(rollout.variants or ()):
        path = f"rollout.variants[{index}]"
        if variant.key in seen:
            errors.append(FieldError(f"{path}.key", f"duplicates the variant key {variant.key!r}"))
        seen.add(variant.key)
        _check_storable({f"{path}.key": variant.key, f"{path}.value": variant.value}, errors)
        value = typed_value(flag_type, variant.value, f"{path}.value", errors)
        variants.append(Variant(key=variant.key, weight=variant.weight, value=value))
    if variants and sum(variant.weight for variant in variants) <= 0:
        errors.append(FieldError("rollout.variants", "weights must add up to more than 0"))
    guardrail = None
    if rollout.guardrail is not None:
        if len(variants) < 2:
            errors.append(FieldError("rollout.guardrail", "needs at least two variants (a control and another)"))
        guardrail = Guardrail(
            max_drop_percent=rollout.guardrail.max_drop_percent,
            min_exposures=rollout.guardrail.min_exposures,
            metric=rollout.guardrail.metric,
        )
    return Rollout(
        percentage=_plain(percentage) if percentage is not None and percentage.is_finite() else percentage,
        user_segments=tuple(rollout.user_segments or ()),
        regions=tuple(rollout.regions or ()),
        start_at=_utc(rollout.start_at),
        end_at=_utc(rollout.end_at),
        variants=tuple(variants),
        guardrail=guardrail,
        rules=check_rules(rollout.rules, errors),
    )


def check_flag(data: FeatureFlagCreate | FeatureFlagUpdate) -> dict[str, Any]:
    """The writable fields, normalised; a 422 listing every value that does not fit the type."""
    errors: list[FieldError] = []
    if isinstance(data, FeatureFlagCreate) and not _KEY.fullmatch(data.key):
        errors.append(FieldError("key", "must be 1-64 of a-z 0-9 _ . - starting with a letter or digit"))
    _check_storable(
        {"name": data.name, "description": data.description, "value": data.value, "default_value": data.default_value},
        errors,
    )
    value = typed_value(data.type, data.value, "value", errors)
    if data.default_value is msgspec.UNSET:
        default_value = _TYPE_DEFAULTS.get(data.type)
    elif data.default_value is None and data.type != "BOOLEAN":
        default_value = None
    else:
        default_value = typed_value(data.type, data.default_value, "default_value", errors)
    rollout = _check_rollout(data.type, data.rollout, errors)
    if errors:
        raise ValidationFailed(
            "Invalid feature flag: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
        )
    return {
        "name": data.name,
        "description": data.description,
        "type": data.type,
        "value": value,
        "default_value": default_value,
        "is_enabled": data.is_enabled,
        "rollout": rollout,
        "permanent": data.permanent,
    }


async def create_flag(pool: asyncpg.Pool, data: FeatureFlagCreate, *, actor: str) -> FeatureFlag:
    fields = check_flag(data)
    async with pool.acquire() as conn:
        row = await repository.insert_flag(conn, key=data.key, fields=fields, actor=actor)
    return flag_from_row(row)


async def get_flag(pool: asyncpg.Pool, flag_id: UUID) -> FeatureFlag:
    async with pool.acquire() as conn:
        row = await repository.get_flag(conn, flag_id=flag_id)
    return flag_from_row(found(row, f"feature flag {flag_id}"))


async def _row_by_key(pool: asyncpg.Pool, key: str) -> asyncpg.Record:
    # A string that is not a key names no flag (and may hold bytes PostgreSQL refuses).
    row = None
    if _KEY.fullmatch(key):
        async with pool.acquire() as conn:
            row = await repository.get_flag_by_key(conn, key=key)
    return found(row, f"feature flag {key!r}")


async def get_flag_by_key(pool: asyncpg.Pool, key: str) -> FeatureFlag:
    return flag_from_row(await _row_by_key(pool, key))


async def update_flag(pool: asyncpg.Pool, flag_id: UUID, data: FeatureFlagUpdate, *, actor: str) -> FeatureFlag:
    """Replace every mutable field of a flag (PUT); a `key` sent must be the flag's own."""
    fields = check_flag(data)
    async with pool.acquire() as conn, conn.transaction():
        current = await _locked(conn, flag_id)
        _check_key(current["key"], data.key)
        row = await repository.update_flag(conn, flag_id=flag_id, fields=fields, actor=actor)
    assert row is not None  # locked above
    return flag_from_row(row)


async def patch_flag(pool: asyncpg.Pool, flag_id: UUID, data: FeatureFlagPatch, *, actor: str) -> FeatureFlag:
    """Change only the fields sent (PATCH); the flag that results is checked whole."""
    changes = sent_fields(data)
    async with pool.acquire() as conn, conn.transaction():
        current = await _locked(conn, flag_id)
        body = patched(flag_from_row(current), FeatureFlagUpdate, changes)
        _check_key(current["key"], body.key)
        row = await repository.update_flag(conn, flag_id=flag_id, fields=check_flag(body), actor=actor)
    assert row is not None  # locked above
    return flag_from_row(row)


async def _locked(conn: Connection, flag_id: UUID) -> asyncpg.Record:
    row = await repository.get_flag(conn, flag_id=flag_id, for_update=True)
    return found(row, f"feature flag {flag_id}")


def _check_key(key: str, sent: str | None) -> None:
    """The key names the flag (and salts its buckets): a body may repeat it, never change it."""
    if sent is not None and sent != key:
        raise ValidationFailed(
            f"key: cannot change (the flag is {key!r}); a new key is a new flag (POST)",
            details=[FieldError("key", f"cannot change (the flag is {key!r}); a new key is a new flag")],
        )


async def roll_back_experiment(conn: Connection, flag_id: UUID, *, reason: str, actor: str) -> FeatureFlag | None:
    """Give every user the control from now on: the other variants' weights become 0 and the
    experiment is marked rolled back, in the caller's transaction, through the same UPDATE as an
    admin's change (so the configuration version is bumped and the history row says `reason`).
    None when the flag is gone or already rolled back (another checker got there first)."""
    row = await repository.get_flag(conn, flag_id=flag_id)
    if row is None:
        return None
    model = repository.model_from_row(row)
    arms = model.rollout.variants
    if not arms:
        return None
    control = arms[0]
    variants = (
        msgspec.structs.replace(control, weight=max(control.weight, 1)),
        *(msgspec.structs.replace(arm, weight=0) for arm in arms[1:]),
    )
    fields = {
        "name": row["name"],
        "description": row["description"],
        "type": model.type,
        "value": model.value,
        "default_value": model.default_value,
        "is_enabled": model.is_enabled,
        "rollout": msgspec.structs.replace(model.rollout, variants=variants),
        "permanent": row["permanent"],  # a rollback changes the arms' weights, nothing else
    }
    await repository.explain_change(conn, reason=reason)
    updated = await repository.update_flag(conn, flag_id=flag_id, fields=fields, actor=actor, roll_back=True)
    return None if updated is None else flag_from_row(updated)


async def flag_history(pool: asyncpg.Pool, flag_id: UUID, *, before: int | None, limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await repository.flag_history(conn, flag_id=flag_id, before=before, limit=limit)


async def delete_flag(pool: asyncpg.Pool, flag_id: UUID, *, actor: str | None = None) -> FeatureFlag:
    """Delete a flag (its key becomes free); returns the flag as it was."""
    async with pool.acquire() as conn, conn.transaction():
        await repository.explain_change(conn, actor=actor)
        row = await repository.delete_flag(conn, flag_id=flag_id)
    return flag_from_row(found(row, f"feature flag {flag_id}"))


def evaluate_flag(flags: engine.FlagSet, key: str, ctx: EvaluationContext, *, now: datetime) -> FlagEvaluation:
    """Evaluate the flag `key` from the configuration snapshot; 404 for an unknown key."""
    started = perf_counter_ns()
    evaluation = flags.evaluate(key, ctx, now)
    flag_timing.record("api", perf_counter_ns() - started)
    return found(evaluation, f"feature flag {key!r}")


CUSTOMER_ATTRIBUTES = ("customer_id", "customer_tier", "customer_segment", "customer_group")
"""The attributes a `user` caller's account decides, whatever its body says."""


def evaluation_context(body: EvaluationRequest, caller: Principal) -> EvaluationContext:
    """The context a flag is evaluated in for `caller`.

    A `user` is evaluated as itself: its id and segment come from its account. Naming another
    user is 403, another segment 422 (as on a quote); its `customer_*` attributes are its
    account's, never the body's. Admins and service keys speak for anyone; a signed-in admin who
    names nobody is evaluated as itself, and a `customer_group` left unsaid is the caller's own
    (as in its quotes). The targeting rules read `attributes`, with `customer_id` and
    `customer_segment` the user id and segment evaluated (docs/flags.md).
    """
    user_id, user_segment = body.user_id, body.user_segment
    attributes = dict(body.attributes or {})
    if caller.role == "user":
        if user_id is not None and user_id != str(caller.id):
            raise Forbidden("A user may evaluate flags only for itself: user_id must be your user id")
        problems = foreign_labels([("user_segment", "segment", user_segment, caller.segment)])
        if problems:
            raise ValidationFailed("; ".join(f"{p.field}: {p.message}" for p in problems), details=problems)
        user_id, user_segment = str(caller.id), caller.segment
        for name in CUSTOMER_ATTRIBUTES:
            attributes.pop(name, None)
        attributes["customer_tier"] = caller.tier
    elif caller.kind == "user":
        user_id = user_id if user_id is not None else str(caller.id)
        user_segment = user_segment if user_segment is not None else caller.segment
    attributes.update(customer_id=user_id, customer_segment=user_segment)
    if attributes.get("customer_group") is None:
        attributes["customer_group"] = caller.customer_group
    return EvaluationContext(
        user_id=user_id,
        user_segment=user_segment,
        city=body.region,
        country=body.region,
        attributes={name: value for name, value in attributes.items() if value is not None},
    )


async def mark_stale_flags(pool: asyncpg.Pool, *, now: datetime, days: float) -> int:
    """Send `flag.potentially_stale` for every flag that became so (once per flag and version,
    across processes); how many."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await repository.mark_stale(conn, now=now, days=days)
        for row in rows:
            await events.emit(
                conn,
                "flag.potentially_stale",
                {
                    "flag_id": str(row["flag_id"]),
                    "key": row["key"],
                    "lifecycle": "potentially_stale",
                    "unchanged_since": row["flag_updated_at"],
                    "stale_flag_days": days,
                },
            )
    return len(rows)
