"""An item id the service looks up as it is only where `str(UUID(id))` would spell it the same."""

from __future__ import annotations

import contextlib
import uuid

from hypothesis import given
from hypothesis import strategies as st

from quote_service.checkout_sessions.service import _canonical


def _spelled_as_the_service_spells_it(sent: str) -> bool:
    try:
        return str(uuid.UUID(sent)) == sent
    except ValueError:
        return False


@given(st.uuids(), st.sampled_from(["plain", "upper", "braces", "hex", "urn", "mixed"]))
def test_only_the_service_spelling_of_a_uuid_is_taken_as_it_is(value: uuid.UUID, spelling: str) -> None:
    text = str(value)
    sent = {
        "plain": text,
        "upper": text.upper(),
        "braces": "{" + text + "}",
        "hex": value.hex,
        "urn": value.urn,
        "mixed": text[:9] + text[9:].upper(),
    }[spelling]
    assert _canonical(sent) == _spelled_as_the_service_spells_it(sent)


@given(st.text(min_size=0, max_size=40))
def test_a_string_taken_as_it_is_is_either_the_service_spelling_or_no_uuid(sent: str) -> None:
    if _canonical(sent):
        with contextlib.suppress(ValueError):  # no UUID at all: a product id, as it would be read either way
            assert str(uuid.UUID(sent)) == sent
    elif _spelled_as_the_service_spells_it(sent):
        raise AssertionError(f"{sent!r} is spelled as the service spells ids but is parsed again")
