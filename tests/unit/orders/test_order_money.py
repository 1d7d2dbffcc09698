"""The order's money and its calculator (orders/money.py): an edit's difference is the edited basket's total
less what the order still charges, and each seller's entry its new parts less its old ones."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from quote_service.orders.money import (
    NOTHING,
    Change,
    Fees,
    LineMoney,
    OnceFee,
    OrderMoney,
    change,
    ledger_entries,
    tax_counts,
    tax_rows,
)
from quote_service.pricing.once_fees import kept_once_fees

D = Decimal


def difference(before: Sequence[LineMoney], fees_before: Fees, after: Sequence[LineMoney], fees_after: Fees) -> Change:
    return change(OrderMoney(before, fees_before), OrderMoney(after, fees_after))


def customer_total(lines: Sequence[LineMoney], fees: Fees) -> Decimal:
    return OrderMoney(lines, fees).customer_total


def line(seller: str, amount: str, discount: str, tax: str, commission: str, *, inclusive: bool = False) -> LineMoney:
    parts = {"amount": D(amount), "discount": D(discount), "tax": D(tax), "category": D(commission)}
    return LineMoney(seller, parts, inclusive)


def test_the_difference_is_the_new_total_less_what_is_left() -> None:
    before = [line("a", "51.00", "5.10", "8.26", "6.89")]
    after = [line("a", "76.50", "7.65", "12.39", "10.33"), line("b", "12.00", "0.00", "2.16", "1.80")]
    fees_before = Fees(delivery=D("10.00"), small_basket=D("5.00"))
    fees_after = Fees(delivery=D("10.00"))
    money = difference(before, fees_before, after, fees_after)
    assert money.difference_due == customer_total(after, fees_after) - customer_total(before, fees_before)
    assert money.difference_due == D("105.40") - D("69.16")
    assert money.tax_delta == D("6.29")
    assert money.commission_delta == D("5.24")
    assert [(s.seller_id, s.goods, s.tax, s.commission) for s in money.sellers] == [
        ("a", D("22.95"), D("4.13"), D("3.44")),
        ("b", D("12.00"), D("2.16"), D("1.80")),
    ]
    # The sellers' parts and the order's own fees make the whole difference.
    assert sum((s.difference_due for s in money.sellers), D(0)) - D("5.00") == money.difference_due


def test_a_tax_inclusive_lines_tax_is_in_its_goods_not_added() -> None:
    gross = line("a", "118.00", "0.00", "18.00", "15.00", inclusive=True)
    assert gross.goods == D("100.00")
    assert customer_total([gross], Fees()) == D("118.00")


def test_shipment_fees_are_their_sellers() -> None:
    before = [line("a", "10.00", "0", "1.80", "1.50")]
    money = difference(
        before, Fees(shipments={"a": (D("5.00"), D("0.50"))}), before, Fees(shipments={"a": (D("0"), D("0"))})
    )
    assert money.difference_due == D("-5.00")
    assert [(s.delivery, s.commission) for s in money.sellers] == [(D("-5.00"), D("-0.50"))]


def once(per: str, seller: str, name: str, amount: str) -> OnceFee:
    return OnceFee(per, seller, name, None, D(amount), D(amount) * D("0.2"))


def test_fees_charged_once_stay_as_charged_until_a_refund_would_reverse_them() -> None:
    # The order: seller a's pick fee, seller b's, the platform fee charged to a.
    before = [once("shipment", "a", "pick_fee", "0.50"), once("shipment", "b", "pick_fee", "0.50"),
              once("order", "a", "platform_fee", "1.00")]  # fmt: skip
    # The edited basket has no unit of a's: priced again, it charges the platform fee to b, and c is new.
    after = [once("shipment", "b", "pick_fee", "0.50"), once("order", "b", "platform_fee", "1.00"),
             once("shipment", "c", "pick_fee", "0.50")]  # fmt: skip
    kept = kept_once_fees(after, before, {"b", "c"})
    assert [(f.per, f.seller_id, f.name) for f in kept] == [
        ("shipment", "b", "pick_fee"),
        ("order", "a", "platform_fee"),  # still a's: the order has units left
        ("shipment", "c", "pick_fee"),  # c's shipment is new: charged
    ]  # a's pick fee: reversed with a's last unit
    money = difference([], Fees(once=before), [], Fees(once=kept))
    assert {s.seller_id: (s.commission, s.fees) for s in money.sellers} == {
        "a": (D("-0.50"), {"pick_fee": D("-0.50"), "platform_fee": D("0.00")}),
        "b": (D("0.00"), {"pick_fee": D("0.00")}),
        "c": (D("0.50"), {"pick_fee": D("0.50")}),
    }
    assert money.commission_delta == D("0.00")


def test_a_lines_named_fees_are_in_its_commission_and_its_sellers_entry() -> None:
    parts = {"amount": D("100.00"), "category": D("5.00"), "fee:payment_fee": D("4.72"), "fee:listing_fee": D("0.30")}
    before = [LineMoney("a", parts)]
    after = [LineMoney("a", {**parts, "fee:payment_fee": D("2.36")})]
    assert before[0].commission == D("10.02")
    money = difference(before, Fees(), after, Fees())
    assert money.commission_delta == D("-2.36")
    assert money.sellers[0].fees == {"payment_fee": D("-2.36"), "listing_fee": D("0.00")}


def test_a_change_and_its_reverse_net_every_seller_to_zero() -> None:
    record = OrderMoney(
        [line("a", "100.00", "10.00", "18.00", "9.00"), line("b", "50.00", "0", "9.00", "5.00")],
        Fees(shipments={"a": (D("5.00"), D("0.50")), "b": (D("0"), D("0"))}, once=[once("order", "a", "pf", "1.00")]),
    )
    placed, returned = change(NOTHING, record), change(record, NOTHING)
    for made, back in zip(placed.sellers, returned.sellers, strict=True):
        assert made.seller_id == back.seller_id
        assert made.payout + back.payout == 0
        kept = made.goods + made.tax + made.platform - made.commission - made.commission_tax + made.delivery
        assert made.payout == kept
    assert placed.difference_due == -returned.difference_due == D("172.00")


def test_the_ledger_keeps_an_orders_sellers_with_lines_a_refunds_every_one_an_edits_those_it_moved() -> None:
    record = OrderMoney([line("a", "10.00", "0", "0", "1.00")], Fees(once=[once("order", "b", "pf", "1.00")]))
    assert [s.seller_id for s in ledger_entries(change(NOTHING, record), "order")] == ["a"]
    assert [s.seller_id for s in ledger_entries(change(record, NOTHING), "refund")] == ["a", "b"]
    assert [s.seller_id for s in ledger_entries(change(record, record), "edit")] == []


def test_an_edit_collects_the_codes_that_grew_and_gives_back_those_that_shrank() -> None:
    was = LineMoney("a", {"amount": D("100"), "tax": D("20"), "tax:KDV": D("20")}, kept=True)
    now = LineMoney("a", {"amount": D("100"), "tax": D("20"), "tax:KDV": D("12"), "tax:OTV": D("8")}, kept=True)
    [entry] = change(OrderMoney([was]), OrderMoney([now])).sellers
    assert tax_counts(entry, "edit") == (D("8"), D("8"))
    assert tax_rows(entry, "edit") == [("KDV", True, False, D(0), D("8")), ("OTV", True, False, D("8"), D(0))]
    [placed] = change(NOTHING, OrderMoney([now])).sellers
    assert tax_counts(placed, "order") == (D("20"), D(0))
    assert tax_rows(placed, "order") == [("KDV", True, False, D("12"), D(0)), ("OTV", True, False, D("8"), D(0))]
