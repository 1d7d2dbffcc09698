"""`quote-service generate-data`: a realistic, reproducible history, written with COPY.

Everything random, every id included, comes from `random.Random` streams seeded from `seed`, so the same
arguments against the same clock hour write the same rows. History ends at the current hour
and goes `days` back: a catalog (its price moves in price history), quotes with experiment
variants (of the variant flags present), applied rules and coupons in the quote log (with the request
a what-if simulation prices each basket again from, as a live quote logs it), orders for
a share of them with lines and commissions, ended flash sales with purchases and viewers, and
competitor observations (a fifth of the catalog, 1 to 3 competitors each, four a day, around our
price of the moment). The generated rules and coupon are stored retired, so they never change a
live price. The analytics rollups of every hour written are recomputed as it goes.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

import msgspec

from quote_service.analytics import rollups
from quote_service.analytics.rollups import hour_of
from quote_service.cli.common import ProgressBar
from quote_service.db.pool import Connection, Pool
from quote_service.flags.repository import load_active as load_flags
from quote_service.lifecycle import partitions
from quote_service.pricing.flags import (
    CompiledFlags,
    EvaluationContext,
    FlagSet,
    Variant,
    evaluate_compiled,
    pick_variant,
)
from quote_service.pricing.quote import Address, CustomerContext, QuoteItemIn, QuoteRequest
from quote_service.pricing.rules import QuantityTier, QuantityTierConfig, TimeWindowConfig, in_time_window
from quote_service.quotes.quote_log import logged_request
from quote_service.rules.schemas import configuration_json

CURRENCY = "TRY"
CENT = Decimal("0.01")
TAX = Decimal("0.18")
SELLER_RATE = Decimal("0.10")
CATEGORY_RATE = Decimal("0.05")
LOGISTICS_CENTS = 200
# Delivery places, one per customer (its index modulo the list): the report by region has rows.
PLACES = (("Istanbul", "TR"), ("Ankara", "TR"), ("Izmir", "TR"), ("Bursa", "TR"), ("Antalya", "TR"))
ACTOR = "generate-data"
# Competitors observed for a fifth of the catalog, each product by 1 to 3 of them.
COMPETITORS = ("shopfast", "megamart", "buynow", "dealzone")
# Observations per (product, competitor) per day: one in each quarter of the day.
OBSERVATIONS_PER_DAY = 4
# Hourly weights of a shopping day (UTC): quiet nights, an evening peak.
_DAY_SHAPE = [1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 10, 10, 9, 9, 10, 11, 13, 14, 12, 8, 5, 2]


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


@dataclass
class Product:
    id: UUID
    category: str
    seller: str
    base: Decimal
    # (moment, price) from the first day on, sorted: the price at t is the last move at or before t.
    moves: list[tuple[float, Decimal]] = field(default_factory=list)
    text: str = ""
    _times: list[float] = field(default_factory=list)
    _cents: list[int] = field(default_factory=list)

    def price_at(self, ts: float) -> Decimal:
        at = bisect.bisect_right(self.moves, ts, key=lambda move: move[0]) - 1
        return self.moves[max(at, 0)][1]

    def cents_at(self, ts: float) -> int:
        if not self._times:
            self._times = [t for t, _ in self.moves]
            self._cents = [int(price * 100) for _, price in self.moves]
        return self._cents[max(bisect.bisect_right(self._times, ts) - 1, 0)]


@dataclass
class Summary:
    products: int = 0
    price_moves: int = 0
    quotes: int = 0
    orders: int = 0
    flash_sales: int = 0
    flash_purchases: int = 0
    competitor_prices: int = 0
    rollup_hours: int = 0
    seconds: float = 0.0


def _pct(cents: int, percent: int) -> int:
    """cents x percent / 100, rounded half up (away from zero) to a cent."""
    scaled = abs(cents) * percent
    value = (scaled + 50) // 100
    return value if cents >= 0 else -value


def _c(cents: int) -> str:
    """Cents as a decimal string: 1234 -> "12.34", -5 -> "-0.05" (exact: a double holds n/100 to far
    better than half a cent below 10**13, and formatting rounds to the nearest)."""
    return f"{cents / 100:.2f}"


def _uuid_text(bits: int) -> str:
    """A version-4 UUID's text from 128 random bits (as UUID(int=..., version=4) would give)."""
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)
    bits = (bits & ~(0xF000 << 64)) | (4 << 76)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def _text(value: object) -> str:
    return r"\N" if value is None else str(value)


