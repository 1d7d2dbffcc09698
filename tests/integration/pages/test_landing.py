"""The landing page is a newcomer's door to every page (README.md#in-the-browser)."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.pages.controller import PATHS


async def test_the_landing_page_links_every_page(client: AsyncTestClient[Litestar]) -> None:
    landing = await client.get("/")
    assert landing.status_code == 200
    doors = set(re.findall(r'<a class="door" href="([^"]+)"', landing.text))
    assert set(PATHS.values()) <= doors, sorted(set(PATHS.values()) - doors)
