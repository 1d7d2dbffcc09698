"""Draft configuration changes, made into a snapshot without applying them (docs/governance.md#what-if-simulations).

Each change runs the very service call its admin route runs (the route's msgspec schema, the
service's checks, the repository's SQL), on one connection inside a transaction that is always
rolled back: the snapshot is then read on that connection by the loader's own code
(`snapshot.loader.read_snapshot`), so a draft becomes engine objects exactly as a stored row
would. Nothing commits: no row, audit entry, version bump or notification outlives the read.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast
from uuid import UUID

import msgspec

from quote_service.audit.changes import ChangeRequest
from quote_service.commissions import service as rates
from quote_service.commissions.schemas import CommissionRateInput, CommissionRatePatch
from quote_service.coupons import service as coupons
from quote_service.coupons.schemas import CouponCreate, CouponUpdate
from quote_service.db.pool import Connection, Pool
from quote_service.errors import FieldError, NotFound, ServiceError, ValidationFailed
from quote_service.pricing.snapshot import ConfigSnapshot
from quote_service.promotions import service as promotions
from quote_service.promotions.schemas import PromotionInput
from quote_service.rules import service as rules
from quote_service.rules.schemas import PricingRuleCreate, PricingRulePatch, PricingRuleUpdate
from quote_service.snapshot.loader import read_snapshot
from quote_service.structs import Strict
from quote_service.validation import decode_hook

ACTOR = "simulation"
"""Written in `created_by`/`updated_by` of the draft rows (never committed)."""

_BY = {"actor": ACTOR}
Call = Callable[[Pool, Any, Any], Awaitable[object]]
"""(pool, id, decoded body) → the service call of one route."""


def _by_id(value: str) -> UUID:
    return UUID(value)


# (entity_type, action) → (the route's body schema or None, how the id is read, the route's service call)
_OPERATIONS: dict[tuple[str, str], tuple[type[msgspec.Struct] | None, Callable[[str], Any] | None, Call]] = {
    ("commission_rates", "create"): (CommissionRateInput, None, lambda p, _, b: rates.create_rate(p, b, **_BY)),
    ("commission_rates", "update"): (CommissionRatePatch, _by_id, lambda p, i, b: rates.put_rate(p, i, b, **_BY)),
    ("commission_rates", "patch"): (CommissionRatePatch, _by_id, lambda p, i, b: rates.patch_rate(p, i, b, **_BY)),
    ("commission_rates", "delete"): (None, _by_id, lambda p, i, _: rates.deactivate_rate(p, i, **_BY)),
    ("pricing_rules", "create"): (PricingRuleCreate, None, lambda p, _, b: rules.create_rule(p, b, **_BY)),
    ("pricing_rules", "update"): (PricingRuleUpdate, _by_id, lambda p, i, b: rules.new_version(p, i, b, **_BY)),
    ("pricing_rules", "patch"): (PricingRulePatch, _by_id, lambda p, i, b: rules.patch_rule(p, i, b, **_BY)),
    ("pricing_rules", "delete"): (None, _by_id, lambda p, i, _: rules.retire_rule(p, i, **_BY)),
    ("promotions", "create"): (PromotionInput, None, lambda p, _, b: promotions.create_promotion(p, b, **_BY)),
    ("promotions", "update"): (PromotionInput, _by_id, lambda p, i, b: promotions.replace_promotion(p, i, b, **_BY)),
    ("promotions", "delete"): (None, _by_id, lambda p, i, _: promotions.deactivate_promotion(p, i, **_BY)),
    ("coupons", "create"): (CouponCreate, None, lambda p, _, b: coupons.create_coupon(p, b, **_BY)),
    ("coupons", "update"): (CouponUpdate, str, lambda p, i, b: coupons.update_coupon(p, i, b, **_BY)),
    ("coupons", "delete"): (None, str, lambda p, i, _: coupons.deactivate_coupon(p, i, **_BY)),
}  # fmt: skip
ENTITY_TYPES = tuple(sorted({entity for entity, _ in _OPERATIONS}))
ACTIONS = ("create", "update", "patch", "delete")
_FROM_CHANGE_REQUEST = {"commission_rate": "commission_rates", "pricing_rule": "pricing_rules",
                        "promotion": "promotions", "coupon": "coupons"}  # fmt: skip
_METHOD_ACTIONS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"Object (?:contains unknown|missing required) field `(?P<name>[^`]+)`")


class Change(Strict):
    """One draft write: what the admin route `action` of `entity_type` would be sent."""

    entity_type: str
    action: str
    id: str | None = None
    body: Any = None


def change_of(request: ChangeRequest) -> Change:
    """A stored change request (audit/changes.py) as the draft change it would apply."""
    entity = _FROM_CHANGE_REQUEST.get(request.entity_type)
    if entity is None:
        raise ValidationFailed(
            "this change request's entity cannot be simulated",
            details=[FieldError("change_request_id", f"{request.entity_type} changes cannot be simulated")],
        )
    return Change(
        entity_type=entity,
        action=_METHOD_ACTIONS.get(request.method, request.action),
        id=request.entity_id,
        body=request.body,
    )


class _OneConnection:
    """A pool that hands out one connection (already in the rolled-back transaction): a service's
    own `conn.transaction()` becomes a savepoint inside it."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @asynccontextmanager
    async def _acquire(self) -> AsyncIterator[Connection]:
        yield self._conn

    def acquire(self, *, timeout: float | None = None) -> Any:
        return self._acquire()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _decoded(index: int, change: Change) -> tuple[Call, Any, Any]:
    """The change's service call, id and body decoded as its route decodes them; 422 naming the field."""
    at = f"changes[{index}]"
    if change.entity_type not in ENTITY_TYPES:
        raise ValidationFailed(
            "unknown entity type",
            details=[FieldError(f"{at}.entity_type", f"expected one of {', '.join(ENTITY_TYPES)}")],
        )
    operation = _OPERATIONS.get((change.entity_type, change.action))
    if operation is None:
        actions = [action for entity, action in _OPERATIONS if entity == change.entity_type]
        raise ValidationFailed(
            "unknown action", details=[FieldError(f"{at}.action", f"expected one of {', '.join(actions)}")]
        )
    schema, read_id, call = operation
    key: Any = None
    if read_id is not None:
        if not change.id:
            raise ValidationFailed("an id is required", details=[FieldError(f"{at}.id", "required for this action")])
        try:
            key = read_id(change.id)
        except ValueError:
            raise ValidationFailed("bad id", details=[FieldError(f"{at}.id", "not a valid id")]) from None
    body: Any = None
    if schema is not None:
        try:
            body = msgspec.json.decode(msgspec.json.encode(change.body), type=schema, dec_hook=decode_hook)
        except msgspec.ValidationError as exc:
            match = _AT.match(str(exc))
            assert match is not None  # the pattern matches any text
            field, message = f"{at}.body{match['path'] or ''}", match["message"]
            if named := _NAMED.search(message):
                field = f"{field}.{named['name']}"
            raise ValidationFailed("invalid change body", details=[FieldError(field, message)]) from None
    return call, key, body


