"""Extensions' registration: the admin routes and the process's caller (one kept-alive HTTP client),
which the quote service asks for the extensions a quote matches (the snapshot holds the active ones)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.datastructures import State

from quote_service.extensions.caller import ExtensionCaller
from quote_service.extensions.controller import ExtensionController
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    caller = ExtensionCaller(allow_private=ctx.settings.webhook_allow_private)
    ctx.on_stop("extension client", caller.aclose)
    return {"extension_caller": caller}


async def reset(state: State) -> None:
    state.extension_caller.reset()


EXTENSIONS = Domain(
    name="extensions",
    routes=[ExtensionController],
    provides={"extension_caller": ExtensionCaller},
    start=start,
    reset=reset,
)
"""HTTP: /api/v1/extensions (admin)."""
