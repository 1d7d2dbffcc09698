"""Reading forwarding headers: the hops of `Forwarded` and `X-Forwarded-*`, client side first."""

from __future__ import annotations

from quote_service.web.proxy import Hop, forwarded_hops, x_forwarded_hops


def test_forwarded_elements_with_ports_brackets_quotes_and_case() -> None:
    value = 'for="[2001:db8:cafe::17]:4711";Proto=HTTPS, for=192.0.2.60:80;proto=http;by=203.0.113.43, for=unknown'
    assert forwarded_hops(value) == [
        Hop("2001:db8:cafe::17", "https"),
        Hop("192.0.2.60", "http"),
        Hop(None, None),
    ]


def test_forwarded_without_for_or_with_an_unknown_scheme() -> None:
    assert forwarded_hops("proto=https") == [Hop(None, "https")]
    assert forwarded_hops("for=_hidden;proto=gopher") == [Hop(None, None)]


def test_x_forwarded_lists_align_when_they_have_the_same_length() -> None:
    assert x_forwarded_hops("203.0.113.9, 10.0.0.2", "https, http") == (
        [Hop("203.0.113.9", "https"), Hop("10.0.0.2", "http")],
        "http",
    )


def test_x_forwarded_proto_alone_or_misaligned_falls_back_to_its_last_entry() -> None:
    assert x_forwarded_hops(None, "https") == ([], "https")
    assert x_forwarded_hops("203.0.113.9, 10.0.0.2", "https") == (
        [Hop("203.0.113.9", None), Hop("10.0.0.2", None)],
        "https",
    )
    assert x_forwarded_hops("not-an-ip", None) == ([Hop(None, None)], None)
