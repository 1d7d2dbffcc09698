"""With no shipping profile anywhere, a quote is byte for byte what it was before shipments existed
(docs/shipping.md#what-a-quote-carries): a differential test over the demo's quotes.

The demo (seed-demo: catalog, rules, rates, flags, coupons, promotions, its sellers' shipping profiles) is
priced by this engine and by the engine of BEFORE_SHIPMENTS, the last commit without shipments, its source
taken from git history and run in a process of its own on the same database (engine_before.py): demo
baskets (one to four products of the three demo sellers, a coupon, express or not, a gold customer)
delivered where no profile serves (Istanbul, Berlin), then everywhere once the profiles are switched off.
Every quote's JSON must be the same bytes; and the profiles must change the quotes where they serve
(Ankara, Izmir), so the comparison is not empty.

The same goes for commission as marketplaces charge it (issue 76, docs/commission.md): the demo's named fees
on groceries are switched off first, once they are seen to change the groceries' quotes.

The same goes for taxes as markets have them (issue 65, docs/taxes.md): the demo's compound ÖTV + KDV
rule, which that engine cannot read, is taken away first; its perfumes, tax-inclusive, join the baskets
at the default rate. A quote without compound taxes, an exemption, its own rounding or a card is the bytes
of the engine before them; and the compound rule does change the perfumes' quotes.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import pytest

from quote_service.cli import demo
from quote_service.cli.demo_taxes import DEMO_OTV_RULE
from quote_service.config import Settings
from quote_service.errors import ServiceError
from quote_service.pricing.engine import price_quote
from quote_service.pricing.quote import CatalogProduct, CustomerContext, EngineDefaults, QuoteRequest
from quote_service.snapshot.loader import load_snapshot

pytestmark = pytest.mark.slow  # seeds the whole demo: in `make test`, not the unit loop

ROOT = Path(__file__).resolve().parents[3]
BEFORE_SHIPMENTS = "9733bad0a082729f426205986b73f9a37d805cb1"
"""The last commit before shipping profiles and shipments (its engine is the one quotes had)."""
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PLACES = {
    "Istanbul": (41.0082, 28.9784),
    "Berlin": (52.52, 13.405),
    "Ankara": (39.9334, 32.8597),
    "Izmir": (38.4237, 27.1428),
}
PRODUCTS = """SELECT id, currency, current_price, min_price, category_id, seller_id, is_active, prices_include_tax,
                     weight FROM products"""


def baskets(ids: list[str], cities: tuple[str, ...], count: int) -> list[list[Any]]:
    """(request, customer, quote id) as JSON values, the demo workload's shape (loadtests/bench_engine_served.py)."""
    rng = random.Random(64)
    made = []
    for n in range(count):
        city = cities[n % len(cities)]
        country = "DE" if city == "Berlin" else "TR"
        latitude, longitude = PLACES[city]
        request = {
            "customer_id": f"c-{n}",
            "seller_id": "seller-anatolia",
            "currency": "TRY",
            "items": [{"product_id": rng.choice(ids), "quantity": rng.randint(1, 5)} for _ in range(rng.randint(1, 4))],
            "delivery_address": {"city": city, "country": country, "latitude": latitude, "longitude": longitude},
            "pickup_address": {"city": "Istanbul", "country": "TR", "latitude": 41.0186, "longitude": 29.0023},
            "is_express_delivery": rng.random() < 0.5,
            "coupon_codes": rng.choice([["WELCOME10"], ["FREESHIP"], []]),
            "logistics_provider": rng.choice(["fastship", None]),
        }
        made.append([request, {"customer_id": f"c-{n}", "tier": "gold"}, str(UUID(int=rng.getrandbits(128)))])
    return made


def unversioned(quotes: list[bytes]) -> list[bytes]:
    return [re.sub(rb'"config_version":\d+', b"", quote) for quote in quotes]


async def priced_here(pool: asyncpg.Pool, work: list[list[Any]]) -> list[bytes]:
    snapshot = await load_snapshot(pool)
    products = {str(r["id"]): CatalogProduct(**dict(r)) for r in await pool.fetch(PRODUCTS)}
    answers, defaults = [], EngineDefaults()
    for request, customer, quote_id in work:
        wanted, who = msgspec.convert(request, QuoteRequest), msgspec.convert(customer, CustomerContext)
        found = {i.product_id: products[i.product_id] for i in wanted.items if i.product_id in products}
        try:
            quote = price_quote(
                wanted, snapshot=snapshot, products=found, flash={}, customer=who,
                defaults=defaults, now=NOW, quote_id=UUID(quote_id),
            )  # fmt: skip
        except ServiceError as error:
            answers.append(json.dumps([type(error).__name__]).encode())
            continue
        answers.append(msgspec.json.encode(quote))
    return answers


