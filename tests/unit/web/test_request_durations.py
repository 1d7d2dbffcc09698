"""The request-duration histogram's children (web/middleware.py): bounded whatever methods clients send."""

from __future__ import annotations

from quote_service.observability.metrics import REQUEST_DURATION
from quote_service.web import middleware


def series() -> set[tuple[str, ...]]:
    """The histogram's label sets (prometheus_client keeps one child each)."""
    return set(REQUEST_DURATION._metrics)


def test_made_up_methods_share_one_child_and_add_no_entry_each() -> None:
    before = len(middleware._DURATIONS)
    children = {id(middleware.request_duration(f"BREW{n}", "unmatched", 405)) for n in range(500)}
    assert len(children) == 1
    assert len(middleware._DURATIONS) <= before + 1
    assert ("OTHER", "unmatched", "405") in series()
    assert not any(labels[0].startswith("BREW") for labels in series())


def test_http_methods_keep_their_names() -> None:
    for method in ("GET", "POST", "PATCH", "DELETE"):
        child = middleware.request_duration(method, "/api/v1/quote", 200)
        assert middleware.request_duration(method, "/api/v1/quote", 200) is child
        assert (method, "/api/v1/quote", "200") in series()
