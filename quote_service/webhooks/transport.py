"""Sending one delivery attempt: a POST that never follows a redirect, bounded in time, and
connected only to addresses the URL rules allow (urls.py), checked at connect time.

The check sits in the connection itself (an httpcore network backend): the host is resolved
once, every address checked, and the TCP connection made to a checked address, so no second
lookup between the check and the connect can point it elsewhere. TLS still verifies the URL's
host name.

What an attempt records (`last_error`, the test ping's `error`) is a status code and a reason of
our own words: never the receiver's body, nor an address the host resolved to, nor an exception's
text (an OS error names the address it failed to reach). The answer's body is never read.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import Iterable
from http import HTTPStatus
from typing import Literal, NamedTuple

import httpcore
import httpx

from quote_service.webhooks import urls

Result = Literal["delivered", "http_error", "timeout", "connection_error", "address_refused"]


class AddressRefused(httpcore.ConnectError):
    """The URL's host is (or resolves to) an address deliveries may not reach."""


class Unresolved(httpcore.ConnectError):
    """The URL's host resolves to no address."""


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
            raise Unresolved(f"cannot resolve {host}") from exc
        for address in addresses:
            reason = urls.refusal(address, allow_private=self._allow_private)
            if reason is not None:
                raise AddressRefused(urls.refused_host(host, reason))
        failure: Exception = Unresolved(f"{host} resolves to no address")
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
                return Attempt("http_error", status, status_reason(status))
        except AddressRefused as exc:
            return Attempt("address_refused", None, f"address refused: {exc}")
        except Unresolved as exc:
            return Attempt("connection_error", None, str(exc))  # our words, naming the URL's own host
        except (TimeoutError, httpcore.TimeoutException):
            return Attempt("timeout", None, f"no answer within {self.timeout:g} s")
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, OSError) as exc:
            return Attempt("connection_error", None, network_reason(exc))

    async def close(self) -> None:
        await self._pool.aclose()


def status_reason(status: int) -> str:
    """`HTTP 503 Service Unavailable`: the code and its standard phrase (not the receiver's own)."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EPIPE: "connection closed",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
}


def network_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words of ours (an exception's own text may name the
    address it tried, which is not the subscription's to see)."""
    causes: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(causes) < 10:
        causes.append(seen)
        seen = seen.__cause__ or seen.__context__
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed ({cause.reason})" if cause.reason else "TLS failed"
        if isinstance(cause, OSError) and cause.errno in _ERRNO_REASONS:
            return _ERRNO_REASONS[cause.errno]
    if isinstance(exc, httpcore.ConnectError):
        return "could not connect"
    if isinstance(exc, httpcore.ReadError):
        return "connection lost while reading the answer"
    if isinstance(exc, httpcore.WriteError):
        return "connection lost while sending"
    if isinstance(exc, httpcore.UnsupportedProtocol):
        return "unsupported URL scheme"
    if isinstance(exc, httpcore.ProtocolError):
        return "the answer is not valid HTTP"
    return "network error"