def check(changes: list[Change]) -> list[tuple[Call, Any, Any]]:
    """Every change decoded (before any is written)."""
    return [_decoded(index, change) for index, change in enumerate(changes)]


async def snapshots(pool: Pool, changes: list[Change]) -> tuple[ConfigSnapshot, ConfigSnapshot]:
    """(today's configuration, today's with the changes), read in one transaction that is rolled back.

    A change the route would refuse (its service's checks, an unknown id) → 422 naming
    `changes[i].body.<field>` or `changes[i].id`."""
    calls = check(changes)

    def at(index: int) -> str:
        return f"changes[{index}]"

    async with pool.acquire() as conn:
        transaction = conn.transaction(isolation="repeatable_read")
        await transaction.start()
        try:
            before = await read_snapshot(conn)
            if not calls:
                return before, before
            bound = cast(Pool, _OneConnection(conn))
            for index, (call, key, body) in enumerate(calls):
                try:
                    await call(bound, key, body)
                except ValidationFailed as exc:
                    exc.details = [FieldError(f"changes[{index}].body.{d.field}", d.message) for d in exc.details] or [
                        FieldError(f"changes[{index}].body", exc.message)
                    ]
                    raise
                except NotFound as exc:
                    raise ValidationFailed(
                        exc.message, details=[FieldError(f"changes[{index}].id", exc.message)]
                    ) from None
                except ServiceError as exc:
                    raise ValidationFailed(
                        exc.message, details=[FieldError(f"changes[{index}]", exc.message)]
                    ) from None
            return before, await read_snapshot(conn)
        finally:
            await transaction.rollback()
