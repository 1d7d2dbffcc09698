"""A refund of an order with shipments gives each shipment's fee back once (docs/shipping.md)."""

from __future__ import annotations

from decimal import Decimal

from quote_service.orders.refund_math import shipment_fee_refund

D = Decimal
SHIPMENTS = [(0, D("10.00"), D("1.00"), False), (1, D("6.40"), D("0.64"), False), (2, D("3.00"), D("0.30"), True)]


def test_a_named_shipment_gives_its_fee_and_logistics_commission_back() -> None:
    fees, given = shipment_fee_refund(D("5.00"), SHIPMENTS, {1}, include=False, already_refunded=False)

    assert given == [1]
    assert fees == {"delivery_fee": D("6.40"), "small_basket_fee": D(0), "logistics_commission": D("0.64")}


def test_the_fees_give_back_every_shipment_not_given_back_yet_and_the_small_basket_fee_once() -> None:
    fees, given = shipment_fee_refund(D("5.00"), SHIPMENTS, set(), include=True, already_refunded=False)
    assert given == [0, 1]
    assert fees == {"delivery_fee": D("16.40"), "small_basket_fee": D("5.00"), "logistics_commission": D("1.64")}

    again, _ = shipment_fee_refund(D("5.00"), SHIPMENTS, set(), include=True, already_refunded=True)
    assert again["small_basket_fee"] == 0


def test_a_shipment_given_back_already_is_never_given_twice() -> None:
    fees, given = shipment_fee_refund(D("0"), SHIPMENTS, {2}, include=False, already_refunded=False)

    assert given == []
    assert fees["delivery_fee"] == 0
