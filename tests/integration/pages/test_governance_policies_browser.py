"""The governance page's approval policies, one-step revert, "1 of 2 approvals", stale flags and
webhook subscriptions in a real browser (Playwright driving /usr/bin/chromium) against a real
`quote-service serve`: one page load per test, every outcome checked against the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import expect

from quote_service.config import Settings
from tests.integration import browser as chrome
from tests.integration.audit.requests import RATE, RATES, requested
from tests.integration.conftest import Caller, make_caller
from tests.integration.pages.test_governance_browser import PAGE, serving
from tests.integration.pages.test_pages_browser import ok
from tests.waiting import until
from tests.webhook_receiver import Receiver, receiving

pytestmark = [pytest.mark.slow, chrome.needs_chromium]
FLAGS = "/api/v1/feature-flags"
WEBHOOKS = "/api/v1/webhooks"


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """A server whose writes apply at once unless a policy asks (CHANGE_APPROVAL off), flags stale
    as soon as they are fully rolled out, receivers on 127.0.0.1 and one attempt per delivery."""
    env = {"STALE_FLAG_DAYS": "0", "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_RETRY_SCHEDULE": "0",
           "WEBHOOK_POLL_INTERVAL": "0.1"}  # fmt: skip
    async with serving(settings, **env) as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    with receiving() as started:
        yield started


async def rate_of(api: httpx.AsyncClient, admin: Caller, rate_id: str) -> float:
    return float((await ok(await api.get(f"{RATES}/{rate_id}", headers=admin.headers)))["rate"])


async def test_policies_revert_and_two_approvals_on_the_governance_page(
    served: tuple[str, httpx.AsyncClient], admin: Caller, settings: Settings, password_hash: str
) -> None:
    base_url, api = served
    await make_caller(settings, password_hash, "reviewer", "admin")  # the page's admin
    third = await make_caller(settings, password_hash, "third", "admin")
    rate = await ok(await api.post(RATES, json=RATE, headers=admin.headers), 201)
    await ok(await api.patch(f"{RATES}/{rate['id']}", json={"rate": "13"}, headers=admin.headers))

    async with chrome.chromium() as browser, chrome.guarded_page(browser, base_url) as (page, guard):
        guard.expect_console_error("409")
        guard.expect_console_error("422")
        await chrome.log_in(page, base_url, PAGE, "reviewer")
        trail = page.locator("#audit-rows tr.audit")

        async def show_rate_trail(count: int) -> None:
            await page.locator("#audit-type").select_option("commission_rate")
            await page.locator("#audit-id").fill(rate["id"])
            await page.get_by_role("button", name="Show").click()
            # The rate's trail is on screen (not the page's first load of every entity, which has as many rows
            # here and, answered late, would be replaced under the click).
            await expect(page.locator("#audit-scope")).to_contain_text(rate["id"])
            await expect(trail).to_have_count(count)

        # Revert: the create is not the rate's newest entry (409, said on its row, nothing changes);
        # the update is, and is written back at once.
        await show_rate_trail(2)
        created = trail.nth(1)
        await created.get_by_role("button", name="Revert").click()
        await expect(created.locator(".outcome.refusal")).to_contain_text("CHANGE_CONFLICT")
        assert await rate_of(api, admin, rate["id"]) == 13
        await trail.nth(0).get_by_role("button", name="Revert").click()
        await expect(page.locator("#message")).to_contain_text("reverted")
        await expect(trail).to_have_count(3)
        assert await rate_of(api, admin, rate["id"]) == 12.5

        # A policy out of range: the API's 422 names the field, nothing is asked.
        await page.locator("#policy-approvals").fill("9")
        await page.get_by_role("button", name="Ask for this policy").click()
        await expect(page.locator("#policy-refusal")).to_contain_text("approvals")
        await expect(page.locator("#change-rows tr.change")).to_have_count(0)
        # Two approvals for commission rates: asked as a change request that another admin approves.
        await page.locator("#policy-type").select_option("commission_rate")
        await page.locator("#policy-approvals").fill("2")
        await page.get_by_role("button", name="Ask for this policy").click()
        await expect(page.locator("#message")).to_contain_text("waits for another admin")
        asked = page.locator("#change-rows tr.change")
        await expect(asked).to_have_count(1)
        await expect(page.locator("#policy-rows")).to_contain_text("No policies")
        policy_change = await asked.get_attribute("data-id")
        await ok(await api.post(f"/api/v1/change-requests/{policy_change}/approve", headers=admin.headers))
        await page.locator("#refresh").click()
        await expect(page.locator("#policy-rows tr.policy[data-type=commission_rate] .approvals")).to_have_text("2")

        # A rate change now needs two people: the page's approval is the first ("1 of 2", the
        # request stays listed, nothing applied); a second person's through the API applies it.
        change_id = await requested(
            await api.patch(f"{RATES}/{rate['id']}", json={"rate": "14"}, headers=admin.headers)
        )
        await page.locator("#refresh").click()
        row = page.locator(f"#change-{change_id}")
        await expect(row.locator(".approvals")).to_have_text("0 of 2 approvals")
        await row.get_by_role("button", name="Approve").click()
        await expect(page.locator("#message")).to_contain_text("Approval 1 of 2 recorded: it applies after 1 more")
        await expect(row.locator(".approvals")).to_have_text("1 of 2 approvals")
        await expect(row.locator(".approvals")).to_have_attribute("title", "approved by reviewer")
        for width in chrome.LAYOUT_WIDTHS:
            await chrome.set_width(page, width)
            await chrome.assert_laid_out(page)
        assert await rate_of(api, admin, rate["id"]) == 12.5
        await ok(await api.post(f"/api/v1/change-requests/{change_id}/approve", headers=third.headers))
        assert await rate_of(api, admin, rate["id"]) == 14

        # Under the policy a revert is a change request (202), said and listed, nothing applied.
        await show_rate_trail(4)
        await trail.nth(0).get_by_role("button", name="Revert").click()
        await expect(page.locator("#message")).to_contain_text("waits for approval")
        waiting = page.locator("#change-rows tr.change")
        await expect(waiting).to_have_count(1)
        await expect(waiting).to_contain_text("revert")
        await expect(waiting.locator(".approvals")).to_have_text("0 of 2 approvals")
        # Removing the policy is asked too: listed, the policy still holds.
        policy = page.locator("#policy-rows tr.policy[data-type=commission_rate]")
        await policy.get_by_role("button", name="Remove").click()
        await expect(page.locator("#message")).to_contain_text("Removing the commission_rate policy asked")
        await expect(waiting).to_have_count(2)
        await expect(policy.locator(".approvals")).to_have_text("2")
    assert await rate_of(api, admin, rate["id"]) == 14
    held = await ok(await api.get("/api/v1/approval-policies/commission_rate", headers=admin.headers))
    assert held["approvals"] == 2


@pytest.mark.long
async def test_stale_flags_and_webhooks_on_the_governance_page(
    served: tuple[str, httpx.AsyncClient], admin: Caller, receiver: Receiver, pool: asyncpg.Pool
) -> None:
    base_url, api = served
    receiver.status = 500
    url = receiver.url()
    failing = await ok(
        await api.post(WEBHOOKS, json={"url": url, "events": ["config.changed"]}, headers=admin.headers), 201
    )
    disabled = await ok(await api.post(WEBHOOKS, json={"url": receiver.url("/down"), "events": ["config.changed"]},
                                       headers=admin.headers), 201)  # fmt: skip
    flag = {"key": "old_banner", "name": "Old banner", "type": "BOOLEAN", "value": True}
    stale = await ok(await api.post(FLAGS, json=flag, headers=admin.headers), 201)
    kill = {**flag, "key": "kill_switch", "name": "Kill switch", "permanent": True}
    await ok(await api.post(FLAGS, json=kill, headers=admin.headers), 201)

    async def failed() -> bool:
        """Both flags' config.changed deliveries failed, to each subscription (none left pending)."""
        for hook in (failing, disabled):
            url = f"{WEBHOOKS}/{hook['id']}/deliveries?status=failed"
            if len((await ok(await api.get(url, headers=admin.headers)))["items"]) != 2:
                return False
        return True

    await until(failed, "both flags' config.changed deliveries failed")
    newest_failed = (
        await ok(await api.get(f"{WEBHOOKS}/{failing['id']}/deliveries?status=failed", headers=admin.headers))
    )["items"][0]["id"]
    reason = "every attempt failed since 2026-11-20T00:00:00Z"
    await pool.execute(
        "UPDATE webhooks SET is_active = false, disabled_at = now(), disabled_reason = $2 WHERE id = $1::uuid",
        disabled["id"], reason,
    )  # fmt: skip

    async def caught_up() -> bool:
        """The replayed three delivered, and the retried one (the newest shown; the flag marked
        permanent made one more to it, delivered or not as the receiver was then)."""
        replayed = await ok(
            await api.get(f"{WEBHOOKS}/{disabled['id']}/deliveries?status=delivered", headers=admin.headers)
        )
        delivered = await ok(
            await api.get(f"{WEBHOOKS}/{failing['id']}/deliveries?status=delivered", headers=admin.headers)
        )
        return len(replayed["items"]) == 3 and newest_failed in {d["id"] for d in delivered["items"]}

    async with chrome.chromium() as browser, chrome.guarded_page(browser, base_url) as (page, _):
        await chrome.log_in(page, base_url, PAGE, "admin")
        # Stale flags: the fully rolled-out one is listed, the permanent one is not.
        flags = page.locator("#flag-rows tr.flag")
        await expect(flags).to_have_count(1)
        await expect(flags).to_have_attribute("data-key", "old_banner")
        # Webhooks: each subscription's state and latest deliveries.
        hook = page.locator(f"#webhook-{failing['id']}")
        await expect(hook.locator(".state")).to_have_text("active")
        await expect(hook.locator("li.delivery[data-status=failed]")).to_have_count(2)
        await expect(hook.locator("li.delivery").first).to_contain_text("HTTP 500")
        off = page.locator(f"#webhook-{disabled['id']}")
        await expect(off.locator(".state")).to_have_text("disabled")
        await expect(off.locator(".reason")).to_have_text(reason)
        for width in chrome.LAYOUT_WIDTHS:
            await chrome.set_width(page, width)
            await chrome.assert_laid_out(page)

        await flags.get_by_role("button", name="Mark permanent").click()
        await expect(page.locator("#message")).to_contain_text("old_banner marked permanent")
        await expect(page.locator("#flag-rows")).to_contain_text("No flag looks stale")
        marked = page.locator("#audit-rows tr.audit[data-action=update]", has_text="old_banner")
        await expect(marked.locator("li[data-field=permanent] ins")).to_have_text("true")
        shown = await ok(await api.get(f"{FLAGS}/{stale['id']}", headers=admin.headers))
        assert (shown["permanent"], shown["lifecycle"]) == (True, "permanent")

        # The receiver is back: the test ping says so; a failed delivery is retried.
        receiver.status = 204
        await hook.get_by_role("button", name="Test").click()
        said = hook.locator("td.actions > .outcome")
        await expect(said).to_contain_text("the receiver answered 204")
        await hook.locator("li.delivery").first.get_by_role("button", name="Retry").click()
        await expect(said).to_contain_text("sent again")

        # The disabled one: replay since yesterday waits until it is re-enabled; re-enable it.
        await off.get_by_role("button", name="Replay").click()
        await expect(off.locator("td.actions > .outcome")).to_contain_text("Replayed 3 events")
        await expect(off.locator("td.actions > .outcome")).to_contain_text("wait until it is re-enabled")
        await off.get_by_role("button", name="Re-enable").click()
        await expect(page.locator("#message")).to_contain_text("active again")
        await expect(page.locator(f"#webhook-{disabled['id']} .state")).to_have_text("active")
        await until(caught_up, "the replayed deliveries and the retried one delivered")
        # Failed deliveries only: the retried one (delivered now) is no longer among them; the
        # disabled one's two first, failed before it was disabled, are, its replayed three are not.
        await page.get_by_label("Failed deliveries only").check()
        listed = page.locator(f"#webhook-{failing['id']} li.delivery")
        await expect(listed.and_(page.locator(":not([data-status=failed])"))).to_have_count(0)
        await expect(listed.and_(page.locator(f"[title^='{newest_failed}']"))).to_have_count(0)
        await expect(listed).not_to_have_count(0)
        await expect(off.locator("li.delivery")).to_have_count(2)
        await expect(off.locator("li.delivery[data-status=failed]")).to_have_count(2)
        await page.screenshot(path=chrome.screenshot_path("governance-webhooks.png"), full_page=True)

    hooks: list[dict[str, Any]] = (await ok(await api.get(WEBHOOKS, headers=admin.headers)))["items"]
    assert [h["is_active"] for h in hooks] == [True, True]
