"""seed-demo's agent key (docs/agents.md#the-demo-agent): an API key of role `agent` named `demo-agent`, for
trying the ACP and UCP checkout sessions out on the demo.

In development its key is public and fixed (`DEMO_AGENT_KEY`, as the demo accounts' passwords are), so every
seed-demo prints it and the docs can show it. In production (`seed-demo --force`) the key is random, printed
once by the run that makes it. A run finding the key there already makes none.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from quote_service.auth import credentials
from quote_service.auth.service import AuthService
from quote_service.config import Settings

DEMO_AGENT_NAME = "demo-agent"
DEMO_AGENT_KEY = "qsk_demo-agent-public-development-key"
"""The demo agent's key in development: public, as the demo passwords are (production draws one)."""


@dataclass(frozen=True)
class DemoAgent:
    key_id: UUID
    key: str | None
    """The key to send (None: made by an earlier run in production, and not shown again)."""
    created: bool
    """Made by this run."""
    product_id: UUID | None = None
    """A demo product to check out (the first by SKU)."""

    def describe(self) -> list[str]:
        """What seed-demo prints: the key and an ACP checkout with it."""
        made = "created" if self.created else "already present"
        if self.key is None:
            return [
                f"demo agent key {DEMO_AGENT_NAME} ({self.key_id}): {made}; its key was shown once when it was made "
                "(another: quote-service create-api-key --role agent --name NAME)"
            ]
        shown = "   (generated: store it now, it is not shown again)" if self.created and not _public(self.key) else ""
        item = self.product_id or "<product id>"
        return [
            f"demo agent key {DEMO_AGENT_NAME} ({self.key_id}), role agent, {made}: {self.key}{shown}",
            "  an agent checks out over ACP with it (docs/agents.md):",
            f"  curl -X POST $BASE/acp/checkout_sessions -H 'Authorization: Bearer {self.key}' \\",
            "    -H \"Idempotency-Key: $(uuidgen)\" -H 'Content-Type: application/json' \\",
            f'    -d \'{{"items": [{{"id": "{item}", "quantity": 1}}]}}\'',
        ]


def _public(key: str) -> bool:
    return key == DEMO_AGENT_KEY


async def seed_agent(settings: Settings, pool: asyncpg.Pool) -> DemoAgent:
    """The demo agent's key: made where missing (the public key in development, a random one in production)."""
    key = credentials.new_api_key()[0] if settings.is_production else DEMO_AGENT_KEY
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, key_hash FROM api_keys WHERE name = $1 AND role = 'agent' AND revoked_at IS NULL"
            " ORDER BY created_at LIMIT 1",
            DEMO_AGENT_NAME,
        )
        product_id = await conn.fetchval("SELECT id FROM products WHERE sku LIKE 'DEMO-%' ORDER BY sku LIMIT 1")
    if row is not None:  # (the public key is never shown as usable in production)
        known = row["key_hash"] == credentials.hash_api_key(DEMO_AGENT_KEY) and not settings.is_production
        return DemoAgent(key_id=row["id"], key=DEMO_AGENT_KEY if known else None, created=False, product_id=product_id)
    made = await AuthService(settings, pool).create_api_key(
        name=DEMO_AGENT_NAME,
        role="agent",
        created_by=None,
        sealed=(credentials.hash_api_key(key), key[:12]),
    )
    return DemoAgent(key_id=made.id, key=key, created=True, product_id=product_id)
