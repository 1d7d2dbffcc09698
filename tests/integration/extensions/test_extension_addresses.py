"""An extension's calls connect only to addresses the webhook URL rules allow, checked when the connection
is made (docs/extensions.md): a host that resolves to a private address after the extension was saved (a
re-pointed name) is refused as a connection error, never reached."""

from __future__ import annotations

import uuid

import pytest

from quote_service.extensions.caller import ExtensionCaller, _Failed
from quote_service.pricing.extensions import Extension
from quote_service.webhooks.signing import new_secret
from tests.integration.extensions.helpers import tax_engine

BODY = b'{"lines": []}'


def at(url: str, secret: str) -> Extension:
    return Extension(id=uuid.uuid4(), kind="tax", url=url, timeout_ms=500, countries=None, seller_ids=None,
                     on_failure="fallback", secret=secret)  # fmt: skip


async def reached(caller: ExtensionCaller, extension: Extension) -> bool:
    """Whether the POST reached the server (an answer, whatever its status), not refused before it."""
    try:
        await caller._post(extension, BODY, 2.0)
    except _Failed as failed:
        return failed.reason != "connection_error"
    return True


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_loopback_extension_is_called_only_where_private_addresses_are_allowed(host: str) -> None:
    secret = new_secret()
    with tax_engine(secret) as url:
        extension = at(url.replace("127.0.0.1", host), secret)
        allowed, guarded = ExtensionCaller(allow_private=True), ExtensionCaller(allow_private=False)
        try:
            assert await reached(allowed, extension)
            assert not await reached(guarded, extension)
        finally:
            await allowed.aclose()
            await guarded.aclose()