def _line(*values: object) -> str:
    return "\t".join(_text(v) for v in values) + "\n"


_JSON = msgspec.json.Encoder()
_ADDRESSES = [Address(city=city, country=country) for city, country in PLACES]


def _request(customer: str, place: int, items: list[tuple[str, int]], coupon: bool) -> str:
    """The generated quote's request as the quote log keeps a live one's (`logged_request`), a COPY
    text value: the basket, its delivery city and coupon, priced for the customer alone (no tier,
    group or forced variant), so a what-if simulation prices it again."""
    request = QuoteRequest(
        customer_id=customer, currency=CURRENCY, delivery_address=_ADDRESSES[place],
        items=[QuoteItemIn(product_id=product, quantity=quantity) for product, quantity in items],
        coupon_codes=["GEN10"] if coupon else [],
    )  # fmt: skip
    # COPY's text format reads a backslash as an escape: JSON's own escapes must reach it doubled.
    logged = _JSON.encode(logged_request(request, CustomerContext(customer_id=customer))).decode()
    return logged.replace("\\", "\\\\")


class Generator:
    def __init__(
        self,
        *,
        products: int,
        days: int,
        quotes_per_day: int,
        seed: int,
        now: datetime,
        experiments: dict[str, list[Variant]],
        flags: CompiledFlags = (),
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible data, not security
        self.seed = seed
        self.n_products = products
        self.days = days
        self.quotes_per_day = quotes_per_day
        self.end = hour_of(now)
        self.start = self.end - timedelta(days=days)
        self.experiments = experiments
        self.principal = _uuid(self.rng)
        self.rule_ids = [_uuid(self.rng), _uuid(self.rng)]
        self.products: list[Product] = []
        self.customers = [f"gen-{seed}-c{i}" for i in range(max(10, quotes_per_day * days // 8))]
        self._variants: dict[str, str] = {}
        self.flags = flags
        self._flags_on: dict[int, str] = {}
        # (product, competitor, its price level relative to ours), filled by `catalog`.
        self.watched: list[tuple[Product, str, float]] = []

    # -- catalog ---------------------------------------------------------------------------
    def catalog(self) -> tuple[list[str], list[str]]:
        """Product rows and price-history rows (COPY text lines)."""
        rng = self.rng
        categories = max(1, self.n_products // 20)
        sellers = max(1, self.n_products // 10)
        products, history = [], []
        t0, t1 = self.start.timestamp(), self.end.timestamp()
        for i in range(self.n_products):
            base = Decimal(rng.randint(1000, 200000)) / 100
            product = Product(
                id=_uuid(rng), category=f"cat-{rng.randrange(categories):03d}",
                seller=f"seller-{rng.randrange(sellers):04d}",
                base=base,
            )  # fmt: skip
            product.text = str(product.id)
            price = base
            product.moves.append((t0, price))
            created = self.start - timedelta(days=1)
            history.append(_line(product.id, None, price, "generated: listed", "manual", ACTOR, created.isoformat()))
            for moment in sorted(rng.uniform(t0, t1) for _ in range(rng.randint(0, 6))):
                old, price = price, _money(base * Decimal(rng.uniform(0.8, 1.15)))
                product.moves.append((moment, price))
                source = rng.choice(("rule", "inventory", "campaign", "decision", "manual"))
                changed = datetime.fromtimestamp(moment, tz=self.end.tzinfo).isoformat()
                history.append(_line(product.id, old, price, f"generated: {source} move", source, ACTOR, changed))
            minimum = min(p for _, p in product.moves)
            products.append(
                _line(
                    product.id,
                    f"GEN-{self.seed}-{i:06d}",
                    f"Generated product {i}",
                    product.category,
                    product.seller,
                    CURRENCY,
                    base,
                    price,
                    _money(minimum * Decimal("0.9")),
                    _money(minimum * Decimal("0.6")),
                    rng.randint(50, 500),
                    "{generated}",
                    None,
                    "t",
                    created.isoformat(),
                    created.isoformat(),
                )
            )
            self.products.append(product)
        # Its own stream: the catalog and the quotes stay what they were without competitors.
        market = random.Random(f"{self.seed}:market")  # noqa: S311 - reproducible data
        for product in self.products:
            if market.random() < 0.2:
                for competitor in market.sample(COMPETITORS, market.randint(1, 3)):
                    self.watched.append((product, competitor, market.uniform(0.88, 1.1)))
        return products, history

    def hours(self, index: int) -> list[datetime]:
        """The hours of day `index` and the hour before: an order's trigger marks the hour before
        its own too (its quote may sit there), so day `index`'s first orders mark the previous
        day's last hour again after it was recomputed."""
        first = self.start + timedelta(days=index)
        return [first + timedelta(hours=h) for h in range(-1, 24)]

    # -- quotes, orders --------------------------------------------------------------------
    def _variant_of(self, customer: str) -> str:
        known = self._variants.get(customer)
        if known is None:
            parts = []
            for key, variants in self.experiments.items():
                arm = pick_variant(key, customer, variants)
                if arm is not None:
                    parts.append(f'"{key}":"{arm.key}"')
            known = self._variants[customer] = ",".join(parts)
        return known

    def _flags_of(self, index: int, customer: str) -> str:
        """The keys of the flags on for customer `index` at its place, as a COPY text array body: the
        service's own evaluator at the end of the history, plus every experiment assigned."""
        known = self._flags_on.get(index)
        if known is None:
            city, country = PLACES[index % len(PLACES)]
            context = EvaluationContext(user_id=customer, city=city, country=country)
            on, _ = evaluate_compiled(self.flags, context, self.end)
            assigned = {k for k, arms in self.experiments.items() if pick_variant(k, customer, arms) is not None}
            keys = set(on) | assigned
            known = self._flags_on[index] = ",".join(sorted(keys))
        return known

    def day(self, index: int) -> dict[str, list[str]]:
        """One day's rows: quote_log, orders, order_lines, order_commissions, coupon_redemptions.

        Money is integer cents here (Decimal arithmetic made a day of quotes take 4x longer);
        every amount is rounded half up to cents exactly as the service rounds it."""
        # Days are independent: generated in any order. Not security: reproducible data.
        rng = random.Random(f"{self.seed}:{index}")  # noqa: S311
        day_start = (self.start + timedelta(days=index)).timestamp()
        total_weight = sum(_DAY_SHAPE)
        out: dict[str, list[str]] = {
            "quotes": [], "orders": [], "lines": [], "commissions": [], "coupons": [], "ledger": [], "ledger_taxes": [],
            "competitors": self._observations(index, day_start),
        }  # fmt: skip
        quotes, orders_out, lines_out = out["quotes"], out["orders"], out["lines"]
        commissions_out, coupons_out = out["commissions"], out["coupons"]
        products = self.products
        n = len(products)
        happy_id, bulk_id = (str(rule_id) for rule_id in self.rule_ids)
        customers = self.customers
        n_customers = len(customers)
        tz = self.end.tzinfo
        end_ts = self.end.timestamp()
        random_ = rng.random
        getrandbits = rng.getrandbits
        cumulative = 0
        for hour, weight in enumerate(_DAY_SHAPE):
            count = (
                self.quotes_per_day * (cumulative + weight) // total_weight
                - self.quotes_per_day * cumulative // total_weight
            )
            cumulative += weight
            # A whole UTC hour (the history starts on one), and the window's edges are whole hours of a
            # zone at a whole-hour offset: the hour is in the window throughout or not at all.
            happy = in_time_window(_HAPPY_HOUR, datetime.fromtimestamp(day_start + hour * 3600, tz))
            for _ in range(count):
                ts = day_start + hour * 3600 + random_() * 3600
                customer_index = int(n_customers * random_() ** 1.5)
                customer = customers[customer_index]
                quote_id = _uuid_text(getrandbits(128))
                items = []
                subtotal = happy_amount = bulk_amount = 0
                for _position in range(1 + int(random_() ** 2 * 3)):
                    product = products[int(n * random_() ** 2)]
                    quantity = 1 + int(random_() ** 3 * 4)
                    listed = product.cents_at(ts)
                    unit = listed
                    if happy:
                        unit = _pct(unit, 95)
                        happy_amount += (unit - listed) * quantity
                    if quantity >= 3:
                        bulk = _pct(unit, 97)
                        bulk_amount += (bulk - unit) * quantity
                        unit = bulk
                    line_subtotal = unit * quantity
                    subtotal += line_subtotal
                    items.append((product, quantity, listed, unit, line_subtotal))
                coupon = random_() < 0.12
                discount = _pct(subtotal, 10) if coupon else 0
                remaining, tax_total = discount, 0
                lines = []
                last = len(items) - 1
                for i, (product, quantity, listed, unit, line_subtotal) in enumerate(items):
                    share = remaining if i == last else (discount * line_subtotal * 2 + subtotal) // (subtotal * 2)
                    remaining -= share
                    tax = _pct(line_subtotal - share, 18)
                    tax_total += tax
                    lines.append((product, quantity, listed, unit, line_subtotal, share, tax))
                delivery = 1000
                small = 500 if subtotal < 5000 else 0
                total = subtotal - discount + tax_total + delivery + small
                seller_c = category_c = 0
                for line in lines:
                    base = line[4] - line[5]
                    seller_c += _pct(base, 10)
                    category_c += _pct(base, 5)
                commission_total = seller_c + category_c + LOGISTICS_CENTS
                created = datetime.fromtimestamp(ts, tz=tz).isoformat()
                # The lean quote-log row (migration 0015): positional lines and rules.
                lines_json = ",".join(
                    f'["{p.text}","{p.category}","{p.seller}",{q},"{_c(u)}","{_c(ls)}","{_c(d)}","catalog"]'
                    for p, q, _lp, u, ls, d, _t in lines
                )
                rules = []
                if happy_amount:
                    rules.append(f'["{happy_id}","TIME_WINDOW",1,"{_c(happy_amount)}"]')
                if bulk_amount:
                    rules.append(f'["{bulk_id}","QUANTITY_TIER",1,"{_c(bulk_amount)}"]')
                variants = self._variant_of(customer)
                place = customer_index % len(PLACES)
                city, country = PLACES[place]
                request = _request(customer, place, [(line[0].text, line[1]) for line in lines], coupon)
                quotes.append(
                    f"{quote_id}\t{customer}\t{CURRENCY}\t{_c(subtotal)}\t{_c(discount)}\t{_c(tax_total)}\t"
                    f"{_c(delivery)}\t{_c(small)}\t{_c(total)}\t{_c(commission_total)}\t{_c(seller_c)}\t"
                    f"{_c(category_c)}\t{_c(LOGISTICS_CENTS)}\t{len(lines)}\t0\t[{lines_json}]\t[{','.join(rules)}]\t"
                    f"{'{GEN10}' if coupon else '{}'}\t{{{variants}}}\t\\N\t\\N\t{created}\t"
                    f"{datetime.fromtimestamp(ts + 900, tz=tz).isoformat()}\t{city}\t{country}\t"
                    f"{{{self._flags_of(customer_index, customer)}}}\t{request}\n"
                )
                # Conversion: ~4 %, higher for small baskets and with a coupon; arms other than
                # "control" a little higher.
                chance = 0.03 + (0.02 if coupon else 0) + (0.01 if total < 20000 else 0)
                if variants and '":"control"' not in variants:
                    chance += 0.005
                if random_() >= chance:
                    continue
                ordered_ts = ts + 30 + random_() * 600
                if ordered_ts >= end_ts:
                    continue
                order_id = _uuid_text(getrandbits(128))
                ordered = datetime.fromtimestamp(ordered_ts, tz=tz).isoformat()
                digest = hashlib.sha256(order_id.encode()).hexdigest()
                orders_out.append(
                    f"{order_id}\t{quote_id}\t{customer}\t{CURRENCY}\tconfirmed\t{_c(subtotal)}\t{_c(discount)}\t"
                    f"{_c(tax_total)}\t{_c(delivery)}\t{_c(small)}\t{_c(total)}\t{_c(commission_total)}\t"
                    f"{_c(seller_c)}\t{_c(category_c)}\t{_c(LOGISTICS_CENTS)}\t{self.principal}\tgen-{order_id}\t"
                    f"\\\\x{digest}\t{ACTOR}\t{ordered}\n"
                )
                position = 0
                sellers: dict[str, list[int]] = {}  # its entries in the sellers' ledger: goods, tax, commission
                for i, (p, q, lp, u, ls, d, t) in enumerate(lines):
                    net = _c(ls - d)
                    seller_cents, category_cents = _pct(ls - d, 10), _pct(ls - d, 5)
                    mine = sellers.setdefault(p.seller, [0, 0, 0])
                    mine[0], mine[1], mine[2] = mine[0] + ls - d, mine[1] + t, mine[2] + seller_cents + category_cents
                    seller_part, category_part = _c(seller_cents), _c(category_cents)
                    # Each line keeps its commission parts, each detail its line (by line, never product id).
                    lines_out.append(
                        f"{order_id}\t{i}\t{p.text}\t{q}\t{_c(lp)}\t{_c(u)}\t{_c(ls)}\t{_c(d)}\t{_c(t)}\t18\t"
                        f"catalog\t\\N\t{p.category}\t{p.seller}\t{category_part}\t{seller_part}\n"
                    )
                    commissions_out.append(
                        f"{order_id}\t{position}\t{p.text}\t\\N\tseller\tPERCENTAGE\t{net}\t10\t{seller_part}\t{i}\n"
                        f"{order_id}\t{position + 1}\t{p.text}\t\\N\tcategory\tPERCENTAGE\t{net}\t5\t{category_part}"
                        f"\t{i}\n"
                    )
                    position += 2
                commissions_out.append(
                    f"{order_id}\t{position}\t\\N\t\\N\tlogistics\tFLAT\t{_c(total - tax_total)}\t\\N\t"
                    f"{_c(LOGISTICS_CENTS)}\t\\N\n"
                )
                if coupon:
                    coupons_out.append(f"{order_id}\tGEN10\t0\t{customer}\tPERCENTAGE\t{_c(discount)}\t{ordered}\n")
                _ledger(out, order_id, ordered, sellers)
        return out

    def _observations(self, index: int, day_start: float) -> list[str]:
        """The day's competitor observations: each watched (product, competitor) once in each
        quarter of the day, at its own level around our price of the moment, +-2 % noise."""
        rng = random.Random(f"{self.seed}:{index}:market")  # noqa: S311 - reproducible data
        tz = self.end.tzinfo
        end_ts = self.end.timestamp()
        window = 86400 / OBSERVATIONS_PER_DAY
        rows = []
        for product, competitor, level in self.watched:
            for slot in range(OBSERVATIONS_PER_DAY):
                ts = day_start + slot * window + rng.random() * window
                # Drawn before the check, so a day's rows do not depend on where history ends.
                noise, stock, delay = rng.gauss(1.0, 0.01), rng.random(), rng.uniform(1, 120)
                if ts >= end_ts:
                    continue
                cents = max(1, round(product.cents_at(ts) * level * noise))
                observed = datetime.fromtimestamp(ts, tz=tz).isoformat()
                received = datetime.fromtimestamp(ts + delay, tz=tz).isoformat()
                rows.append(
                    f"{product.text}\t{competitor}\t{_c(cents)}\t{CURRENCY}\t{observed}\t"
                    f"{'f' if stock < 0.05 else 't'}\thttps://{competitor}.example/p/{product.text}\t{received}\n"
                )
        return rows

    # -- flash sales -----------------------------------------------------------------------
    def flash_sales(self) -> dict[str, list[str]]:
        """A few ended sales (one every ~10 days), each 3 products for 6 hours."""
        rng = self.rng
        out: dict[str, list[str]] = {"sales": [], "items": [], "purchases": [], "stats": []}
        for s in range(max(1, self.days // 10)):
            sale_id = _uuid(rng)
            starts = self.start + timedelta(days=rng.randint(0, max(0, self.days - 1)), hours=rng.choice((10, 12, 18)))
            ends = starts + timedelta(hours=6)
            if ends > self.end:
                starts, ends = self.end - timedelta(hours=7), self.end - timedelta(hours=1)
            out["sales"].append(
                _line(sale_id, f"Generated flash sale {s + 1}", "ended", starts.isoformat(), ends.isoformat(),
                      starts.isoformat(), ends.isoformat(), ACTOR, ACTOR, starts.isoformat(), ends.isoformat())
            )  # fmt: skip
            buyers: set[str] = set()
            units_total = 0
            revenue = Decimal(0)
            purchases = 0
            for position, product in enumerate(rng.sample(self.products, min(3, len(self.products)))):
                price = _money(product.price_at(starts.timestamp()) * Decimal("0.7"))
                allocated = rng.randint(20, 100)
                sold = 0
                while sold < allocated and rng.random() < 0.97:
                    customer = rng.choice(self.customers)
                    quantity = min(rng.randint(1, 2), allocated - sold)
                    sold += quantity
                    buyers.add(customer)
                    at = starts + timedelta(seconds=rng.random() * 6 * 3600 * (rng.random() ** 2))
                    purchase_id = _uuid(rng)
                    out["purchases"].append(
                        _line(purchase_id, sale_id, product.id, customer, quantity, price, price * quantity, CURRENCY,
                              "confirmed", self.principal, f"gen-{purchase_id}", "\\\\x00", None, at.isoformat())
                    )  # fmt: skip
                    revenue += price * quantity
                    purchases += 1
                units_total += sold
                out["items"].append(_line(sale_id, product.id, position, price, allocated, 2, sold, allocated - sold))
            viewers = len(buyers) * rng.randint(3, 8)
            out["stats"].append(
                _line(sale_id, purchases, units_total, f'{{"{CURRENCY}":"{revenue}"}}', len(buyers), viewers, "{}",
                      ends.isoformat())
            )  # fmt: skip
        return out


def _ledger(out: dict[str, list[str]], order_id: str, ordered: str, sellers: dict[str, list[int]]) -> None:
    """An order's entries in its sellers' ledgers (migrations/0901_seller_ledger.sql), as placing it writes them:
    each seller's goods, tax and commission (in cents), its tax under code TAX."""
    for seller, (goods, tax, commission) in sellers.items():
        out["ledger"].append(
            f"{seller}\torder\t{order_id}\t{order_id}\t{CURRENCY}\t{ordered}\t{_c(goods)}\t{_c(tax)}\t0\t"
            f"{_c(commission)}\t0\t0\t{_c(tax)}\t0\t{{}}\n"
        )
        if tax:
            out["ledger_taxes"].append(f"{seller}\torder\t{order_id}\tTAX\tf\tf\t{_c(tax)}\t0\n")


_DAY_TABLES = ("quotes", "orders", "lines", "commissions", "ledger", "ledger_taxes", "coupons", "competitors")
"""A day's rows, in the order they are copied (an entry of the ledger after its order)."""
_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "products": ("products", ("id", "sku", "name", "category_id", "seller_id", "currency", "base_price",
                              "current_price", "min_price", "cost_price", "stock", "tags", "weight", "is_active",
                              "created_at", "updated_at")),
    "history": ("price_history", ("product_id", "old_price", "new_price", "reason", "source", "actor", "changed_at")),
    "quotes": ("quote_log", ("quote_id", "customer_id", "currency", "subtotal", "discount_amount", "tax_amount",
                             "delivery_fee", "small_basket_fee", "total_amount", "total_commission",
                             "seller_commission", "category_commission", "logistics_commission", "item_count",
                             "config_version", "lines", "applied_rules", "coupon_codes", "experiments", "caller_kind",
                             "caller_id", "created_at", "valid_until", "delivery_city", "delivery_country",
                             "flags", "request")),
    "orders": ("orders", ("id", "quote_id", "customer_id", "currency", "status", "subtotal", "discount_amount",
                          "tax_amount", "delivery_fee", "small_basket_fee", "total_amount", "total_commission",
                          "seller_commission", "category_commission", "logistics_commission", "principal_id",
                          "idempotency_key", "request_hash", "created_by", "created_at")),
    "lines": ("order_lines", ("order_id", "position", "product_id", "quantity", "list_unit_price", "unit_price",
                              "line_subtotal", "discount", "tax", "tax_rate", "price_source", "flash_sale_id",
                              "category_id", "seller_id", "commission_category", "commission_seller")),
    "commissions": ("order_commissions", ("order_id", "position", "product_id", "rate_id", "dimension",
                                          "commission_type", "base", "rate", "amount", "line_position")),
    "ledger": ("seller_ledger", ("seller_id", "kind", "id", "order_id", "currency", "at", "goods", "tax", "platform",
                                 "commission", "commission_tax", "delivery", "tax_collected", "tax_refunded", "fees")),
    "ledger_taxes": ("seller_ledger_taxes", ("seller_id", "kind", "id", "code", "kept", "external", "collected",
                                             "refunded")),
    "coupons": ("coupon_redemptions", ("order_id", "coupon_code", "position", "customer_id", "type", "amount",
                                       "created_at")),
    "sales": ("flash_sales", ("id", "name", "status", "starts_at", "ends_at", "activated_at", "ended_at", "created_by",
                              "updated_by", "created_at", "updated_at")),
    "items": ("flash_sale_items", ("flash_sale_id", "product_id", "position", "flash_price", "allocated_stock",
                                   "per_user_limit", "sold", "returned_stock")),
    "purchases": ("flash_purchases", ("id", "flash_sale_id", "product_id", "customer_id", "quantity", "unit_price",
                                      "total", "currency", "status", "principal_id", "idempotency_key", "request_hash",
                                      "order_id", "created_at")),
    "competitors": ("competitor_prices", ("product_id", "competitor", "price", "currency", "observed_at", "in_stock",
                                          "url", "received_at")),
    "stats": ("flash_sale_stats", ("flash_sale_id", "purchases", "units_sold", "revenue", "buyers", "unique_viewers",
                                   "attempts", "computed_at")),
}  # fmt: skip


async def _chunks(lines: list[str], size: int = 20_000) -> AsyncIterator[bytes]:
    for start in range(0, len(lines), size):
        yield "".join(lines[start : start + size]).encode()


async def _copy(conn: Connection, name: str, lines: list[str]) -> None:
    if lines:
        table, columns = _COLUMNS[name]
        await conn.copy_to_table(table, source=_chunks(lines), columns=list(columns), format="text", timeout=3600)


async def _experiments(conn: Connection) -> dict[str, list[Variant]]:
    found: dict[str, list[Variant]] = {}
    rows = await conn.fetch(
        "SELECT key, rollout->'variants' AS variants FROM feature_flags"
        " WHERE is_enabled AND jsonb_typeof(rollout->'variants') = 'array' ORDER BY key"
    )
    for row in rows:
        arms: list[Any] = row["variants"] or []
        if arms:
            found[row["key"]] = [Variant(key=a["key"], weight=int(a["weight"]), value=a.get("value")) for a in arms]
    return found


# The rules the generated quotes applied (see `Generator.day`): -5 % from 17:00 to 20:00 Istanbul
# time (the customers are in Türkiye), -3 % from 3 units. Typed configurations, so what is stored
# is what the API validates and reads back.
_HAPPY_HOUR = TimeWindowConfig(
    adjust_percent=Decimal(-5), start_time="17:00", end_time="20:00", timezone="Europe/Istanbul"
)
_BULK_TIER = QuantityTierConfig(tiers=(QuantityTier(min_quantity=3, adjust_percent=Decimal(-3)),))


async def _setup(conn: Connection, gen: Generator) -> None:
    since = gen.start - timedelta(days=1)
    for rule_id, name, kind, config in (
        (gen.rule_ids[0], "Generated happy hour", "TIME_WINDOW", _HAPPY_HOUR),
        (gen.rule_ids[1], "Generated bulk tier", "QUANTITY_TIER", _BULK_TIER),
    ):
        stored = configuration_json(config)  # as the API stores it, so it reads back
        await conn.execute(
            "INSERT INTO pricing_rules (id, name, version, type, configuration, effective_from, effective_to,"
            " is_active, retired_at, created_by, updated_by) VALUES ($1, $2 || ' ' || $6, 1, $3, $4::jsonb, $5, $7,"
            " false, $7, $6, $6) ON CONFLICT DO NOTHING",
            rule_id, name, kind, stored, since, f"{ACTOR}-{gen.seed}", gen.end,
        )  # fmt: skip
    await conn.execute(
        "INSERT INTO coupons (code, type, value, valid_from, valid_to, is_active, created_by, updated_by)"
        " VALUES ('GEN10', 'PERCENTAGE', 10, $1, $2, false, $3, $3) ON CONFLICT DO NOTHING",
        since,
        gen.end,
        ACTOR,
    )


async def generate(
    pool: Pool,
    *,
    products: int,
    days: int,
    quotes_per_day: int,
    seed: int,
    now: datetime,
    progress: bool = True,
    on_rollups: Callable[[], None] | None = None,
) -> Summary:
    """Write the history, and recompute the analytics rollups of every hour it wrote.

    Three things overlap (docs/analytics.md): Python builds day d+1's rows in a thread while one
    connection COPYs day d and a second one recomputes day d-1's rollups, holding the rollup
    job's lock. Day d-1's hours are final once day d-1 is in: rows of later days are later (an
    order may spill into the next day's first hour, never back). Needs two connections."""
    started = time.monotonic()
    summary = Summary()
    async with pool.acquire() as conn, pool.acquire() as roll:
        for c in (conn, roll):
            await c.execute("SET statement_timeout = 0")
        if await conn.fetchval("SELECT count(*) FROM products WHERE sku LIKE $1", f"GEN-{seed}-%"):
            raise ValueError(f"data for seed {seed} was generated here already: use another --seed")
        gen = Generator(
            products=products, days=days, quotes_per_day=quotes_per_day, seed=seed, now=now,
            experiments=await _experiments(conn), flags=FlagSet.of(await load_flags(conn)).compiled,
        )  # fmt: skip
        product_rows, history = gen.catalog()
        # The history's days get partitions of their own (docs/data-lifecycle.md), not the default one.
        await partitions.cover(
            conn, gen.start - timedelta(days=1), gen.end + timedelta(days=1),
            (partitions.BY_NAME["quote_log"], partitions.BY_NAME["competitor_prices"]),
        )  # fmt: skip
        async with conn.transaction():
            await _setup(conn, gen)
            await _copy(conn, "products", product_rows)
            await _copy(conn, "history", history)
        summary.products, summary.price_moves = len(product_rows), len(history)
        bar = ProgressBar("quotes", quotes_per_day * days, enabled=progress)
        async with rollups.lock(roll):
            pending = asyncio.create_task(asyncio.to_thread(gen.day, 0))
            settling: asyncio.Task[None] | None = None
            try:
                for index in range(days):
                    rows = await pending
                    if index + 1 < days:
                        pending = asyncio.create_task(asyncio.to_thread(gen.day, index + 1))
                    async with conn.transaction():
                        for name in _DAY_TABLES:
                            await _copy(conn, name, rows[name])
                    if index == 0:  # plans for the rollup SQL: a fresh table has no statistics
                        await conn.execute("ANALYZE quote_log, orders, order_lines, order_commissions")
                    summary.quotes += len(rows["quotes"])
                    summary.orders += len(rows["orders"])
                    summary.competitor_prices += len(rows["competitors"])
                    bar.advance(len(rows["quotes"]))
                    if settling is not None:
                        await settling
                    settling = asyncio.create_task(rollups.settle(roll, gen.hours(index)))
                sales = gen.flash_sales()
                async with conn.transaction():
                    for name in ("sales", "items", "purchases", "stats"):
                        await _copy(conn, name, sales[name])
                summary.flash_sales, summary.flash_purchases = len(sales["sales"]), len(sales["purchases"])
                await conn.execute(
                    "ANALYZE quote_log, orders, order_lines, order_commissions, competitor_prices", timeout=3600
                )
                if on_rollups is not None:
                    on_rollups()
                if settling is not None:
                    await settling
            except BaseException:
                for task in (pending, settling):
                    if task is not None and not task.done():
                        task.cancel()
                        with contextlib.suppress(BaseException):
                            await task
                raise
        await roll.execute(
            "ANALYZE rollup_pricing_hourly, rollup_commission_hourly, rollup_pricing_daily, rollup_commission_daily"
        )
    summary.rollup_hours = days * 24 + 1
    summary.seconds = math.floor((time.monotonic() - started) * 10) / 10
    return summary
