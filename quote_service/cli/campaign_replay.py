"""campaign-script: the original assignment's command language, replayed on the real service.

Each line is one command; its output is one line (or `Error: <why>`, and the replay goes on).
Commands run through the same code as the HTTP API — catalog service, quote and order
services, the campaign service and its scheduler's tick — on a scratch PostgreSQL database and
an empty Redis logical database of the configured servers, dropped and emptied after it
(cli/scratch.py). The service clock is simulated: it
starts at 00:00 and only `increase_time` moves it, applying every campaign-hour that became due.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import msgspec
from litestar.datastructures import State

from quote_service.auth.schemas import Principal
from quote_service.campaigns.schemas import CampaignCreate
from quote_service.campaigns.service import Campaigns
from quote_service.catalog import service as catalog
from quote_service.catalog.schemas import ProductCreate
from quote_service.cli.common import CommandError
from quote_service.cli.scratch import scratch_database, scratch_redis
from quote_service.clock import utcnow
from quote_service.config import Settings
from quote_service.errors import ServiceError
from quote_service.orders import service as orders
from quote_service.orders.schemas import OrderCreate
from quote_service.pricing.money import plain, quantum
from quote_service.pricing.quote import QuoteRequest
from quote_service.validation import decode_hook

CURRENCY = "USD"
CATEGORY = "campaign-script"
START = datetime(2026, 1, 1, tzinfo=UTC)
"""Day one, 00:00 on the simulated clock (only the time of day is ever shown)."""
_LAST = datetime(9999, 1, 1, tzinfo=UTC)
"""The simulated clock stops short of the end of Python's calendar."""
_CALLER = Principal(id=uuid.UUID(int=0), name="campaign-script", role="service", kind="api_key")
_ARGUMENTS = {
    "create_product": ("CODE", "PRICE", "STOCK"),
    "get_product_info": ("CODE",),
    "create_order": ("CODE", "QUANTITY"),
    "create_campaign": ("NAME", "CODE", "DURATION", "LIMIT", "TARGET"),
    "get_campaign_info": ("NAME",),
    "increase_time": ("HOURS",),
}


class ScriptError(Exception):
    """A line that cannot run; printed as `Error: <why>`."""


