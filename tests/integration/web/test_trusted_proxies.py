"""Behind a TLS proxy: forwarding headers count only from TRUSTED_PROXIES; HSTS on https answers.

The app runs with its real stores; each client connects "from" an address (the ASGI scope's
peer), so a trusted proxy (10.0.0.5) and an untrusted sender (198.51.100.1) can both be played.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable

import httpx
import msgspec
import pytest
from litestar import Litestar

from quote_service.app import create_app
from quote_service.config import ConfigError, Settings
from tests.integration.conftest import PASSWORD, Caller
from tests.integration.expect import expect_error

PROXY, STRANGER = "10.0.0.5", "198.51.100.1"
HSTS = 31_536_000
TOKEN = "/api/v1/auth/token"


@pytest.fixture
async def app(settings: Settings) -> Litestar:
    return create_app(
        msgspec.structs.replace(
            settings, trusted_proxies="10.0.0.0/8, 2001:db8::/32", hsts_max_age=HSTS, login_attempts_per_address=2
        )
    )


@contextlib.asynccontextmanager
async def serving(app: Litestar) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """The app's lifespan in this event loop; yields a factory of clients by peer address."""
    async with app.lifespan():
        yield lambda address: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://quote.test"
        )


def set_cookie(response: httpx.Response, name: str) -> str:
    """The Set-Cookie header that sets `name` (its attributes included)."""
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


def secure(cookie: str) -> bool:
    return any(part.strip().lower() == "secure" for part in cookie.split(";"))


async def log_in_on_the_page(client: httpx.AsyncClient, username: str, headers: dict[str, str]) -> httpx.Response:
    """The store's login form, then its POST (cookies sent by hand: a Secure cookie is not sent over http)."""
    form_page = await client.get("/store", headers=headers)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form_page.text)
    assert csrf is not None, form_page.text
    form = {"username": username, "password": PASSWORD, "csrf": csrf.group(1), "page": "store"}
    client.cookies.clear()
    return await client.post(
        "/pages/login", data=form, headers={**headers, "Cookie": f"qs_csrf={csrf.group(1)}"}, follow_redirects=False
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Proto": "https"},
        {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        {"Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https'},
        {"Forwarded": "for=203.0.113.9;proto=https, for=10.0.0.9;proto=http"},  # two trusted hops
    ],
)
async def test_behind_a_trusted_proxy_the_session_cookie_is_secure(
    app: Litestar, shopper: Caller, headers: dict[str, str]
) -> None:
    async with serving(app) as connect, connect(PROXY) as client:
        response = await log_in_on_the_page(client, shopper.username, headers)

    assert response.status_code == 303, response.text
    assert secure(set_cookie(response, "qs_session"))
    assert secure(set_cookie(response, "qs_csrf"))
    assert response.headers["strict-transport-security"] == f"max-age={HSTS}"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Proto": "https"},
        {"Forwarded": "for=203.0.113.9;proto=https"},
    ],
)
async def test_an_untrusted_sender_cannot_claim_https(app: Litestar, shopper: Caller, headers: dict[str, str]) -> None:
    async with serving(app) as connect, connect(STRANGER) as client:
        response = await log_in_on_the_page(client, shopper.username, headers)

    assert response.status_code == 303, response.text
    assert not secure(set_cookie(response, "qs_session"))
    assert "strict-transport-security" not in response.headers  # never over plain http


async def test_plain_http_through_the_proxy_stays_plain(app: Litestar, shopper: Caller) -> None:
    async with serving(app) as connect, connect(PROXY) as client:
        response = await log_in_on_the_page(client, shopper.username, {"X-Forwarded-Proto": "http"})

    assert not secure(set_cookie(response, "qs_session"))
    assert "strict-transport-security" not in response.headers


async def test_the_login_throttle_counts_the_client_a_trusted_proxy_names(app: Litestar, shopper: Caller) -> None:
    """Two failures per address are allowed here: behind the proxy each client has its own count;
    a stranger's X-Forwarded-For is ignored, so all its guesses count against its own address."""
    wrong = {"username": shopper.username, "password": "wrong-password"}
    async with serving(app) as connect, connect(PROXY) as proxy, connect(STRANGER) as stranger:
        for _ in range(2):
            expect_error(
                await proxy.post(TOKEN, json=wrong, headers={"X-Forwarded-For": "203.0.113.7"}), 401, "UNAUTHORIZED"
            )
        guesser = await proxy.post(TOKEN, json=wrong, headers={"X-Forwarded-For": "203.0.113.7"})
        neighbour = await proxy.post(TOKEN, json=wrong, headers={"X-Forwarded-For": "203.0.113.8"})
        spoofed = [
            await stranger.post(TOKEN, json=wrong, headers={"X-Forwarded-For": f"192.0.2.{n}"}) for n in range(3)
        ]

    expect_error(guesser, 429, "RATE_LIMITED")
    expect_error(neighbour, 401, "UNAUTHORIZED")
    assert [r.status_code for r in spoofed] == [401, 401, 429]


async def test_a_forged_hop_left_of_an_untrusted_client_is_not_believed(app: Litestar, shopper: Caller) -> None:
    """The client may put anything in front of what the proxy appends: the walk stops at the first
    untrusted address from the right, so its forged `proto=https` is not the client's scheme."""
    forged = {"Forwarded": "for=10.0.0.7;proto=https, for=203.0.113.9;proto=http"}
    async with serving(app) as connect, connect(PROXY) as client:
        response = await log_in_on_the_page(client, shopper.username, forged)

    assert not secure(set_cookie(response, "qs_session"))


@pytest.mark.parametrize("value", ["10.0.0.0/33", "not-an-address", "10.0.0.1,,bogus"])
def test_a_bad_trusted_proxies_setting_refuses_to_start(value: str) -> None:
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Settings.from_env({"TRUSTED_PROXIES": value})


def test_a_negative_hsts_max_age_refuses_to_start() -> None:
    with pytest.raises(ConfigError, match="HSTS_MAX_AGE"):
        Settings.from_env({"HSTS_MAX_AGE": "-1"})
