"""Behind a reverse proxy: the scheme and client address the proxy saw, from trusted proxies only.

A TLS-terminating proxy talks plain HTTP to the service, so without help every request looks
like `http` from the proxy's address: the pages' session cookie would lose its `Secure`
attribute and the login throttle would count every client as one. `ProxyHeaders` wraps the
whole ASGI handler (outermost) and, only when the TCP peer is in TRUSTED_PROXIES, takes the
scheme and client address from `Forwarded` (RFC 7239) or, without it, `X-Forwarded-For` /
`X-Forwarded-Proto`. Anyone else's headers are ignored: a client cannot claim `https` or
another address by sending them.

The hops are read from the right (the entry our peer added) to the left while each hop's
address is itself a trusted proxy; the first untrusted one is the client, and the scheme is
the one that client used at the first trusted proxy (`proto` of that `Forwarded` element; for
`X-Forwarded-Proto`, the entry at the same position when the two lists align, else its last
entry, the one our peer set). A hop that names no IP address (`unknown`, an obfuscated
`_node`) ends the walk without changing the client address.

With HSTS_MAX_AGE > 0, every answer to an `https` request (as resolved above) carries
`Strict-Transport-Security: max-age=<seconds>` (never over plain http: browsers ignore it
there, RFC 6797).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import NamedTuple

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SCHEMES = frozenset({"http", "https"})
_MAX_KNOWN_PEERS = 1024


class Hop(NamedTuple):
    """One proxy hop: the address that connected to that proxy and the scheme it used."""

    address: str | None
    proto: str | None


def _address(value: str) -> str | None:
    """The IP address in a hop's node (`192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:443`), or None."""
    node = value.strip().strip('"')
    if node.startswith("["):
        node = node[1:].partition("]")[0]
    elif node.count(":") == 1:
        node = node.partition(":")[0]
    try:
        return str(ipaddress.ip_address(node))
    except ValueError:
        return None


def _proto(value: str | None) -> str | None:
    scheme = (value or "").strip().strip('"').lower()
    return scheme if scheme in _SCHEMES else None


def forwarded_hops(value: str) -> list[Hop]:
    """The hops of a `Forwarded` header (RFC 7239), client side first."""
    hops = []
    for element in value.split(","):
        pairs = {}
        for pair in element.split(";"):
            name, _, raw = pair.partition("=")
            pairs[name.strip().lower()] = raw.strip()
        node = pairs.get("for")
        hops.append(Hop(_address(node) if node is not None else None, _proto(pairs.get("proto"))))
    return hops


def x_forwarded_hops(for_value: str | None, proto_value: str | None) -> tuple[list[Hop], str | None]:
    """The hops of `X-Forwarded-For` / `-Proto`, client side first, and the scheme our peer set."""
    addresses = [_address(part) for part in (for_value or "").split(",")] if for_value else []
    protos = [_proto(part) for part in proto_value.split(",")] if proto_value else []
    aligned = len(protos) == len(addresses)
    hops = [Hop(address, protos[i] if aligned else None) for i, address in enumerate(addresses)]
    return hops, protos[-1] if protos else None


class ProxyHeaders:
    """The ASGI wrapper described in the module docstring."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[Network], hsts_max_age: int) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        self.hsts = (b"strict-transport-security", f"max-age={hsts_max_age}".encode()) if hsts_max_age > 0 else None
        self._peers: dict[str, bool] = {}

    def is_trusted(self, address: str | None) -> bool:
        """Whether `address` (an IP address as text) is one of the trusted proxies."""
        if not address or not self.trusted:
            return False
        known = self._peers.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                known = False
            else:
                known = any(ip in network for network in self.trusted)
            if len(self._peers) >= _MAX_KNOWN_PEERS:
                self._peers.clear()
            self._peers[address] = known
        return known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if client and self.is_trusted(client[0]):
            self._resolve(scope)
        if self.hsts is None or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return
        header = self.hsts

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        await self.app(scope, receive, send_with_hsts)

    def _resolve(self, scope: Scope) -> None:
        """Rewrite the scope's scheme and client from the forwarding headers (the peer is trusted)."""
        forwarded = x_for = x_proto = None
        for name, value in scope["headers"]:
            if name == b"forwarded":
                forwarded = value.decode("latin-1") if forwarded is None else f"{forwarded},{value.decode('latin-1')}"
            elif name == b"x-forwarded-for":
                x_for = value.decode("latin-1") if x_for is None else f"{x_for},{value.decode('latin-1')}"
            elif name == b"x-forwarded-proto":
                x_proto = value.decode("latin-1") if x_proto is None else f"{x_proto},{value.decode('latin-1')}"
        if forwarded is not None:
            hops, fallback = forwarded_hops(forwarded), None
        else:
            hops, fallback = x_forwarded_hops(x_for, x_proto)
        client: Hop | None = None
        for hop in reversed(hops):
            client = hop
            if not self.is_trusted(hop.address):
                break
        proto = (client.proto if client is not None else None) or fallback
        if proto is not None:
            scope["scheme"] = proto
        if client is not None and client.address is not None:
            scope["client"] = (client.address, 0)
