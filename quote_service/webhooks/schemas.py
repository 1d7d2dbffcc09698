"""Webhook payloads: subscriptions (the secret shown only when made) and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048, description="http(s) URL the events are POSTed to.")]
EventName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Events = Annotated[
    list[EventName],
    msgspec.Meta(min_length=1, max_length=20, description='Event types to receive; "*" for every type.'),
]
Description = Annotated[str, msgspec.Meta(max_length=500)]
DeliveryStatus = Literal["pending", "delivered", "failed"]


class WebhookCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """POST and PUT: the whole subscription."""

    url: Url
    events: Events
    description: Description | None = None
    is_active: bool = True


class WebhookPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """PATCH: the fields sent replace the subscription's."""

    url: Url | UnsetType = UNSET
    events: Events | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    """A subscription as every answer but its creation's and a rotation's shows it: no secret."""

    id: UUID
    url: str
    events: list[str]
    description: str | None
    is_active: bool
    previous_secret_expires_at: datetime | None
    """While a rotation's overlap runs: when the previous secret stops signing."""
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(Webhook, frozen=True, kw_only=True):
    """The answer to POST and to rotate-secret: the signing secret, shown this once."""

    secret: str


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One event for one subscription; `id` is its `webhook-id` header, the same on every attempt."""

    id: UUID
    webhook_id: UUID
    type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
