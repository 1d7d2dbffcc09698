"""Webhook payloads: subscriptions (the secret shown only when made) and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from quote_service.structs import Frozen, Strict
from quote_service.validation import Instant

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048, description="http(s) URL the events are POSTed to.")]
EventName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Events = Annotated[
    list[EventName],
    msgspec.Meta(min_length=1, max_length=20, description='Event types to receive; "*" for every type.'),
]
Description = Annotated[str, msgspec.Meta(max_length=500)]
DeliveryStatus = Literal["pending", "delivered", "failed"]


class WebhookCreate(Strict):
    """POST and PUT: the whole subscription."""

    url: Url
    events: Events
    description: Description | None = None
    is_active: bool = True


class WebhookPatch(Strict):
    """PATCH: the fields sent replace the subscription's."""

    url: Url | UnsetType = UNSET
    events: Events | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET


class Webhook(Frozen):
    """A subscription as every answer but its creation's and a rotation's shows it: no secret."""

    id: UUID
    url: str
    events: list[str]
    description: str | None
    is_active: bool
    failing_since: datetime | None
    """Since when every attempt to it has failed (null: the last one was answered 2xx, or none failed)."""
    disabled_at: datetime | None
    disabled_reason: str | None
    """Set when the sender disabled it (WEBHOOK_DISABLE_AFTER_HOURS of failures); cleared by making it active."""
    previous_secret_expires_at: datetime | None
    """While a rotation's overlap runs: when the previous secret stops signing."""
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(Webhook):
    """The answer to POST and to rotate-secret: the signing secret, shown this once."""

    secret: str


class Delivery(Frozen):
    """One event for one subscription; `id` is its `webhook-id` header, the same on every attempt."""

    id: UUID
    webhook_id: UUID
    type: str
    status: DeliveryStatus
    attempts: int
    """Attempts since it was made, or since it was last sent again by hand (a fresh count)."""
    total_attempts: int
    """Every attempt it has had."""
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class ReplayRequest(Strict):
    """POST /{id}/replay: the events written in `[since, until)` (until: now) of `types` (default:
    every type the subscription wants)."""

    since: Instant
    until: Instant | None = None
    types: Annotated[list[EventName], msgspec.Meta(min_length=1, max_length=20)] | None = None


class Replayed(Frozen):
    webhook_id: UUID
    since: datetime
    until: datetime
    types: list[str]
    is_active: bool
    """False: the deliveries wait, pending, until the subscription is active again."""
    replayed: int
    """New deliveries made, pending now, each under the event's original webhook-id."""
    already_pending: int
    """Events of the window whose delivery is pending still: left to it."""


class TestResult(Frozen):
    """What the receiver answered the `webhook.test` ping."""

    webhook_id: UUID
    message_id: str
    """The ping's webhook-id header."""
    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: float
