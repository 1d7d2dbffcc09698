"""The reference echo (loadtests/reference_app.py) is what bench.py and scale.py divide the quote's
throughput and CPU by: it must answer each body they send as an echo, 200, not an error. Until
2026-11-29 it answered the simple body (the cost budget's one ad-hoc line, `"unit_price": 25.50`) 400,
Litestar refusing a JSON number for a decimal field, so a simple-body ratio compared the quote with
an error path; bench.py now stops when the echo answers an error."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtests"))

import reference_app  # noqa: E402 - a load-test script, imported as the benchmarks run it
import workloads  # noqa: E402

# The echo's handlers keep the signatures every echo figure in BENCHMARKS.md was measured with; Litestar
# 2.x warns that their inferred body and path parameters are deprecated.
pytestmark = pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning")

IDS = {sku: f"00000000-0000-4000-8000-{k:012d}" for k, sku in enumerate(workloads.DEMO_LOOKUP)}


@pytest.mark.parametrize("kind", ["simple", "readme", "demo"])
def test_the_echo_answers_every_benchmark_body_as_the_service_reads_it(kind: str) -> None:
    body = (workloads.body_template(kind, IDS).replace("%%", "%") % "customer-1").encode()
    sent = msgspec.json.decode(body)
    with TestClient(reference_app.create_app()) as echo:
        answer = echo.post("/api/v1/quote", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    echoed = answer.json()["data"]
    assert echoed["customer_id"] == "customer-1"
    assert [item["product_id"] for item in echoed["items"]] == [item["product_id"] for item in sent["items"]]
    for item, sent_item in zip(echoed["items"], sent["items"], strict=True):
        if "unit_price" in sent_item:  # a JSON number read as the decimal it writes, as the service reads it
            assert item["unit_price"] == str(sent_item["unit_price"])


def test_the_echo_still_refuses_what_the_service_refuses() -> None:
    """The service's own decimal rule, not a looser one: text Decimal() reads but a request may not send."""
    body = (workloads.body_template("simple", IDS).replace("%%", "%") % "customer-1").replace("25.5", '"1_000"')
    with TestClient(reference_app.create_app()) as echo:
        answer = echo.post("/api/v1/quote", content=body.encode(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text


def test_the_echo_answers_a_flash_purchase_as_bench_flash_sends_it() -> None:
    """bench_flash.py's flood body (flash_purchases.lua's: a product, one unit, a customer), echoed 201."""
    sale_id, product_id = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
    body = f'{{"product_id":"{product_id}","quantity":1,"customer_id":"w-r1-1"}}'.encode()
    with TestClient(reference_app.create_app()) as echo:
        answer = echo.post(
            f"/api/v1/flash-sales/{sale_id}/purchases", content=body, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["data"] == {"product_id": product_id, "quantity": 1, "customer_id": "w-r1-1"} | {
        key: None for key in ("expected_unit_price", "offer_id")
    }
