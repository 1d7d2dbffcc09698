"""Authentication's registration: sign-in, users and keys, and the token revocation list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar.datastructures import State

from quote_service.accounts.controller import AuthController
from quote_service.auth.revocations import Revocations
from quote_service.auth.service import AuthService
from quote_service.auth.throttle import LoginThrottle
from quote_service.web.domain import Domain, Startup


async def start(ctx: Startup) -> Mapping[str, Any]:
    settings = ctx.settings
    revocations = Revocations(ctx.pool, ctx.redis, token_lifetime=settings.access_token_expire_minutes * 60)
    await revocations.open()  # before serving: a token logged out before a restart stays refused
    ctx.on_stop("token revocations", revocations.stop)
    throttle = LoginThrottle(
        ctx.redis,
        per_username=settings.login_attempts_per_username,
        per_address=settings.login_attempts_per_address,
        window_seconds=settings.login_window_seconds,
    )
    return {"auth": AuthService(settings, ctx.pool, revocations=revocations, throttle=throttle)}


async def reset(state: State) -> None:
    await state.auth.reset()


AUTH = Domain(name="auth", routes=[AuthController], provides={"auth": AuthService}, start=start, reset=reset)
