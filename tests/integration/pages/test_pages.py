"""The pages' session: login form with CSRF, httpOnly cookie, the cookie counts only with the header."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import PASSWORD, Caller

Client = AsyncTestClient[Litestar]


async def login_form(client: Client, page: str) -> str:
    response = await client.get(f"/{page}")
    assert response.status_code == 200
    policies = response.headers.get_list("content-security-policy")
    assert len(policies) == 1  # one policy, or the browser enforces both
    assert "frame-ancestors 'none'" in policies[0]
    assert "form-action 'self'" in policies[0]
    assert response.headers["x-frame-options"] == "DENY"
    match = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert match is not None
    assert client.cookies.get("qs_csrf") == match.group(1)
    return match.group(1)


async def log_in(client: Client, page: str, username: str) -> None:
    csrf = await login_form(client, page)
    form = {"username": username, "password": PASSWORD, "csrf": csrf, "page": page}
    response = await client.post("/pages/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/{page}"
    session = next(h for h in response.headers.get_list("set-cookie") if h.startswith("qs_session="))
    assert "HttpOnly" in session
    assert "samesite=strict" in session.lower()


async def test_login_without_csrf_token_is_refused(client: Client, admin: Caller) -> None:
    await login_form(client, "dashboard")
    form = {"username": admin.username, "password": PASSWORD, "page": "dashboard"}
    response = await client.post("/pages/login", data=form, follow_redirects=False)
    assert response.status_code == 403
    assert "qs_session" not in client.cookies
    response = await client.post("/pages/login", data={**form, "csrf": "forged"})
    assert response.status_code == 403
    assert "qs_session" not in client.cookies


async def test_cookie_authenticates_api_only_with_csrf_header(client: Client, admin: Caller) -> None:
    await log_in(client, "dashboard", admin.username)
    assert (await client.get("/api/v1/dashboard/summary")).status_code == 401
    forged = await client.get("/api/v1/dashboard/summary", headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 401
    csrf = client.cookies["qs_csrf"]
    response = await client.get("/api/v1/dashboard/summary", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    assert response.json()["data"]["quotes_last_hour"] == 0
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert 'id="kpis"' in page.text
    assert client.cookies["qs_session"] not in page.text
    # Logging out needs the token too (refused: the session still works), then the cookie is gone.
    assert (await client.post("/pages/logout", data={"page": "dashboard"})).status_code == 403
    assert "qs_session" in client.cookies
    assert (await client.get("/api/v1/dashboard/summary", headers={"X-CSRF-Token": csrf})).status_code == 200
    assert (
        await client.post("/pages/logout", data={"page": "dashboard", "csrf": csrf}, follow_redirects=False)
    ).status_code == 303
    assert "qs_session" not in client.cookies


async def test_shopper_cannot_open_dashboard(client: Client, shopper: Caller) -> None:
    await log_in(client, "dashboard", shopper.username)
    page = await client.get("/dashboard")
    assert page.status_code == 403
    assert 'id="kpis"' not in page.text
    csrf = client.cookies["qs_csrf"]
    summary = await client.get("/api/v1/dashboard/summary", headers={"X-CSRF-Token": csrf})
    assert summary.status_code == 403
    assert (await client.get("/store")).status_code == 200


async def test_assets_have_cache_headers(client: Client) -> None:
    response = await client.get("/pages/static/common.js")
    assert response.status_code == 200
    assert "max-age=3600" in response.headers["cache-control"]


async def test_a_refused_login_keeps_the_username_and_asks_for_the_password(client: Client, admin: Caller) -> None:
    csrf = await login_form(client, "dashboard")
    form = {"username": admin.username, "password": "not the password", "csrf": csrf, "page": "dashboard"}
    response = await client.post("/pages/login", data=form, follow_redirects=False)
    assert response.status_code == 401
    assert "qs_session" not in client.cookies
    assert re.search(rf'<input id="username"[^>]* value="{admin.username}"', response.text)
    assert re.search(r'<input id="password"[^>]* autofocus>', response.text)  # the next thing to type
    # What was typed comes back as the field's value, never as markup.
    tricky = {**form, "username": '"><script>alert(1)</script>'}
    echoed = await client.post("/pages/login", data=tricky, follow_redirects=False)
    assert "<script>alert(1)" not in echoed.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in echoed.text
