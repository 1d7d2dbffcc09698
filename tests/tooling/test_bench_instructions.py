"""loadtests/bench_instructions.py: what it reads from callgrind's files, what it reports, and
what it says when valgrind is missing (the counted run itself is a benchmark, run by hand)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtests"))

from bench_instructions import (  # noqa: E402
    PARTS,
    Measured,
    common_fields,
    inclusive,
    part_counts,
    parts_comparison,
    parts_table,
    report,
    totals,
)

_DUMP = (
    "version: 1\ncreator: callgrind-3.19.0\ndesc: Trigger: Client Request: measured\n"
    "events: Ir\nsummary: 0\ntotals: 905030123\n"
)

_ANNOTATED = """\
--------------------------------------------------------------------------------
Ir                      file:function
--------------------------------------------------------------------------------
1,812,691,400 (631.7%)  ceval.c:_PyEval_EvalFrameDefault'2 [/usr/lib/libpython3.11.so]
  273,647,000 (30.24%)  ???:Encoder_encode [/x/_core.so]
   97,045,000 (10.72%)  ???:ZstdCompressor_compress [/x/zstd.so]
   41,000,000 ( 4.53%)  ???:json_encode_decimal'2 [/x/_core.so]
   58,901,000 ( 6.51%)  ???:json_encode_decimal [/x/_core.so]
  122,784,000 (13.57%)  ???:JSONEncoder_encode [/x/_core.so]
    1,000,000 ( 0.11%)  ???:JSONEncoder_encode_into [/x/_core.so]
"""


def test_the_count_is_read_from_the_totals_line() -> None:
    assert totals(_DUMP) == 905030123
    assert totals("events: Ir\nsummary: 1234\n") == 1234
    with pytest.raises(ValueError, match="not a callgrind dump"):
        totals("events: Ir\n")


def test_a_function_s_inclusive_count_is_its_own_entry_not_a_longer_name_s() -> None:
    assert inclusive(_ANNOTATED, "Encoder_encode") == 273_647_000
    assert inclusive(_ANNOTATED, "JSONEncoder_encode") == 122_784_000  # not ..._encode_into
    assert inclusive(_ANNOTATED, "json_encode_decimal") == 58_901_000  # the outermost of its entries
    assert inclusive(_ANNOTATED, "gc_collect_main") is None


def test_the_parts_table_gives_instructions_a_quote_and_shares_of_the_whole() -> None:
    table = parts_table(_ANNOTATED, 905_030_000, 1000)
    assert "msgpack (msgspec)" in table
    engine = next(line for line in table.splitlines() if line.startswith("msgpack"))
    assert engine.split()[-2:] == ["273,647", "30.2%"]
    assert "garbage collector" not in table  # no entry, no row
    named = {what for what, _ in PARTS}
    assert named >= {"JSON out (msgspec: the quote, its log row)", "zstd frame of the stored quote"}


def test_each_part_is_compared_on_the_medians_of_its_runs() -> None:
    """Per part: each checkout's median over its runs, a quote each, this ÷ that, and how far each
    checkout's runs spread; a part neither run has is left out."""
    found = part_counts(_ANNOTATED)
    assert found["msgpack (msgspec)"] == 273_647_000
    assert found["zstd frame of the stored quote"] == 97_045_000
    assert "garbage collector" not in found
    this = [{"msgpack (msgspec)": 234_000_000}, {"msgpack (msgspec)": 234_500_000},
            {"msgpack (msgspec)": 233_800_000}]  # fmt: skip
    that = [{"msgpack (msgspec)": 270_000_000, "garbage collector": 5_000_000},
            {"msgpack (msgspec)": 260_000_000}, {"msgpack (msgspec)": 292_000_000}]  # fmt: skip
    table = parts_comparison({"this": this, "base": that}, 1000)
    engine = next(line for line in table.splitlines() if "msgpack" in line)
    assert "234,000 |    270,000 | 0.867" in engine  # medians 234.0 K and 270.0 K a quote
    assert "(runs within 0.3% | 12.3%)" in engine
    assert "garbage collector" not in table  # only one side has it
    assert table.splitlines()[0].startswith("part (inclusive), median of runs: this | base")


def test_a_run_takes_off_the_idle_rate_over_its_window() -> None:
    """1.1 G counted in a 40 s window; 100 M while idle for 20 s: ~200 M of the window was not the quotes'."""
    measured = Measured(1000, 1_100_000_000, 40.0, 100_000_000, 20.0, Path("dump"))
    assert measured.raw_per_quote() == 1_100_000
    assert round(measured.idle_share(), 4) == round(2 / 11, 4)
    assert round(measured.per_quote()) == 900_000
    assert Measured(1000, 1_100_000_000, 40.0, 0, 20.0, Path("dump")).idle_share() == 0
    assert Measured(1000, 1_100_000_000, 40.0, 5, 0.0, Path("dump")).idle_share() == 0


def test_the_comparison_is_the_geometric_mean_of_the_pairs() -> None:
    text = report("simple", {"this": [990.0, 1010.0], "that": [1000.0, 1000.0]}, 500)
    assert text.startswith("simple: 500 quotes a run")
    assert "this: 1,000 (runs 990, 1,010)" in text
    assert "this ÷ that: 0.9999 (pairs 0.9900, 1.0100)" in text


def test_without_valgrind_it_says_what_to_install_and_touches_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty PATH: no valgrind, no compiler, no redis-cli
    finished = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "loadtests" / "bench_instructions.py"), "--quotes", "10"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert finished.returncode == 1
    assert "needs valgrind" in finished.stderr
    assert "apt-get install valgrind" in finished.stderr


def test_common_fields_leaves_each_tree_the_request_fields_all_know(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --common-fields: an older tree (8e7ec84) knows no customer_group; the newer tree's bodies then leave it out too.
    newer, older = tmp_path / "setup-newer.json", tmp_path / "setup-older.json"
    newer.write_text(json.dumps({"key": "k1", "ids": {"A": "1"}, "fields": ["items", "customer_group", "currency"]}))
    older.write_text(json.dumps({"key": "k2", "fields": ["currency", "items"]}))
    common_fields([newer, older])
    assert json.loads(newer.read_text()) == {"key": "k1", "ids": {"A": "1"}, "fields": ["currency", "items"]}
    assert json.loads(older.read_text()) == {"key": "k2", "fields": ["currency", "items"]}
    said = capsys.readouterr().out
    assert "setup-newer.json: its bodies leave out customer_group" in said
    assert "setup-older.json" not in said
