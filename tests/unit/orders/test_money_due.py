"""Money an edit makes due, settled against reversals (`refund_math.against_due`): examples, and a property
over random lives of an order (edits, payments, refunds, a cancel) kept in a small model of its money.

The model holds what a real order holds: what was charged at checkout, what payments paid, what came back,
what is still due, and what the order's lines and fees are worth now. Whatever happens, the customer never
gets back more than it paid, nothing due is ever negative, and what it paid less what came back plus what it
owes is what the order is worth.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from quote_service.orders.refund_math import Settled, against_due

D = Decimal
ZERO = D("0.00")


def test_a_reversal_cancels_what_is_due_first_and_gives_back_only_the_rest() -> None:
    assert against_due(D("60.18"), D("60.18")) == Settled(back=ZERO, reduced=D("60.18"))
    assert against_due(D("60.18"), D("30.09")) == Settled(back=D("30.09"), reduced=D("30.09"))
    assert against_due(D("30.09"), D("60.18")) == Settled(back=ZERO, reduced=D("30.09"))
    assert against_due(D("30.09"), ZERO) == Settled(back=D("30.09"), reduced=ZERO)


def test_closing_an_order_cancels_everything_still_due() -> None:
    assert against_due(D("90.27"), D("60.18"), closing=True) == Settled(back=D("30.09"), reduced=D("60.18"))
    # An order that owes more than it is worth (written before reversals netted it) owes nothing once closed.
    assert against_due(D("10.00"), D("25.00"), closing=True) == Settled(back=ZERO, reduced=D("25.00"))


cents = st.integers(1, 50_000).map(lambda n: D(n).scaleb(-2))
percent = st.integers(0, 100)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("edit"), cents),  # an edit's positive difference
        st.tuples(st.just("give back"), percent),  # a refund, or an edit's negative difference: this % of the worth
        st.tuples(st.just("pay"), percent),  # a payment of this % of what is due
        st.tuples(st.just("cancel"), st.just(0)),
    ),
    max_size=12,
)


def share(amount: Decimal, percent: int) -> Decimal:
    return (amount * percent / 100).quantize(D("0.01"))


@given(charged=cents, steps=steps)
def test_whatever_happens_no_more_comes_back_than_was_paid(charged: Decimal, steps: list[tuple[str, Decimal]]) -> None:
    worth, paid, back, due = charged, ZERO, ZERO, ZERO
    for what, amount in steps:
        if what == "edit":
            worth, due = worth + amount, due + amount
        elif what == "pay":
            paying = share(due, int(amount))
            paid, due = paid + paying, due - paying
        else:
            closing = what == "cancel"
            taken = worth if closing else share(worth, int(amount))
            settled = against_due(taken, due, closing=closing)
            worth, back, due = worth - taken, back + settled.back, due - settled.reduced
        assert due >= 0
        assert back <= charged + paid
        assert charged + paid - back + due == worth
        if what == "cancel":
            assert (back, due) == (charged + paid, ZERO)
            break
