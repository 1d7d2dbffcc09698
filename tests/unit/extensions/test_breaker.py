"""An extension's circuit breaker (extensions/caller.py): 5 failures in a row open it for 30 s, then one trial."""

from __future__ import annotations

from quote_service.extensions.caller import Breaker


def test_five_failures_in_a_row_open_it_for_30_s_then_one_trial_call_decides() -> None:
    now = [0.0]
    breaker = Breaker(lambda: now[0])
    for _ in range(4):
        assert breaker.allow()
        breaker.failed()
    breaker.succeeded()  # a success in between starts the count again
    for _ in range(5):
        assert breaker.allow()
        breaker.failed()
    assert (breaker.state, breaker.allow()) == ("open", False)
    now[0] = 29.9
    assert not breaker.allow()
    now[0] = 30.0
    assert breaker.state == "half_open"
    assert breaker.allow()  # the one trial call
    assert not breaker.allow()  # no second while it runs
    breaker.failed()  # it failed: open again, for another 30 s
    assert (breaker.state, breaker.allow()) == ("open", False)
    now[0] = 60.0
    assert breaker.allow()
    breaker.succeeded()
    assert (breaker.state, breaker.allow()) == ("closed", True)
