"""Webhook subscriptions: checked writes, the secret shown once, rotation, deliveries sent again."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from quote_service.clock import utcnow
from quote_service.db.pool import Pool
from quote_service.db.rows import found, row_as
from quote_service.errors import Conflict, FieldError, NotFound, ValidationFailed
from quote_service.patch import patched, sent_fields
from quote_service.webhooks import repository, signing, urls
from quote_service.webhooks.events import ALL_EVENTS, EVENT_TYPES, TEST_EVENT
from quote_service.webhooks.schemas import (
    Delivery,
    Replayed,
    ReplayRequest,
    TestResult,
    Webhook,
    WebhookCreate,
    WebhookPatch,
    WebhookWithSecret,
)
from quote_service.webhooks.transport import Sender

_ENCODER = msgspec.json.Encoder()


def webhook_from_row(row: asyncpg.Record) -> Webhook:
    return row_as(Webhook, row)


def _with_secret(row: asyncpg.Record) -> WebhookWithSecret:
    return row_as(WebhookWithSecret, row)


def delivery_from_row(row: asyncpg.Record) -> Delivery:
    return row_as(Delivery, row)


async def check_fields(data: WebhookCreate, *, allow_private: bool) -> dict[str, Any]:
    """The writable fields, normalised; a 422 naming every bad one."""
    errors: list[FieldError] = []
    for index, name in enumerate(data.events):
        if name != ALL_EVENTS and name not in EVENT_TYPES:
            known = ", ".join(EVENT_TYPES)
            errors.append(FieldError(f"events[{index}]", f"unknown event type {name!r}; one of {known} or '*'"))
    url = data.url
    try:
        url = await urls.check(data.url, allow_private=allow_private)
    except ValidationFailed as refused:
        errors.extend(refused.details)
    if errors:
        message = "Invalid webhook: " + "; ".join(f"{e.field} {e.message}" for e in errors)
        raise ValidationFailed(message, details=errors)
    return {
        "url": url,
        "events": list(dict.fromkeys(data.events)),
        "description": data.description,
        "is_active": data.is_active,
    }


async def create_webhook(pool: Pool, data: WebhookCreate, *, actor: str, allow_private: bool) -> WebhookWithSecret:
    fields = await check_fields(data, allow_private=allow_private)
    async with pool.acquire() as conn:
        row = await repository.insert_webhook(conn, fields=fields, secret=signing.new_secret(), actor=actor)
    return _with_secret(row)


async def get_webhook(pool: Pool, webhook_id: UUID) -> Webhook:
    async with pool.acquire() as conn:
        row = await repository.get_webhook(conn, webhook_id=webhook_id)
    return webhook_from_row(found(row, f"webhook {webhook_id}"))


async def replace_webhook(
    pool: Pool, webhook_id: UUID, data: WebhookCreate, *, actor: str, allow_private: bool
) -> Webhook:
    """PUT: every writable field (the secret stays). Making it active waits for the transactions
    still writing events it missed while inactive (`wait_for_missed_events`)."""
    fields = await check_fields(data, allow_private=allow_private)
    async with pool.acquire() as conn, conn.transaction():
        if fields["is_active"]:
            await repository.wait_for_missed_events(conn, webhook_id=webhook_id)
        row = await repository.update_webhook(conn, webhook_id=webhook_id, fields=fields, actor=actor)
    return webhook_from_row(found(row, f"webhook {webhook_id}"))


async def patch_webhook(
    pool: Pool, webhook_id: UUID, data: WebhookPatch, *, actor: str, allow_private: bool
) -> Webhook:
    """PATCH: the fields sent over the current ones, checked as a PUT would be."""
    changes = sent_fields(data)
    current = await get_webhook(pool, webhook_id)
    return await replace_webhook(
        pool, webhook_id, patched(current, WebhookCreate, changes), actor=actor, allow_private=allow_private
    )


async def rotate_secret(pool: Pool, webhook_id: UUID, *, actor: str, overlap_seconds: float) -> WebhookWithSecret:
    async with pool.acquire() as conn:
        row = await repository.rotate_secret(
            conn, webhook_id=webhook_id, secret=signing.new_secret(), overlap_seconds=overlap_seconds, actor=actor
        )
    return _with_secret(found(row, f"webhook {webhook_id}"))


async def delete_webhook(pool: Pool, webhook_id: UUID) -> Webhook:
    async with pool.acquire() as conn:
        row = await repository.delete_webhook(conn, webhook_id=webhook_id)
    return webhook_from_row(found(row, f"webhook {webhook_id}"))


async def send_again(pool: Pool, webhook_id: UUID, delivery_id: UUID) -> Delivery:
    """A delivered or failed delivery sent again (same id, a fresh count of attempts); 409 while pending."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repository.send_again(conn, webhook_id=webhook_id, delivery_id=delivery_id)
        if row is None:
            found = await repository.get_delivery(conn, webhook_id=webhook_id, delivery_id=delivery_id)
            if found is None:
                raise NotFound(f"delivery {delivery_id} of webhook {webhook_id} not found")
            raise Conflict(
                f"delivery {delivery_id} is still pending: it is sent by itself", code="WEBHOOK_DELIVERY_PENDING"
            )
    return delivery_from_row(row)


