"""The quote route's shortcuts at the HTTP edge give exactly what the general path gives."""

from __future__ import annotations

import msgspec
import pytest
from litestar.exceptions import ValidationException

from quote_service.pricing.quote import QuoteRequest
from quote_service.quotes.controller import QuoteEnvelope, quote_response
from quote_service.validation import decode_hook
from quote_service.web.request import decode_body, decoder_for
from tests.unit.pricing.test_engine_support import item, quote, request

_BODY = (
    '{"customer_id":"c-1","items":[{"product_id":"p","quantity":2,"unit_price":%s}],'
    '"delivery_address":{"city":"İstanbul","country":"TR","latitude":%s,"longitude":28.9784},"currency":"TRY"}'
)


def test_the_answer_around_the_stored_json_equals_the_encoded_envelope() -> None:
    priced = quote(request(item("prod-1", 2, unit_price="25.50"), currency="USD", is_express_delivery=True))
    envelope = QuoteEnvelope(message="Quote calculated successfully", data=priced, processing_time_ms=1.25)

    response = quote_response(msgspec.json.encode(priced), 1.25)

    assert response.content == msgspec.json.encode(envelope)
    assert response.media_type == "application/json"


@pytest.mark.parametrize(
    ("price", "latitude"), [("25.50", "41.0082"), ('"25.50"', "41"), ("25", "4.1e1"), ("2.55e1", "-0.0"), ("1E-7", "0")]
)
def test_a_valid_body_decodes_as_the_general_path_converts_it(price: str, latitude: str) -> None:
    body = (_BODY % (price, latitude)).encode()
    general = msgspec.convert(decode_body(body), QuoteRequest, strict=False, dec_hook=decode_hook)  # as Litestar would

    direct = decode_body(body, decoder_for(QuoteRequest))

    assert repr(direct) == repr(general)


@pytest.mark.parametrize("quantity", ["2.0", '"2"', "0", "true"])
def test_a_quantity_that_is_not_a_positive_json_integer_is_refused_naming_it(quantity: str) -> None:
    body = _BODY.replace('"quantity":2', f'"quantity":{quantity}') % ("1", "0")

    with pytest.raises(ValidationException) as refused:
        decode_body(body.encode(), decoder_for(QuoteRequest))

    assert refused.value.extra == [
        {"message": refused.value.extra[0]["message"], "key": "items[0].quantity", "source": "body"}
    ]
