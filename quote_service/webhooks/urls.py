"""Which URLs a subscription may point at (docs/webhooks.md#which-urls-are-accepted).

http or https only, with a host and no credentials. Unless WEBHOOK_ALLOW_PRIVATE=true, the host
must not be (nor resolve to) a loopback, link-local, private or otherwise non-public address:
when the subscription is saved every address the name resolves to is checked, and at every
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

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def refusal(address: Address) -> str | None:
    """Why a delivery may not go to `address` (None: a public address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_multicast:
        return "not a public address"
    return None


def parse(url: str) -> httpx.URL:
    """The URL, or a 422 on `url` naming what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise invalid("url", f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise invalid("url", "must not contain spaces or control characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise invalid("url", f"is not a valid URL ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        raise invalid("url", "must be an http or https URL")
    if not parsed.host:
        raise invalid("url", "must name a host")
    if parsed.userinfo:
        raise invalid("url", "must not carry credentials (user:password@)")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise invalid("url", f"is not a valid URL (port {parsed.port})")
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


async def check(url: str, *, allow_private: bool) -> str:
    """A subscription's URL as stored, or a 422 on `url`; its host's addresses are checked now
    (a name that does not resolve yet is accepted: every delivery checks again)."""
    parsed = parse(url)
    if allow_private:
        return str(parsed)
    host = parsed.host
    address = literal(host)
    if address is not None:
        addresses = [address]
    elif is_localhost(host):
        raise invalid("url", f"{host} is a loopback address (set WEBHOOK_ALLOW_PRIVATE=true to allow it)")
    else:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT):
                addresses = await resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
        except (OSError, TimeoutError, UnicodeError):
            addresses = []
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            where = f"{host} is" if literal(host) is not None else f"{host} resolves to {address},"
            raise invalid("url", f"{where} {reason} (set WEBHOOK_ALLOW_PRIVATE=true to allow it)")
    return str(parsed)
