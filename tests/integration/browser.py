"""Playwright driving Debian's Chromium (/usr/bin/chromium), the checks any page's tests share,
and where screenshots go.

- `guarded_page(browser, base_url, width=...)`: a fresh page whose console errors, uncaught
  exceptions and requests to any other host are recorded (those requests are also blocked, so a
  CDN link fails loudly rather than working by luck); the block fails the test if any happened,
  except console errors the test said it provokes (`guard.expect_console_error("422")`).
- `layout_problems(page)` / `assert_laid_out(page)`: nothing wider than the window, no panel
  whose content is wider than the panel, no element whose box leaves its panel, no text cut
  with an ellipsis without a `title` tooltip. Run it at each of `LAYOUT_WIDTHS` (`set_width`).
- `chart_points(page)`: every chart canvas on the page with the number of data points its
  Chart.js instance holds and whether anything is painted.
- `log_in(page, base_url, path, username)`: through the page's own login form.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, Playwright, Route, async_playwright

from tests.integration.conftest import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("QS_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
DOCS_IMAGES = ROOT / "docs" / "img"
LAYOUT_WIDTHS = (1280, 1920)
"""The widths a pricing team's screens have: a laptop and a full-HD monitor."""
TIMEOUT_MS = 20_000
# CI installs Chromium (.ci/run), so there these tests always run; a laptop without it skips them.
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


_SHARED: list[tuple[Playwright, Browser]] = []
"""This test process's Chromium, launched by the first test that asks (a launch cost ~1 s of CPU a
test on two cores: docs/development.md#how-long-the-tests-take); `close_shared` ends it."""


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Chromium for one test: the process's shared browser (launched again if it went away), and every
    context the test opened in it closed after the test, so no cookie or page outlives it."""
    if not _SHARED or not _SHARED[0][1].is_connected():
        await close_shared()
        playwright = await async_playwright().start()
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        _SHARED.append((playwright, browser))
    browser = _SHARED[0][1]
    before = set(browser.contexts)
    try:
        yield browser
    finally:
        for context in browser.contexts:
            if context not in before:
                await context.close()


async def close_shared() -> None:
    """Close the shared browser and its driver (at the end of the test session)."""
    while _SHARED:
        playwright, browser = _SHARED.pop()
        try:
            if browser.is_connected():
                await browser.close()
        finally:
            await playwright.stop()


@dataclass
class PageGuard:
    """What a page did that a person would call broken, recorded while the page runs."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def expect_console_error(self, fragment: str) -> None:
        """A console error containing `fragment` is what the test provokes (Chromium logs every
        4xx answer of a fetch, e.g. a refusal the page shows in words): it does not fail."""
        self.expected.append(fragment)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Error) -> None:
        self.console_errors.append(f"uncaught: {error}")

    async def on_request(self, route: Route) -> None:
        url = route.request.url
        if _origin(url) == self.origin:
            await route.continue_()
        else:
            self.outside_requests.append(url)
            await route.abort("blockedbyclient")

    def assert_clean(self) -> None:
        """Fail naming every console error and every request that tried to leave the service."""
        assert not self.outside_requests, f"requests to other hosts: {self.outside_requests}"
        unexpected = [e for e in self.console_errors if not any(f in e for f in self.expected)]
        assert not unexpected, f"console errors: {unexpected}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def guard(page: Page, base_url: str) -> PageGuard:
    """Start recording `page`'s console errors and blocking its requests to other hosts."""
    watch = PageGuard(origin=_origin(base_url))
    page.on("console", watch.on_console)
    page.on("pageerror", watch.on_page_error)
    await page.context.route("**/*", watch.on_request)
    return watch


@asynccontextmanager
async def guarded_page(
    browser: Browser, base_url: str, *, width: int = LAYOUT_WIDTHS[0], height: int = 1000
) -> AsyncIterator[tuple[Page, PageGuard]]:
    """A page in a context of its own (own cookies), guarded; fails at the end on anything recorded."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        watch = await guard(page, base_url)
        yield page, watch
        watch.assert_clean()
    finally:
        await context.close()


async def log_in(page: Page, base_url: str, path: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the login form `path` shows, as `username` (by default the tests' password)."""
    await page.goto(base_url + path)
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(base_url + path)


_LAYOUT_JS = """
(panelSelector) => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1)
    problems.push(`the page scrolls sideways: ${root.scrollWidth}px in a ${root.clientWidth}px window`);
  const name = el => el.id ? "#" + el.id : el.tagName.toLowerCase() + (el.className ? "." + el.className : "");
  const visible = el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  for (const panel of document.querySelectorAll(panelSelector)) {
    if (!visible(panel)) continue;
    const box = panel.getBoundingClientRect();
    if (box.right > root.clientWidth + 1)
      problems.push(`${name(panel)} ends at ${Math.round(box.right)}px, past the ${root.clientWidth}px window`);
    if (panel.scrollWidth > panel.clientWidth + 1)
      problems.push(`${name(panel)}: content ${panel.scrollWidth}px wide in a ${panel.clientWidth}px panel`);
    for (const el of panel.querySelectorAll("*")) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.left >= box.left - 1 && r.right <= box.right + 1) continue;
      problems.push(`${name(panel)}: ${name(el)} spans ${Math.round(r.left)}-${Math.round(r.right)}px, `
        + `outside the panel's ${Math.round(box.left)}-${Math.round(box.right)}px`);
    }
    for (const el of panel.querySelectorAll("*")) {
      const cut = getComputedStyle(el).textOverflow === "ellipsis" && el.scrollWidth > el.clientWidth + 1;
      if (cut && !el.title) problems.push(`${name(panel)}: "${el.textContent.slice(0, 40)}" is cut with no title`);
    }
  }
  return problems;
}
"""


