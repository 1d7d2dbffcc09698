"""An ECB-style rates file (fx/ecb_file.py): long or wide, EUR → each currency from each date, and every
bad row named by its number."""

from __future__ import annotations

from datetime import UTC, datetime

from quote_service.fx.ecb_file import read

JAN2 = datetime(2026, 1, 2, tzinfo=UTC)
JAN3 = datetime(2026, 1, 3, tzinfo=UTC)


def test_long_rows_with_or_without_a_header_are_eur_rates_from_their_date() -> None:
    for text in (
        "date,currency,rate\n2026-01-02,TRY,37.5\n2026-01-02,usd,1.0850\n",
        "2026-01-02,TRY,37.5\n2026-01-02,usd,1.0850\n",
    ):
        found = read(text.splitlines(keepends=True))
        assert found.problems == []
        assert found.rates == [("EUR", "TRY", "37.5", "ecb", JAN2), ("EUR", "USD", "1.085", "ecb", JAN2)]


def test_the_ecb_history_file_is_read_column_by_column_skipping_missing_cells() -> None:
    text = "Date,USD,JPY,TRY,\n2026-01-03,1.09,N/A,37.6,\n\n2026-01-02,1.0850,155.66,,\n"
    found = read(text.splitlines(keepends=True))
    assert found.problems == []
    assert found.rates == [
        ("EUR", "USD", "1.09", "ecb", JAN3),
        ("EUR", "TRY", "37.6", "ecb", JAN3),
        ("EUR", "USD", "1.085", "ecb", JAN2),
        ("EUR", "JPY", "155.66", "ecb", JAN2),
    ]


def test_every_bad_row_is_named_by_its_number() -> None:
    text = (
        "date,currency,rate\n"
        "2026-01-02,TRY,37.5\n"
        "2026-13-02,TRY,37.5\n"
        "2026-01-02,XYZ,1\n"
        "2026-01-02,USD,-1\n"
        "2026-01-02,JPY,0.0000000000001\n"
        "2026-01-02,KWD,abc\n"
        "2026-01-02,EUR,1\n"
        "2026-01-02,TRY,37.6\n"
        "2026-01-02,TRY\n"
    )
    found = read(text.splitlines(keepends=True))
    assert [p.split(":")[0] for p in found.problems] == [f"row {n}" for n in (3, 4, 5, 6, 7, 8, 9, 10)]
    assert "2026-13-02" in found.problems[0]
    assert "given already in row 2" in found.problems[6]
    assert "expected 3 fields" in found.problems[7]


def test_a_wide_row_of_another_width_is_named() -> None:
    found = read(["Date,USD,JPY\n", "2026-01-02,1.08\n", "2026-01-02,1.08,155,1\n"])
    assert [p.split(":")[0] for p in found.problems] == ["row 2", "row 3"]
