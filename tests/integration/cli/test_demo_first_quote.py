"""The README's first quote on the demo data: its request, sent as the README sends it, gets the
amounts its table shows, after everything seed-demo does (the demo's price moves, campaign and
decisions included)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import asyncpg
from litestar import Litestar
from litestar.testing import AsyncTestClient

from quote_service.cache.config_bus import read_version
from quote_service.cli import demo
from quote_service.config import Settings
from tests.integration.expect import expect_ok
from tests.waiting import until

README = Path(__file__).resolve().parents[3] / "README.md"
# The table's parts, and where each is in the quote's answer.
PARTS = {
    "subtotal": ("subtotal",),
    "discount_amount": ("discount_amount",),
    "tax_amount": ("tax_amount",),
    "delivery_fee": ("delivery_fee",),
    "small_basket_fee": ("small_basket_fee",),
    "total_amount": ("total_amount",),
    "commission_breakdown": ("commission_breakdown", "total_commission"),
}


def first_quote_section() -> str:
    return README.read_text(encoding="utf-8").split("## A first quote", 1)[1].split("\n## ", 1)[0]


def readme_request(section: str, ids: dict[str, str]) -> dict[str, object]:
    """The quote's JSON body from the README's curl, with the products' ids spliced in as its shell does."""
    body = section.split("$BASE/api/v1/quote", 1)[1].split("-d '", 1)[1].split("}' \\", 1)[0] + "}"
    for variable, product_id in ids.items():
        body = body.replace(f"'${variable}'", product_id)
    loaded: dict[str, object] = json.loads(body)
    return loaded


def readme_amounts(section: str) -> dict[str, Decimal]:
    rows = re.findall(r"^\| `(\w+)` \| \**([0-9.]+)\**", section, flags=re.MULTILINE)
    return {part: Decimal(amount) for part, amount in rows}


async def test_the_readmes_first_quote_holds_on_the_demo_data(
    client: AsyncTestClient[Litestar], settings: Settings, pool: asyncpg.Pool
) -> None:
    section = first_quote_section()
    expected = readme_amounts(section)
    assert set(expected) == set(PARTS), expected
    # `read CHARGER BOOK <<< ... print(p["DEMO-ELEC-002"], p["DEMO-BOOK-001"])`
    variables = re.search(r"read (\w+) (\w+) <<<", section)
    skus = re.findall(r'p\["(DEMO-[A-Z]+-\d+)"\]', section)
    assert variables is not None
    assert tuple(skus) == demo.FIRST_QUOTE_SKUS

    await demo.seed_demo(settings, pool)
    username, password = demo.DEMO_ADMIN
    login = expect_ok(await client.post("/api/v1/auth/token", json={"username": username, "password": password}))
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    ids = {}
    for variable, sku in zip(variables.groups(), skus, strict=True):
        [product] = expect_ok(await client.get("/api/v1/products", params={"q": sku}, headers=headers))["items"]
        ids[variable] = product["id"]
    request = readme_request(section, ids)
    async with pool.acquire() as conn:
        version = await read_version(conn)

    async def quoted_on_the_seeded_configuration() -> bool:  # the app hears of seed-demo's writes within ~1 s
        answer = expect_ok(await client.post("/api/v1/quote", json=request, headers=headers))
        return bool(answer["config_version"] >= version)

    await until(quoted_on_the_seeded_configuration, "the app quotes with the demo configuration")
    answer = expect_ok(await client.post("/api/v1/quote", json=request, headers=headers))
    got = {}
    for part, path in PARTS.items():
        value = answer
        for key in path:
            value = value[key]
        got[part] = Decimal(value)
    assert got == expected
    assert [r["code"] for r in answer["rejected_coupons"]] == ["NOPE"]
