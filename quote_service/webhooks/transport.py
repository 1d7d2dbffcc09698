"""Sending one delivery attempt: a POST that never follows a redirect, bounded in time, and
connected only to addresses the URL rules allow (urls.py), checked at connect time.

The check sits in the connection itself (an httpcore network backend): the host is resolved
once, every address checked, and the TCP connection made to a checked address, so no second
lookup between the check and the connect can point it elsewhere. TLS still verifies the URL's
host name. The answer's body is not read beyond a short excerpt of a refusal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Literal, NamedTuple

import httpcore
import httpx

from quote_service.webhooks import urls

Result = Literal["delivered", "http_error", "timeout", "connection_error", "address_refused"]
EXCERPT_BYTES = 200


class AddressRefused(httpcore.ConnectError):
    """The URL's host is (or resolves to) an address deliveries may not reach."""


class Attempt(NamedTuple):
    """What one attempt came to."""

    result: Result
    status_code: int | None
    error: str | None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, connecting only to allowed addresses of the host it is given."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await urls.resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        for address in addresses:
            reason = urls.refusal(address, allow_private=self._allow_private)
            if reason is not None:
                raise AddressRefused(f"{host} resolves to {address}, {reason}")
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("webhooks are sent over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class Sender:
    """One process's HTTP client for deliveries (a connection pool shared by every subscription)."""

    def __init__(self, *, timeout: float, allow_private: bool, max_connections: int) -> None:
        self.timeout = timeout
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            keepalive_expiry=30.0,
            retries=0,
            network_backend=GuardedBackend(allow_private=allow_private),
        )

    async def post(self, url: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Attempt:
        """POST `body` to `url`; never raises for anything the receiver or the network does."""
        per_phase = {"connect": self.timeout, "read": self.timeout, "write": self.timeout, "pool": self.timeout}
        sending = self._pool.stream("POST", url, headers=headers, content=body, extensions={"timeout": per_phase})
        try:
            async with asyncio.timeout(self.timeout), sending as answer:
                status = answer.status
                if 200 <= status < 300:
                    return Attempt("delivered", status, None)
                excerpt = await _excerpt(answer)
                return Attempt("http_error", status, f"HTTP {status}" + (f": {excerpt}" if excerpt else ""))
        except AddressRefused as exc:
            return Attempt("address_refused", None, f"address refused: {exc}")
        except (TimeoutError, httpcore.TimeoutException):
            return Attempt("timeout", None, f"no answer within {self.timeout:g} s")
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, OSError) as exc:
            return Attempt("connection_error", None, f"{type(exc).__name__}: {exc}"[:500])

    async def close(self) -> None:
        await self._pool.aclose()


async def _excerpt(answer: httpcore.Response) -> str:
    """The first bytes of a refusal's body (for `last_error`), read no further."""
    taken = b""
    async for chunk in answer.aiter_stream():
        taken += chunk
        if len(taken) >= EXCERPT_BYTES:
            break
    return taken[:EXCERPT_BYTES].decode(errors="replace").strip()
