"""loadtests/corpus.py's normalizer and comparison, as pure functions: what two runs of the same journeys
cannot repeat is rewritten (UUIDs numbered consistently, instants, dates, weeks, timings, secrets, cursors),
and nothing else is: money, numbers, key order and spacing stay as the server wrote them. Recording itself
serves a tree for a minute and more: docs/development.md shows how to run it."""

from __future__ import annotations

import base64
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtests"))

from corpus import Normalizer, compare, layout  # noqa: E402

START = datetime(2026, 11, 27, 22, 40, 5, tzinfo=UTC)
A = "5659d041-3c12-4e96-9840-f325078d1e06"
B = "01a21f28-55ce-70d4-b62a-2cbde7776a4e"


def test_uuids_are_numbered_by_first_appearance_and_kept_across_texts() -> None:
    normalize = Normalizer(START)
    assert normalize(f'{{"id":"{B}","sale":"{A}","again":"{B}"}}') == '{"id":"<id:1>","sale":"<id:2>","again":"<id:1>"}'
    assert normalize(f"/api/v1/flash-sales/{A.upper()}/purchases") == "/api/v1/flash-sales/<id:2>/purchases"


def test_the_runs_instants_dates_and_weeks_are_replaced_and_fixed_ones_kept() -> None:
    normalize = Normalizer(START)
    text = (
        '{"created_at":"2026-11-27T22:41:07.825690Z","valid_until":"2026-11-27T22:56:07Z",'
        '"at":"2026-11-28T01:41:07+03:00","since":"2020-01-01T00:00:00Z","from":"2026-10-29","to":"2026-11-27",'
        '"cycle":"2026-W48"}'
    )
    assert normalize(text) == (
        '{"created_at":"<time>","valid_until":"<time>","at":"<time>","since":"2020-01-01T00:00:00Z",'
        '"from":"<date-29>","to":"<date+0>","cycle":"<week+0>"}'
    )


def test_money_numbers_and_layout_are_untouched() -> None:
    text = (
        '{"success":true,"data":{"subtotal":"1112.83","tax_amount":"9.18", "total_amount":"80.18",'
        '"rate":"2.5","quantity":3,"weight":"0.5","amounts":[25.50,1e3,-0.01],"sku":"DEMO-ELEC-002",'
        '"message":"min_price (196.0000)","csv":"2026,seller,TRY,1,429.60"}}'
    )
    assert Normalizer(START)(text) == text


def test_timings_tokens_and_api_keys_are_replaced() -> None:
    normalize = Normalizer(START)
    text = (
        '{"data":{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl","expires_in":3600,'
        '"key":"qsk_7rbHLQC6T4LXJWM4PUp3No","prefix":"qsk_7rbHLQC6"},"processing_time_ms":11.408}'
    )
    assert normalize(text) == (
        '{"data":{"access_token":"<secret>","expires_in":3600,"key":"<api-key>","prefix":"<api-key>"},'
        '"processing_time_ms":"<ms>"}'
    )


def test_a_cursor_reads_as_the_row_it_names() -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(["orders", ["2026-11-27T22:48:58.43Z", A]]).encode()).decode()
    text = f'{{"items":[{{"id":"{A}"}}],"next_cursor":"{cursor.rstrip("=")}"}}'
    assert (
        Normalizer(START)(text)
        == '{"items":[{"id":"<id:1>"}],"next_cursor":"<cursor:[\\"orders\\", [\\"<time>\\", \\"<id:1>\\"]]>"}'
    )


def test_the_layout_puts_a_member_a_line_and_keeps_every_character() -> None:
    raw = '{"a":"x,{y}","b":[1,2.50,{"c":"\\"q\\""}],"d":{}}'
    lines = layout(raw)
    assert lines[:3] == ["{", '  "a":"x,{y}",', '  "b":[']
    assert "".join(line.lstrip(" ") for line in lines) == raw
    assert layout("date,total\n2026-11-27,1.00\n") == ["date,total", "2026-11-27,1.00"]


def _corpus(path: Path, *amounts: str) -> Path:
    rows = [
        {"n": n, "phase": "default", "step": f"refund/{n}", "method": "POST", "path": "/api/v1/orders/<id:1>/refunds",
         "request": "{}", "status": 201, "headers": {}, "response": f'{{"data":{{"total_refunded":"{amount}"}}}}'}
        for n, amount in enumerate(amounts, 1)
    ]  # fmt: skip
    meta = {"meta": {"tree": "t", "commit": "c", "seed": 1, "phases": ["default"], "seconds": 1}}
    path.write_text("".join(json.dumps(row) + "\n" for row in [*rows, meta]))
    return path


def test_compare_passes_identical_recordings_and_shows_a_changed_amount(tmp_path: Path) -> None:
    before = _corpus(tmp_path / "a.jsonl", "28.12", "56.25")
    out = io.StringIO()
    assert compare(before, _corpus(tmp_path / "b.jsonl", "28.12", "56.25"), shown=5, out=out) == 0
    assert "identical: 2 requests" in out.getvalue()
    out = io.StringIO()
    assert compare(before, _corpus(tmp_path / "c.jsonl", "28.12", "56.24"), shown=5, out=out) == 1
    report = out.getvalue()
    assert "#2 default refund/2" in report
    assert '-    "total_refunded":"56.25"' in report
    assert '+    "total_refunded":"56.24"' in report
    assert "1 of 2 requests differ" in report


def test_compare_fails_a_shorter_or_unfinished_recording(tmp_path: Path) -> None:
    before = _corpus(tmp_path / "a.jsonl", "1.00", "2.00")
    out = io.StringIO()
    assert compare(before, _corpus(tmp_path / "b.jsonl", "1.00"), shown=5, out=out) == 1
    assert "A has 1 more requests" in out.getvalue()
    unfinished = tmp_path / "c.jsonl"
    unfinished.write_text("".join(line + "\n" for line in before.read_text().splitlines()[:-1]))
    out = io.StringIO()
    assert compare(before, unfinished, shown=5, out=out) == 1
    assert "incomplete" in out.getvalue()