class SimulatedClock:
    """The service clock of a replay: 00:00 until `increase_time` moves it."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def shown(self) -> str:
        return f"{self.now:%H:%M}"


def number(value: Decimal | int) -> str:
    """As the assignment prints numbers: no trailing zeros (`95`, `94.5`)."""
    return format(plain(Decimal(value)), "f")


def _decimal(name: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ScriptError(f"{name} must be a number, not {text!r}") from exc
    if not value.is_finite():
        raise ScriptError(f"{name} must be a number, not {text!r}")
    return value


# ASCII digits only: str.isdigit() also accepts "²" and other digits that int() refuses.
_WHOLE = re.compile(r"-?[0-9]{1,18}")
MAX_HOURS = 8760
"""The most one `increase_time` moves the clock: a year, far beyond any campaign (at most 720 hours)."""


def _integer(name: str, text: str, *, least: int, most: int | None = None) -> int:
    if _WHOLE.fullmatch(text) is None:
        if re.fullmatch(r"[0-9]+", text):  # more than 18 digits
            raise ScriptError(f"{name} must be at most {most}" if most is not None else f"{name} is too large")
        raise ScriptError(f"{name} must be a whole number, not {text[:40]!r}")
    value = int(text)
    if value < least:
        raise ScriptError(f"{name} must be at least {least}")
    if most is not None and value > most:
        raise ScriptError(f"{name} must be at most {most}")
    return value


def parse(line: str) -> tuple[str, list[str]] | None:
    """(command, arguments) of a line; None for a blank line or a `#` comment."""
    words = line.split()
    if not words or words[0].startswith("#"):
        return None
    command, arguments = words[0], words[1:]
    expected = _ARGUMENTS.get(command)
    if expected is None:
        raise ScriptError(f"unknown command {command!r} (known: {', '.join(_ARGUMENTS)})")
    if len(arguments) != len(expected):
        raise ScriptError(f"{command} takes {len(expected)} argument(s): {command} {' '.join(expected)}")
    return command, arguments


class Replay:
    """Runs commands against a started application (see `run_script`)."""

    def __init__(self, state: State, clock: SimulatedClock) -> None:
        self.state = state
        self.clock = clock
        self.products: dict[str, uuid.UUID] = {}
        self.campaigns: Campaigns = state.campaigns

    async def line(self, text: str) -> str | None:
        """The output line of one script line (None for blanks and comments)."""
        try:
            parsed = parse(text)
            if parsed is None:
                return None
            command, arguments = parsed
            return await getattr(self, command)(*arguments)  # type: ignore[no-any-return]
        except ScriptError as exc:
            return f"Error: {exc}"
        except ServiceError as exc:
            return f"Error: {self._by_code(exc.message)}"
        except msgspec.ValidationError as exc:
            return f"Error: {exc}"

    def _by_code(self, message: str) -> str:
        """The service names products by id; the script knows them by code."""
        for code, product_id in self.products.items():
            message = message.replace(str(product_id), code)
        return message

    def _product(self, code: str) -> uuid.UUID:
        product_id = self.products.get(code)
        if product_id is None:
            raise ScriptError(f"unknown product {code!r}")
        return product_id

    async def create_product(self, code: str, price_text: str, stock_text: str) -> str:
        price = _decimal("PRICE", price_text)
        stock = _integer("STOCK", stock_text, least=0)
        data = msgspec.convert(
            {"sku": code, "name": code, "category_id": CATEGORY, "seller_id": CATEGORY, "currency": CURRENCY,
             "base_price": price, "min_price": quantum(CURRENCY), "stock": stock},
            ProductCreate,
            dec_hook=decode_hook,
        )  # fmt: skip
        product = await catalog.create_product(self.state.pool, data, actor="campaign-script")
        self.products[code] = product.id
        return f"Product created; code {code}, price {number(product.current_price)}, stock {product.stock}"

    async def get_product_info(self, code: str) -> str:
        product = await catalog.get_product(self.state.pool, self._product(code))
        return f"Product {code} info; price {number(product.current_price)}, stock {product.stock}"

    async def create_order(self, code: str, quantity_text: str) -> str:
        quantity = _integer("QUANTITY", quantity_text, least=1)
        item = {"product_id": str(self._product(code)), "quantity": quantity}
        request = msgspec.convert(
            {"customer_id": "campaign-script", "items": [item], "currency": CURRENCY,
             "delivery_address": {"city": "Istanbul", "country": "TR"}},
            QuoteRequest,
            dec_hook=decode_hook,
        )  # fmt: skip
        state = self.state
        priced = await state.quotes.quote(request, _CALLER)
        await orders.place_order(
            state.pool,
            state.redis,
            state.quote_store,
            state.purchases,
            OrderCreate(quote_id=priced.quote_id),
            principal=_CALLER,
            actor="campaign-script",
            idempotency_key=uuid.uuid4().hex,
            now=utcnow(),
        )
        return f"Order created; product {code}, quantity {quantity}"

    async def create_campaign(self, name: str, code: str, duration: str, limit: str, target: str) -> str:
        data = CampaignCreate(
            name=name,
            product_id=self._product(code),
            duration_hours=_integer("DURATION", duration, least=1),
            price_manipulation_limit=_decimal("LIMIT", limit),
            target_sales_count=_integer("TARGET", target, least=1),
        )
        campaign = await self.campaigns.create(data, actor="campaign-script")
        return (
            f"Campaign created; name {name}, product {code}, duration {campaign.duration_hours}, "
            f"limit {number(campaign.price_manipulation_limit)}, target sales count {campaign.target_sales}"
        )

    async def get_campaign_info(self, name: str) -> str:
        c = await self.campaigns.get(name)
        average = "-" if c.average_item_price is None else number(c.average_item_price)
        return (
            f"Campaign {name} info; Status {c.status.capitalize()}, Target Sales {c.target_sales}, "
            f"Total Sales {c.total_sales}, Turnover {number(c.turnover)}, Average Item Price {average}"
        )

    async def increase_time(self, hours: str) -> str:
        step = timedelta(hours=_integer("HOURS", hours, least=1, most=MAX_HOURS))
        if self.clock.now > _LAST - step:
            raise ScriptError(f"the simulated clock cannot pass {_LAST:%Y-%m-%d}")
        self.clock.now += step
        await self.campaigns.tick()
        return f"Time is {self.clock.shown()}"


async def run_script(settings: Settings, lines: Iterable[str], emit: Callable[[str], None]) -> None:
    """Replay `lines` on scratch databases of `settings`' servers; `emit` each output line."""
    from quote_service.app import create_app  # the application's modules load only for this command

    database, redis = settings.database_url, settings.redis_url
    assert database is not None, "cli.common.stores sets both URLs"
    assert redis is not None, "cli.common.stores sets both URLs"
    clock = SimulatedClock()
    async with (
        scratch_redis(redis, cluster=settings.redis_cluster_mode) as redis_url,
        scratch_database(database, "qs_campaign_script") as database_url,
    ):
        scratch = msgspec.structs.replace(
            settings,
            database_url=database_url,
            redis_url=redis_url,
            log_level="WARNING",
            campaign_scheduler_interval=3600.0,  # ticks happen on increase_time only
            db_pool_min_size=1,
            db_pool_max_size=4,
        )
        app = create_app(scratch, clock=clock)
        async with app.lifespan():
            if not app.state.startup.started:  # a served worker would wait for its stores; a command stops
                raise CommandError(f"the service could not start on the scratch databases: {app.state.startup.error}")
            replay = Replay(app.state, clock)
            for text in lines:
                output = await replay.line(text)
                if output is not None:
                    emit(output)
