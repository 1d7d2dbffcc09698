"""Standard Webhooks signatures and secrets (docs/webhooks.md#verifying-a-delivery).

A secret is `whsec_` + base64 of 32 random bytes; the key is those bytes. A delivery carries
`webhook-id`, `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature`:
`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` for each secret that signs, separated by
spaces (two while a rotation's overlap runs). Pure: no clock, no randomness but `new_secret`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, no secret
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature_header(signing_secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one `v1,<signature>` per secret, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
        for secret in signing_secrets
    )


def headers(signing_secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> list[tuple[bytes, bytes]]:
    """Every header of a delivery attempt."""
    return [
        (b"content-type", b"application/json"),
        (b"user-agent", b"quote-service-webhooks"),
        (b"webhook-id", msg_id.encode()),
        (b"webhook-timestamp", str(timestamp).encode()),
        (b"webhook-signature", signature_header(signing_secrets, msg_id, timestamp, body).encode()),
    ]


def merchant_signature(secret: str, timestamp: int, body: bytes) -> str:
    """ACP's `Merchant-Signature` value for an agent's order event (docs/agents.md#order-events):
    `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, keyed with the secret's UTF-8 bytes as shown."""
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def merchant_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> list[tuple[bytes, bytes]]:
    """Every header of an agent's order event delivery: ACP's signature, and the delivery's id
    (the same on every retry, so a receiver can drop a repeat)."""
    return [
        (b"content-type", b"application/json"),
        (b"user-agent", b"quote-service-webhooks"),
        (b"webhook-id", msg_id.encode()),
        (b"merchant-signature", merchant_signature(secret, timestamp, body).encode()),
    ]
