"""The pure parts of webhooks: which addresses a delivery may reach, which URLs a subscription
may name, and the retry schedule (docs/webhooks.md)."""

from __future__ import annotations

import ipaddress

import pytest

from quote_service.config import ConfigError, Settings
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
        ("169.254.169.254", "a cloud metadata address"),
        ("169.254.7.7", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("10.0.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12::1", "a private address"),
        ("::ffff:10.1.1.1", "a private address"),
        ("0.0.0.0", "a private address"),  # noqa: S104 - an address judged, nothing bound
        ("100.64.0.1", "a non-public address"),
        ("224.0.0.1", "a non-public address"),
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


def test_the_default_schedule_is_standard_webhooks_over_about_27_6_hours() -> None:
    schedule = Settings().retry_schedule
    assert schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    pauses = [retry_delay(n, schedule, jitter=0) for n in range(1, 8)]
    assert pauses == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert sum(pauses) / 3600 == pytest.approx(27.6, abs=0.05)
    assert retry_delay(8, schedule, jitter=0) is None, "the 8th attempt failing fails the delivery"
    assert retry_delay(1, schedule, jitter=0.1) == pytest.approx(5.5)
    assert retry_delay(7, schedule, jitter=-0.1) == pytest.approx(32400)


def test_a_schedule_without_its_leading_0_gets_the_attempt_made_at_once() -> None:
    assert Settings(webhook_retry_schedule="1,2").retry_schedule == (0, 1, 2)
    assert Settings(webhook_retry_schedule="0,1,2").retry_schedule == (0, 1, 2)


@pytest.mark.parametrize("raw", ["0,abc", "0,-5", "0,nan", "0,inf", ""])
def test_a_retry_schedule_that_cannot_work_is_refused_naming_it(raw: str) -> None:
    with pytest.raises(ConfigError, match="WEBHOOK_RETRY_SCHEDULE"):
        Settings(webhook_retry_schedule=raw).validate()