def priced_before(database_url: str, work: list[list[Any]]) -> list[bytes]:
    """The same baskets priced by BEFORE_SHIPMENTS's engine, in a process of its own."""
    archive = subprocess.run(  # noqa: S603 - git, on this repository
        ["git", "-C", str(ROOT), "archive", BEFORE_SHIPMENTS, "quote_service"],  # noqa: S607
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, f"git history is needed (a full clone): {archive.stderr.decode()}"
    with tempfile.TemporaryDirectory(prefix="qs-before-shipments-") as tree:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(tree, filter="data")
        job = json.dumps({"database_url": database_url, "now": NOW.isoformat(), "baskets": work})
        ran = subprocess.run(  # noqa: S603 - this interpreter, on the test's own script
            [sys.executable, str(Path(__file__).with_name("engine_before.py"))],
            input=job.encode(),
            capture_output=True,
            env={"PYTHONPATH": tree, "PATH": "/usr/bin:/bin"},
            check=False,
            timeout=600,
        )
    assert ran.returncode == 0, ran.stderr.decode()
    return ran.stdout.splitlines()


async def test_demo_quotes_without_a_profile_are_byte_for_byte_the_engines_before_shipments(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await demo.seed_demo(settings, pool)
    assert settings.database_url is not None
    perfumes = [str(row["id"]) for row in await pool.fetch("SELECT id FROM products WHERE sku LIKE 'OTV-PERF-%'")]
    taxed = await priced_here(pool, baskets(perfumes, ("Istanbul",), 20))
    await pool.execute("DELETE FROM pricing_rules WHERE name = $1", DEMO_OTV_RULE["name"])
    assert await priced_here(pool, baskets(perfumes, ("Istanbul",), 20)) != taxed
    assert all(b'"taxes":' in quote for quote in taxed if b'"items":' in quote)
    # The demo seller's named fees on groceries (issue 76, docs/commission.md), which the engine before cannot read:
    # they change the groceries' quotes, and without them those are the bytes of the engine before.
    groceries = [
        str(row["id"])
        for row in await pool.fetch(
            "SELECT id FROM products WHERE sku LIKE 'DEMO-GROC-%' AND seller_id = $1", demo.DEMO_SELLER_ID
        )
    ]
    charged = await priced_here(pool, baskets(groceries, ("Istanbul",), 20))
    assert all(b'"fees":[{"name":"payment_fee"' in quote for quote in charged if b'"items":' in quote)
    await pool.execute(
        "UPDATE commission_rates SET is_active = false WHERE component IN ('payment_fee', 'platform_fee')"
    )
    assert await priced_here(pool, baskets(groceries, ("Istanbul",), 20)) != charged
    ids = [str(row["id"]) for row in await pool.fetch("SELECT id FROM products WHERE sku LIKE 'DEMO-%'")]
    ids += perfumes
    unserved = baskets(ids, ("Istanbul", "Berlin"), 200)
    everywhere = baskets(ids, tuple(PLACES), 200)

    served_now = await priced_here(pool, everywhere)
    assert sum(b'"shipments":' in quote for quote in served_now) >= 50, "the demo's profiles serve Ankara and Izmir"
    # The newsletter channel's promotions (issue 66's kinds and fields, which the engine before cannot
    # read), and the demo-app channel's partial free delivery (issue 78's), meet none of these baskets: off,
    # they change nothing here but the configuration version, and the engine before can load.
    await pool.execute(
        "UPDATE promotions SET is_active = false WHERE conditions->'channels' ?| array['newsletter', 'demo-app']"
    )
    assert unversioned(await priced_here(pool, everywhere)) == unversioned(served_now)
    assert await priced_here(pool, unserved) == priced_before(settings.database_url, unserved)

    await pool.execute("UPDATE shipping_profiles SET is_active = false")
    without = await priced_here(pool, everywhere)
    assert not any(b'"shipments":' in quote for quote in without)
    assert without == priced_before(settings.database_url, everywhere)
    assert without != served_now
