"""Pricing-rule writes: validation, immutable versions, retirement by name.

Writers of one name are serialised by a transaction-scoped advisory lock, so concurrent PUTs
get consecutive versions; the UNIQUE (name, version) constraint is the backstop (409).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg

from quote_service.db.pool import Connection, Pool
from quote_service.db.rows import found
from quote_service.errors import Conflict, DuplicateKey, FieldError, ValidationFailed
from quote_service.patch import patched, sent_fields
from quote_service.pricing.rules import FEE_TYPES, PRICE_TYPES, RuleConfig
from quote_service.rules import repository
from quote_service.rules.schemas import (
    PricingRuleCreate,
    PricingRulePatch,
    PricingRuleUpdate,
    PricingRuleVersion,
    configuration_json,
    parse_configuration,
    version_of,
)

# Which optional dimensions each kind of rule may set (anything else would be silently ignored).
_SCOPES: dict[str, frozenset[str]] = {
    **dict.fromkeys(FEE_TYPES, frozenset({"region"})),
    "TAX_RATE": frozenset({"region", "category_id"}),
    **dict.fromkeys(PRICE_TYPES, frozenset({"region", "product_id", "category_id", "exclusive"})),
    "INVENTORY_LEVEL": frozenset({"product_id", "category_id"}),
}


def _fields_of(data: PricingRuleCreate | PricingRuleUpdate, *, name: str) -> tuple[dict[str, Any], RuleConfig]:
    """The columns of a new version, or a 422 listing every bad field."""
    errors: list[FieldError] = []
    if name != name.strip():
        errors.append(FieldError("name", "must not start or end with spaces"))
    config, problems = parse_configuration(data.type, data.configuration)
    errors.extend(problems)
    if data.effective_to is not None and data.effective_to <= data.effective_from:
        errors.append(FieldError("effective_to", "must be after effective_from"))
    if data.region is not None and not data.region.strip():
        errors.append(FieldError("region", "must not be blank"))
    allowed = _SCOPES[data.type]
    given = {"region": data.region is not None, "product_id": data.product_id is not None}
    given |= {"category_id": data.category_id is not None, "exclusive": data.exclusive}
    errors.extend(
        FieldError(field, f"does not apply to {data.type} rules")
        for field, set_ in given.items()
        if set_ and field not in allowed
    )
    if data.type == "REGIONAL_FEE" and data.region is None:
        errors.append(FieldError("region", "is required for REGIONAL_FEE rules"))
    if errors:
        raise ValidationFailed(
            "Invalid pricing rule: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
        )
    assert config is not None
    fields = {field: getattr(data, field) for field in repository.AS_SENT}
    fields["name"] = name
    fields["configuration"] = configuration_json(config)
    return fields, config


def version_from_row(row: asyncpg.Record) -> PricingRuleVersion:
    """A stored version as the API shows it."""
    return version_of(repository.rule_from_row(row))


async def create_rule(pool: Pool, data: PricingRuleCreate, *, actor: str) -> PricingRuleVersion:
    """Version 1 of a new name; a retired name starts again at its next version number."""
    fields, _ = _fields_of(data, name=data.name)
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_name(conn, name=data.name)
        latest = await repository.latest_version(conn, name=data.name)
        if latest is not None and latest["retired_at"] is None:
            raise DuplicateKey(
                f"a pricing rule named {data.name!r} exists; PUT /pricing-rules/{latest['id']} makes a new version"
            )
        fields.update(version=latest["version"] + 1 if latest else 1, created_by=actor, updated_by=actor)
        row = await _insert(conn, fields, DuplicateKey(f"a pricing rule named {data.name!r} exists"))
    return version_from_row(row)


async def _insert(conn: Connection, fields: dict[str, Any], clash: Conflict) -> asyncpg.Record:
    try:
        return await repository.insert_version(conn, fields=fields)
    except asyncpg.UniqueViolationError as exc:
        raise clash from exc


async def new_version(pool: Pool, rule_id: UUID, data: PricingRuleUpdate, *, actor: str) -> PricingRuleVersion:
    """The next version of the rule that `rule_id` (any of its versions) belongs to (PUT)."""
    return await _next_version(pool, rule_id, lambda _latest: data, actor=actor)


async def patch_rule(pool: Pool, rule_id: UUID, data: PricingRulePatch, *, actor: str) -> PricingRuleVersion:
    """The next version: the latest one with the fields sent changed (PATCH), checked whole."""
    changes = sent_fields(data)

    def body(latest: asyncpg.Record) -> PricingRuleUpdate:
        return patched(version_from_row(latest), PricingRuleUpdate, changes)

    return await _next_version(pool, rule_id, body, actor=actor)


async def _next_version(
    pool: Pool, rule_id: UUID, body_of: Callable[[asyncpg.Record], PricingRuleUpdate], *, actor: str
) -> PricingRuleVersion:
    """Insert the version `body_of(latest version)` describes, under the name's lock."""
    async with pool.acquire() as conn:
        addressed = await repository.get_version(conn, rule_id=rule_id)
        addressed = found(addressed, f"pricing rule {rule_id}")
        name: str = addressed["name"]
        async with conn.transaction():
            await repository.lock_name(conn, name=name)
            latest = await repository.latest_version(conn, name=name)
            assert latest is not None  # versions are never deleted
            data = body_of(latest)
            if data.name is not None and data.name != name:
                raise ValidationFailed(
                    "name: cannot change; a new name is a new rule (POST)",
                    details=[FieldError("name", f"cannot change (the rule is {name!r}); a new name is a new rule")],
                )
            fields, _ = _fields_of(data, name=name)
            _check_next(latest, data)
            fields.update(version=latest["version"] + 1, created_by=actor, updated_by=actor)
            clash = Conflict(f"version {fields['version']} of {name!r} was just created", code="VERSION_CONFLICT")
            row = await _insert(conn, fields, clash)
    return version_from_row(row)


def _check_next(latest: asyncpg.Record, data: PricingRuleUpdate) -> None:
    """Refuse a new version of a retired name, of another type, or on a stale expected_version."""
    name, version = latest["name"], latest["version"]
    if latest["retired_at"] is not None:
        raise Conflict(f"pricing rule {name!r} is retired; POST it again to reinstate it", code="RULE_RETIRED")
    if data.expected_version is not None and data.expected_version != version:
        raise Conflict(
            f"pricing rule {name!r} is at version {version}, not {data.expected_version}", code="VERSION_CONFLICT"
        )
    if data.type != latest["type"]:
        raise ValidationFailed(
            f"type: a rule keeps its type ({latest['type']}); a new type is a new rule",
            details=[FieldError("type", f"cannot change from {latest['type']}; a new type is a new rule")],
        )


async def get_rule(pool: Pool, rule_id: UUID) -> PricingRuleVersion:
    async with pool.acquire() as conn:
        row = await repository.get_version(conn, rule_id=rule_id)
    return version_from_row(found(row, f"pricing rule {rule_id}"))


async def retire_rule(pool: Pool, rule_id: UUID, *, actor: str) -> tuple[PricingRuleVersion, bool]:
    """Retire the name `rule_id` belongs to; returns the addressed version and whether anything changed."""
    async with pool.acquire() as conn, conn.transaction():
        addressed = await repository.get_version(conn, rule_id=rule_id)
        addressed = found(addressed, f"pricing rule {rule_id}")
        await repository.lock_name(conn, name=addressed["name"])
        retired = await repository.retire_name(conn, name=addressed["name"], actor=actor)
        row = await repository.get_version(conn, rule_id=rule_id)
    assert row is not None
    return version_from_row(row), retired > 0
