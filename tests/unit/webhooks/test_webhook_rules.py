"""The pure parts of webhooks: which addresses a delivery may reach, which URLs a subscription
may name, and the retry schedule (docs/webhooks.md)."""

from __future__ import annotations

import ipaddress

import pytest

from quote_service.errors import ValidationFailed
from quote_service.webhooks import urls
from quote_service.webhooks.dispatcher import retry_delay


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("10.0.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12::1", "a private address"),
        ("::ffff:10.1.1.1", "a private address"),
        ("0.0.0.0", "a private address"),  # noqa: S104 - an address judged, nothing bound
        ("100.64.0.1", "not a public address"),
        ("224.0.0.1", "not a public address"),
        ("93.184.215.14", None),
        ("2606:4700::1111", None),
    ],
)
def test_only_public_addresses_may_be_reached(address: str, why: str | None) -> None:
    assert urls.refusal(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "must be an http or https URL"),
        ("https://", "must name a host"),
        ("https://u:p@example.com/", "must not carry credentials"),
        ("https://exa mple.com/", "must not contain spaces"),
        ("https://example.com/" + "a" * 2048, "at most 2048"),
        ("https://example.com:99999/", "is not a valid URL"),
    ],
)
def test_urls_a_subscription_may_not_name(url: str, problem: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        urls.parse(url)
    [detail] = refused.value.details
    assert detail.field == "url"
    assert problem in detail.message


def test_http_and_https_urls_are_kept_as_given() -> None:
    assert str(urls.parse("https://hooks.example.com/a?b=1")) == "https://hooks.example.com/a?b=1"
    assert urls.is_localhost("LocalHost.")
    assert urls.is_localhost("api.localhost")
    assert not urls.is_localhost("localhost.example.com")


def test_the_retry_pause_doubles_from_the_first_up_to_the_longest() -> None:
    pauses = [retry_delay(n, first=5, longest=3600, jitter=0) for n in range(1, 13)]
    assert pauses[:4] == [5, 10, 20, 40]
    assert pauses[-1] == 3600
    assert max(pauses) == 3600
    assert retry_delay(1, first=5, longest=3600, jitter=0.2) == pytest.approx(6.0)
    assert retry_delay(11, first=5, longest=3600, jitter=0.2) == 3600, "jitter never passes the longest"
    assert retry_delay(10_000, first=5, longest=3600, jitter=0.1) == 3600