async def set_width(page: Page, width: int, height: int = 1000) -> None:
    """Resize the window and wait two frames, so layout and resize observers (charts) have run."""
    await page.set_viewport_size({"width": width, "height": height})
    await page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


async def layout_problems(page: Page, panels: str = ".panel") -> list[str]:
    """Everything a person at this window width would find clipped or hidden behind scrolling."""
    problems: list[str] = await page.evaluate(_LAYOUT_JS, panels)
    return problems


async def assert_laid_out(page: Page, panels: str = ".panel") -> None:
    """Fail listing every layout problem (see `layout_problems`) at the page's current width."""
    width = page.viewport_size["width"] if page.viewport_size else "?"
    problems = await layout_problems(page, panels)
    assert not problems, f"at {width}px: " + "; ".join(problems)


_TERMS_JS = """
(list) => {
  const box = el => el.getBoundingClientRect();
  return [...list.querySelectorAll("dt")].map(dt => {
    const term = box(dt);
    const under = [...list.querySelectorAll("dd")]
      .filter(dd => Math.abs(box(dd).left - term.left) < 2 && box(dd).top >= term.bottom - 1)
      .sort((a, b) => box(a).top - box(b).top);
    return [dt.textContent.trim(), under.length ? under[0].textContent.trim() : null];
  });
}
"""


async def figures_as_read(page: Page, selector: str) -> dict[str, str | None]:
    """Each term of the <dl> `selector` with the figure a reader finds under it (the nearest <dd>
    below it, starting at its left edge; None: nothing there), as laid out at the page's width."""
    pairs: list[tuple[str, str | None]] = await page.locator(selector).evaluate(_TERMS_JS)
    return dict(pairs)


_CHOICES_JS = """
() => {
  const problems = [];
  for (const input of document.querySelectorAll("label input[type=radio], label input[type=checkbox]")) {
    if (input.getClientRects().length === 0) continue;
    const label = input.closest("label"), box = input.getBoundingClientRect();
    const words = document.createRange();
    words.setStartAfter(input);
    words.setEnd(label, label.childNodes.length);
    const line = words.getClientRects()[0];
    const text = label.textContent.trim().slice(0, 40);
    if (!line) { problems.push(`"${text}": no words beside its ${input.type}`); continue; }
    const middle = (box.top + box.bottom) / 2;
    if (middle < line.top || middle > line.bottom)
      problems.push(`"${text}": its ${input.type} (${Math.round(box.top)}-${Math.round(box.bottom)}px) is not on `
        + `the words' first line (${Math.round(line.top)}-${Math.round(line.bottom)}px)`);
    else if (box.right > line.left + 1)
      problems.push(`"${text}": its ${input.type} ends at ${Math.round(box.right)}px, `
        + `past the words' start ${Math.round(line.left)}px`);
  }
  return problems;
}
"""


async def choices_off_their_words(page: Page) -> list[str]:
    """Each visible radio button or checkbox inside a <label> that does not sit on the first line
    of its label's words, to their left (as a reader expects "( ) Standard: 4.90 TRY")."""
    problems: list[str] = await page.evaluate(_CHOICES_JS)
    return problems


_CHARTS_JS = """
() => [...document.querySelectorAll("canvas")].map(canvas => {
  const chart = window.Chart && Chart.getChart(canvas);
  const points = chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0;
  const ctx = canvas.getContext("2d");
  const pixels = canvas.width && canvas.height ? ctx.getImageData(0, 0, canvas.width, canvas.height).data : [];
  let painted = false;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) { painted = true; break; }
  return { id: canvas.id, points, painted, datasets: chart ? chart.data.datasets.map(d => d.label || "") : [] };
})
"""


async def chart_points(page: Page) -> dict[str, dict[str, Any]]:
    """Each canvas on the page by id: {points, painted, datasets} from its Chart.js instance."""
    charts: list[dict[str, Any]] = await page.evaluate(_CHARTS_JS)
    return {chart["id"]: chart for chart in charts}


def screenshot_path(name: str) -> Path:
    """Where the test writes screenshot `name` (tests/artifacts/ or $QS_TEST_ARTIFACTS)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def publish(path: Path) -> None:
    """With QS_UPDATE_SCREENSHOTS=1, copy a test's screenshot into docs/img/. The docs' pictures
    come from the demo through `python -m tests.screenshots`; this is for a page it does not cover."""
    if os.environ.get("QS_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES / path.name)
