"""simulate's flash-sale shelf: the simulated shoppers buy at most half of each flash item's units.

The rest is left for the people at the store: a newcomer who runs `simulate` and then opens the
store still finds the demo sale's products to buy (its 20 units each sold out in minutes
otherwise, through "Buy now" and through orders, which take their flash units from the sale too).
The sales are read once a second; what simulate has begun to buy since it asked for them, and
what it was still buying then, counts against the shelf, so concurrent shoppers never take more.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

LEFT_FOR_PEOPLE = 0.5
"""The share of each flash item's allocated units that simulate never buys."""


@dataclass(frozen=True)
class Asked:
    """What simulate had begun to buy, and was still buying, when it asked for the sales."""

    started: Counter[str]
    buying: Counter[str]


@dataclass
class FlashShelf:
    offers: list[tuple[str, str]] = field(default_factory=list)
    """(sale id, product id) of each item of an active sale, as last read."""
    room: dict[str, int] = field(default_factory=dict)
    """Product id -> the units simulate may buy as of that reading (a product is in one active sale at most)."""
    asked: Asked = field(default_factory=lambda: Asked(Counter(), Counter()))
    started: Counter[str] = field(default_factory=Counter)
    """Units of each sale product simulate has begun to buy, ever."""
    buying: Counter[str] = field(default_factory=Counter)
    """Units of each sale product in purchases or orders not answered yet."""

    def ask(self) -> Asked:
        """Call as the sales are asked for; give the answer and this to `read`."""
        return Asked(Counter(self.started), Counter(self.buying))

    def read(self, sales: Iterable[dict[str, Any]], asked: Asked) -> None:
        """The active sales as the API listed them (items with their live `remaining_stock`)."""
        self.offers, self.room, self.asked = [], {}, asked
        for sale in sales:
            for item in sale["items"]:
                kept = math.ceil(item["allocated_stock"] * LEFT_FOR_PEOPLE)
                # Units being bought as the sales were read may not show in remaining_stock yet.
                room = item["remaining_stock"] - kept - asked.buying[item["product_id"]]
                self.room[item["product_id"]] = room
                self.offers.append((sale["id"], item["product_id"]))

    def spare(self, product_id: str, units: int) -> bool:
        """Whether simulate may buy `units` more of the product (any number of one in no active sale)."""
        room = self.room.get(product_id)
        if room is None:
            return True
        since = self.started[product_id] - self.asked.started[product_id]
        return room - since >= units

    def buyable(self) -> list[tuple[str, str]]:
        """(sale id, product id) of each item simulate may buy one more unit of."""
        return [(sale, product) for sale, product in self.offers if self.spare(product, 1)]

    @contextlib.contextmanager
    def take(self, basket: dict[str, int]) -> Iterator[None]:
        """Count the basket's units of sale products as being bought until the block ends."""
        units = Counter({product: n for product, n in basket.items() if product in self.room})
        self.started.update(units)
        self.buying.update(units)
        try:
            yield
        finally:
            self.buying.subtract(units)
