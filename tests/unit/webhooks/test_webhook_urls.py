"""Which addresses a webhook may reach, with and without WEBHOOK_ALLOW_PRIVATE
(docs/webhooks.md#which-urls-are-accepted): link-local and cloud metadata addresses never; an IPv6
address that carries an IPv4 address is judged by that IPv4 address. Pure: literal addresses, no
DNS, no app."""

from __future__ import annotations

import ipaddress

import pytest

from quote_service.errors import ValidationFailed
from quote_service.webhooks import urls
from quote_service.webhooks.schemas import WebhookCreate
from quote_service.webhooks.service import check_fields

LOOPBACK = "a loopback address"
LINK_LOCAL = "a link-local address"
METADATA = "a cloud metadata address"
PRIVATE = "a private address"

# (address, why refused by default, why refused with WEBHOOK_ALLOW_PRIVATE=true); None: reached.
CASES = [
    ("127.0.0.1", LOOPBACK, None),
    ("::1", LOOPBACK, None),
    ("10.1.2.3", PRIVATE, None),
    ("192.168.0.10", PRIVATE, None),
    ("fd12::1", PRIVATE, None),
    ("100.64.0.1", "a non-public address", None),
    ("93.184.215.14", None, None),
    ("2606:4700::1111", None, None),
    # Link-local: never, setting or not.
    ("169.254.1.1", LINK_LOCAL, LINK_LOCAL),
    ("fe80::1", LINK_LOCAL, LINK_LOCAL),
    # Cloud metadata services: never, the ones outside link-local ranges too.
    ("169.254.169.254", METADATA, METADATA),
    ("fd00:ec2::254", METADATA, METADATA),
    ("100.100.100.200", METADATA, METADATA),
    ("168.63.129.16", METADATA, METADATA),
    # IPv6 spellings of an IPv4 address, judged by it.
    ("::ffff:127.0.0.1", LOOPBACK, None),  # mapped
    ("::ffff:0:7f00:1", LOOPBACK, None),  # translated (SIIT)
    ("::127.0.0.1", LOOPBACK, None),  # compatible
    ("64:ff9b::7f00:1", LOOPBACK, None),  # NAT64
    ("2002:7f00:1::", LOOPBACK, None),  # 6to4
    ("::ffff:10.0.0.1", PRIVATE, None),
    ("64:ff9b::a00:1", PRIVATE, None),
    ("2002:c0a8:1::", PRIVATE, None),
    ("::ffff:169.254.169.254", METADATA, METADATA),
    ("::ffff:0:a9fe:a9fe", METADATA, METADATA),
    ("::169.254.169.254", METADATA, METADATA),
    ("64:ff9b::a9fe:a9fe", METADATA, METADATA),
    ("2002:a9fe:a9fe::", METADATA, METADATA),
    ("64:ff9b::6464:64c8", METADATA, METADATA),  # 100.100.100.200
    ("::ffff:169.254.7.7", LINK_LOCAL, LINK_LOCAL),
    ("2002:a9fe:707::1", LINK_LOCAL, LINK_LOCAL),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", LOOPBACK, None),  # Teredo, its client 127.0.0.1
    ("64:ff9b::5db8:d70e", None, None),  # NAT64 of 93.184.215.14: public
    ("2002:5db8:d70e::1", None, None),  # 6to4 of it
    # A local-use NAT64 prefix may carry its IPv4 address anywhere: never.
    ("64:ff9b:1::7f00:1", "a local-use NAT64 address", "a local-use NAT64 address"),
]


@pytest.mark.parametrize(("address", "strict", "allowing"), CASES)
def test_an_address_is_judged_by_where_its_packets_go(address: str, strict: str | None, allowing: str | None) -> None:
    parsed = ipaddress.ip_address(address)
    assert urls.refusal(parsed) == strict
    assert urls.refusal(parsed, allow_private=True) == allowing


@pytest.mark.parametrize(
    ("address", "carried"),
    [
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::ffff:0:1.2.3.4", "1.2.3.4"),
        ("::1.2.3.4", "1.2.3.4"),
        ("64:ff9b::1.2.3.4", "1.2.3.4"),
        ("2002:102:304:9::1", "1.2.3.4"),
        ("::", None),
        ("::1", None),
        ("2606:4700::1111", None),
        ("fe80::1.2.3.4", None),
    ],
)
def test_the_ipv4_address_an_ipv6_address_carries(address: str, carried: str | None) -> None:
    found = urls.embedded_ipv4(ipaddress.IPv6Address(address))
    assert (str(found) if found else None) == carried


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://100.100.100.200/latest/meta-data",
        "http://[::ffff:169.254.169.254]/latest/meta-data",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://[2002:a9fe:a9fe::]/latest/meta-data",
    ],
)
async def test_link_local_and_metadata_urls_are_refused_even_when_private_ones_are_allowed(url: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(ValidationFailed) as refused:
            await urls.check(url, allow_private=allow_private)
        [detail] = refused.value.details
        assert detail.field == "url"
        assert "WEBHOOK_ALLOW_PRIVATE" not in detail.message, "the setting would not help: it must not say so"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://localhost:9000/hook",
        "http://[::127.0.0.1]/hook",
        "http://[::ffff:0:7f00:1]/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://[2002:7f00:1::]/hook",
        "http://10.1.2.3/hook",
    ],
)
async def test_loopback_and_private_urls_in_any_spelling_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await urls.check(url, allow_private=False)
    [detail] = refused.value.details
    assert detail.field == "url"
    assert "WEBHOOK_ALLOW_PRIVATE=true" in detail.message
    assert await urls.check(url, allow_private=True) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[fd00::1]/hook",
    ],
)
async def test_a_subscription_to_a_private_or_loopback_target_is_refused_on_its_url_unless_allowed(url: str) -> None:
    """What POST /api/v1/webhooks answers (the service's field check): a 422 naming `url` and the
    setting that would allow it; allowed, the URL is kept as sent."""
    body = WebhookCreate(url=url, events=["*"])
    with pytest.raises(ValidationFailed) as refused:
        await check_fields(body, allow_private=False)
    assert [detail.field for detail in refused.value.details] == ["url"]
    assert "WEBHOOK_ALLOW_PRIVATE" in refused.value.details[0].message
    assert (await check_fields(body, allow_private=True))["url"] == url


@pytest.mark.parametrize(
    ("resolved", "reason"),
    [("10.20.30.40", "a private address"), ("169.254.169.254", "a cloud metadata address")],
)
async def test_a_refused_name_is_answered_with_the_kind_of_address_never_the_address(
    monkeypatch: pytest.MonkeyPatch, resolved: str, reason: str
) -> None:
    """What a name points at inside a network is not the caller's to learn: the 422 says what kind
    of address the name resolves to, not which."""

    async def resolve(host: str, port: int) -> list[urls.Address]:
        return [ipaddress.ip_address(resolved)]

    monkeypatch.setattr(urls, "resolve", resolve)
    with pytest.raises(ValidationFailed) as refused:
        await urls.check("https://erp.intranet.example/hook", allow_private=False)
    [detail] = refused.value.details
    assert detail.field == "url"
    assert detail.message.startswith(f"erp.intranet.example resolves to {reason}")
    assert resolved not in detail.message
    assert resolved not in refused.value.message
