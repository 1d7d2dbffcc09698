"""Webhooks' registration: subscriptions and the delivery loop (WEBHOOK_POLL_INTERVAL > 0)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quote_service.web.domain import Domain, Startup
from quote_service.webhooks.controller import WebhookController
from quote_service.webhooks.dispatcher import WebhookDispatcher


async def start(ctx: Startup) -> Mapping[str, Any]:
    if ctx.settings.webhook_poll_interval <= 0:
        return {"webhook_dispatcher": None}
    webhooks = WebhookDispatcher(ctx.pool, ctx.settings)
    ctx.run("webhook dispatcher", webhooks)
    return {"webhook_dispatcher": webhooks}


WEBHOOKS = Domain(name="webhooks", routes=[WebhookController], start=start)