async def replay(pool: Pool, webhook_id: UUID, data: ReplayRequest) -> Replayed:
    """Every committed event of the window that the subscription wants, sent again as new
    deliveries under their original webhook-ids (an inactive subscription's wait, pending, until it
    is active again); 422 naming a bad field."""
    until = data.until or utcnow()
    errors: list[FieldError] = []
    if data.since >= until:  # both with their offsets (Instant)
        errors.append(FieldError("since", "must be before until (default: now)"))
    async with pool.acquire() as conn, conn.transaction():
        hook = await repository.get_webhook(conn, webhook_id=webhook_id)
        if hook is None:
            raise NotFound(f"webhook {webhook_id} not found")
        wanted = list(hook["events"])
        every = ALL_EVENTS in wanted
        types: list[str] = list(data.types if data.types is not None else (EVENT_TYPES if every else wanted))
        for index, name in enumerate(types):
            if name not in EVENT_TYPES:
                errors.append(FieldError(f"types[{index}]", f"unknown event type {name!r}"))
            elif not every and name not in wanted:
                errors.append(FieldError(f"types[{index}]", f"the subscription does not receive {name!r}"))
        if errors:
            raise ValidationFailed(
                "Invalid replay: " + "; ".join(f"{e.field} {e.message}" for e in errors), details=errors
            )
        types = list(dict.fromkeys(types))
        made, pending = await repository.replay(conn, webhook_id=webhook_id, since=data.since, until=until, types=types)
    return Replayed(
        webhook_id=webhook_id,
        since=data.since,
        until=until,
        types=types,
        is_active=hook["is_active"],
        replayed=made,
        already_pending=pending,
    )


async def send_test(pool: Pool, webhook_id: UUID, sender: Sender) -> TestResult:
    """POST `{type: "webhook.test"}` to the subscription's URL now, signed as every delivery, and
    say what the receiver answered (nothing is stored; an inactive subscription is pinged too)."""
    async with pool.acquire() as conn:
        row = await repository.signing(conn, webhook_id=webhook_id)
    row = found(row, f"webhook {webhook_id}")
    message_id = f"msg_test_{uuid.uuid4().hex}"
    now = utcnow()
    body = _ENCODER.encode({"type": TEST_EVENT, "timestamp": _instant(now), "data": {"webhook_id": str(webhook_id)}})
    secrets = [s for s in (row["secret"], row["previous_secret"]) if s]
    started = time.monotonic()
    attempt = await sender.post(row["url"], signing.headers(secrets, message_id, int(now.timestamp()), body), body)
    return TestResult(
        webhook_id=webhook_id,
        message_id=message_id,
        delivered=attempt.result == "delivered",
        status_code=attempt.status_code,
        error=attempt.error,
        duration_ms=round((time.monotonic() - started) * 1000, 1),
    )


def _instant(at: datetime) -> str:
    """As the events' `timestamp` (RFC 3339 in UTC with a Z, microseconds)."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
