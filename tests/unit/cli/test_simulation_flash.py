"""simulate's flash shelf (quote_service/cli/simulation_flash.py): half of each item is left for
people, whatever simulate is buying while it reads the sales."""

from __future__ import annotations

from typing import Any

from quote_service.cli.simulation_flash import FlashShelf


def sale(remaining: int, allocated: int = 20) -> list[dict[str, Any]]:
    item = {"product_id": "p1", "allocated_stock": allocated, "remaining_stock": remaining}
    return [{"id": "s1", "items": [item]}]


def test_half_of_each_item_is_left_and_other_products_are_free() -> None:
    shelf = FlashShelf()
    shelf.read(sale(12), shelf.ask())
    assert shelf.spare("p1", 2)
    assert not shelf.spare("p1", 3)  # 12 left, 10 of them kept
    assert shelf.spare("not-on-sale", 99)
    shelf.read(sale(10), shelf.ask())
    assert shelf.buyable() == []
    shelf.read(sale(8, allocated=13), shelf.ask())  # half of 13, rounded up: 7 kept
    assert shelf.buyable() == [("s1", "p1")]
    assert not shelf.spare("p1", 2)


def test_units_being_bought_count_until_the_sales_show_them() -> None:
    shelf = FlashShelf()
    shelf.read(sale(14), shelf.ask())
    with shelf.take({"p1": 2, "not-on-sale": 5}):
        assert shelf.spare("p1", 2)
        assert not shelf.spare("p1", 3)
        asked = shelf.ask()  # the sales are read while those 2 are being bought
    assert not shelf.spare("p1", 3)  # answered, but the last reading does not show them yet
    with shelf.take({"p1": 1}):
        shelf.read(sale(14), asked)  # the reading did not show the 2 yet, nor this 1 begun since
        assert shelf.spare("p1", 1)
        assert not shelf.spare("p1", 2)
    shelf.read(sale(11), shelf.ask())  # now it shows all three
    assert shelf.spare("p1", 1)
    assert not shelf.spare("p1", 2)
