"""Which URLs a subscription may point at (docs/webhooks.md#which-urls-are-accepted).

http or https only, with a host and no credentials. The host must not be (nor resolve to) a
link-local or cloud metadata address, ever, nor — unless WEBHOOK_ALLOW_PRIVATE=true — a loopback,
private or otherwise non-public one. An IPv6 address that carries an IPv4 address (mapped,
compatible, NAT64, 6to4, Teredo) is judged by that IPv4 address: it is where the packets go.
When the subscription is saved every address the name resolves to is checked, and at every
delivery the addresses are checked again and the connection goes to a checked one
(transport.py), so a name re-pointed at an internal address later (DNS rebinding) is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from quote_service.errors import invalid

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT = 2.0
"""Seconds a save waits for DNS; a name that does not resolve in time is checked at delivery."""
_UNLESS = " (set WEBHOOK_ALLOW_PRIVATE=true to allow it)"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS Pod Identity
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public address)
        "192.0.0.192",  # Oracle Cloud Classic
    )
)
"""Cloud metadata and credential services: never a webhook's target, whatever the settings."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
_LOW_32 = 0xFFFF_FFFF


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, the one its packets reach: `::ffff:a.b.c.d`
    (mapped), `::ffff:0:a.b.c.d` (translated), `::a.b.c.d` (compatible), `64:ff9b::a.b.c.d`
    (NAT64), `2002:AABB:CCDD::` (6to4), a Teredo address's client; None for any other."""
    value = int(address)
    low = ipaddress.IPv4Address(value & _LOW_32)
    if value >> 32 in (0xFFFF, 0xFFFF_0000) or address in _NAT64:
        return low
    if value >> 32 == 0 and value > 1:  # `::` and `::1` are IPv6's own unspecified and loopback
        return low
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: Address, *, allow_private: bool = False) -> str | None:
    """Why a delivery may not go to `address` (None: it may). Link-local and cloud metadata
    addresses are refused always; loopback, private and other non-public ones unless
    `allow_private` (WEBHOOK_ALLOW_PRIVATE)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:  # its IPv4 address may sit anywhere in it (RFC 6052): unknowable
            return "a local-use NAT64 address"
        address = embedded_ipv4(address) or address
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_multicast:
        return "a non-public address"
    return None


def parse(url: str, *, field: str = "url") -> httpx.URL:
    """The URL, or a 422 on `field` naming what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise invalid(field, f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise invalid(field, "must not contain spaces or control characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise invalid(field, f"is not a valid URL ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        raise invalid(field, "must be an http or https URL")
    if not parsed.host:
        raise invalid(field, "must name a host")
    if parsed.userinfo:
        raise invalid(field, "must not carry credentials (user:password@)")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise invalid(field, f"is not a valid URL (port {parsed.port})")
    return parsed


def literal(host: str) -> Address | None:
    """The host as an IP address, when it is one."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_localhost(host: str) -> bool:
    """`localhost` and its subdomains always mean this machine (RFC 6761)."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


async def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (for TCP)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address not in found:
            found.append(address)
    return found


async def check(url: str, *, allow_private: bool, field: str = "url") -> str:
    """A subscription's URL as stored, or a 422 on `field`; its host's addresses are checked now
    (a name that does not resolve yet is accepted: every delivery checks again)."""
    parsed = parse(url, field=field)
    host = parsed.host
    address = literal(host)
    if address is not None:
        addresses = [address]
    elif is_localhost(host):
        if not allow_private:
            raise invalid(field, f"{host} is a loopback address{_UNLESS}")
        return str(parsed)
    else:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT):
                addresses = await resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
        except (OSError, TimeoutError, UnicodeError):
            addresses = []
    for address in addresses:
        reason = refusal(address, allow_private=allow_private)
        if reason is not None:
            # The setting's name only where setting it would help.
            unless = _UNLESS if refusal(address, allow_private=True) is None else ""
            raise invalid(field, f"{refused_host(host, reason)}{unless}")
    return str(parsed)


def refused_host(host: str, reason: str) -> str:
    """Why `host` is refused, naming the kind of address it is or resolves to, never the address
    a name resolved to (what a name points at inside a network is not the caller's to learn)."""
    if literal(host) is not None:
        return f"{host} is {reason}"
    return f"{host} resolves to {reason}"
