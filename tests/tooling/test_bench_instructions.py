"""loadtests/bench_instructions.py: what it reads from callgrind's files, what it reports, and
what it says when valgrind is missing (the counted run itself is a benchmark, run by hand)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtests"))

from bench_instructions import (  # noqa: E402
    CACHE_MODEL,
    LINES_MAX,
    PARTS,
    Measured,
    Steps,
    _bodies,
    _lines,
    _per_seller,
    caches_report,
    common_fields,
    events,
    inclusive,
    part_counts,
    parts_comparison,
    parts_table,
    report,
    steps_counted,
    steps_table,
    totals,
)
from workloads import configure_marketplace  # noqa: E402

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


_CACHE_DUMP = (
    "version: 1\ncreator: callgrind-3.19.0\nevents: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\n"
    "summary: 1 2 3 4 5 6 7 8 9\ntotals: 1100000000 300000000 170000000 8000000 5000000 2000000 800000 1300000 600000\n"
)


def test_with_the_cache_model_each_event_is_read_by_its_name() -> None:
    found = events(_CACHE_DUMP)
    assert found["Ir"] == 1_100_000_000
    assert (found["I1mr"], found["D1mr"], found["D1mw"]) == (8_000_000, 5_000_000, 2_000_000)
    assert (found["ILmr"], found["DLmr"], found["DLmw"]) == (800_000, 1_300_000, 600_000)
    assert events(_DUMP) == {"Ir": 905030123}  # the plain count: the instructions alone
    with pytest.raises(ValueError, match="not a callgrind dump"):
        events("totals: 12\n")
    # one fixed model on every host, not valgrind's reading of the VM's CPUID
    assert "--cache-sim=yes" in CACHE_MODEL
    assert any(option.startswith("--LL=524288,") for option in CACHE_MODEL)


def test_misses_a_quote_lose_the_idle_share_as_the_instructions_do() -> None:
    """1.1 G instructions in a 40 s window, 2/11 of it idle (as above): 900 K a quote; L1 misses
    15 M and last-level 2.7 M in the window give 12,273 and 2,209 a quote, and the cycle estimate
    is Ir + 10 x L1 + 100 x LL."""
    measured = Measured(1000, 1_100_000_000, 40.0, 100_000_000, 20.0, Path("dump"), events(_CACHE_DUMP))
    caches = measured.caches_per_quote()
    assert round(caches["L1 misses"]) == 12_273
    assert round(caches["LL misses"]) == 2_209
    assert round(caches["cycle estimate"]) == round(
        900_000 + 10 * 15_000_000 * 9 / 11_000 + 100 * 2_700_000 * 9 / 11_000
    )
    assert Measured(1000, 1, 1.0, 0, 1.0, Path("dump")).caches_per_quote() == {}  # counted without the model


def test_the_cache_report_gives_medians_and_this_over_that() -> None:
    run = {"L1 misses": 100.0, "LL misses": 10.0, "cycle estimate": 2000.0}
    text = caches_report("readme", {
        "this": [run, {**run, "LL misses": 12.0}, {**run, "LL misses": 14.0}],
        "that": [{**run, "LL misses": 10.0, "cycle estimate": 2500.0}] * 3,
    })  # fmt: skip
    assert text.splitlines()[0].startswith("readme: simulated caches a quote")
    assert "LL misses       | this: 12 | that: 10 | ÷ 1.200" in text
    assert "cycle estimate  | this: 2,000 | that: 2,500 | ÷ 0.800" in text


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


def test_a_lines_workload_names_its_size_up_to_the_service_s_ceiling() -> None:
    assert [_lines(w) for w in ("lines-1", "lines-200", "lines-1000")] == [1, 200, 1000]
    # past the ceiling, zero, a size of its own or none: an unknown workload, which main() refuses
    assert [_lines(w) for w in (f"lines-{LINES_MAX + 1}", "lines-0", "lines-", "lines-x", "marketplace")] == [0] * 5
    assert [_per_seller(w) for w in ("marketplace", "lines-1", "lines-200", "lines-201", "lines-1000")] == [
        10, 10, 10, 11, 50
    ]  # fmt: skip


def test_a_1000_line_basket_is_1000_distinct_products_from_20_sellers() -> None:
    made: list[tuple[str, dict[str, Any]]] = []

    async def record(path: str, body: dict[str, Any]) -> dict[str, str]:
        made.append((path, body))
        return {"id": f"product-{len(made):04d}"}

    ids = asyncio.run(configure_marketplace(record, per_seller=_per_seller("lines-1000")))
    products = [body for path, body in made if path == "/api/v1/products"]
    assert len(ids) == len(set(ids)) == len(products) == 1000
    assert {body["seller_id"] for body in products} == {f"cost-seller-{s:02d}" for s in range(20)}
    assert all(len(body["base_price"].split(".")[1]) == 2 for body in products)  # TRY's minor unit, every product
    assert sum(path == "/api/v1/shipping-profiles" for path, _ in made) == 16
    assert sum(path == "/api/v1/promotions" for path, _ in made) == 30
    body = json.loads(next(_bodies("lines-1000", {"ids": ids}, "c")))
    assert [item["product_id"] for item in body["items"]] == ids
    assert len(json.loads(next(_bodies("lines-10", {"ids": ids}, "c")))["items"]) == 10


def test_a_step_is_counted_alone_only_once_on_and_answers_or_raises_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    # --steps: collection on for the step's call alone, then a dump named after it; before `on`, nothing.
    calls: list[str] = []

    class Control:
        def qs_toggle(self) -> None:
            calls.append("toggle")

        def qs_dump(self, name: bytes) -> None:
            calls.append(f"dump {name.decode()}")

    module = types.ModuleType("fake_engine")

    def priced(lines: int, *, each: int = 1) -> int:
        if lines < 0:
            raise ValueError("no negative basket")
        calls.append("priced")
        return lines * each

    module.priced = priced  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_engine", module)
    steps = Steps(Control(), (("fake_engine", "priced", "the engine"),))
    assert module.priced(4, each=10) == 40
    assert calls == ["priced"]  # warming up and in the quotes' window: the step alone, no toggle
    steps.on = True
    assert module.priced(2) == 2
    with pytest.raises(ValueError, match="no negative basket"):
        module.priced(-1)
    assert calls == ["priced", "toggle", "priced", "toggle", "dump priced", "toggle", "toggle", "dump priced"]


def test_each_step_s_instructions_are_the_dumps_named_after_it(tmp_path: Path) -> None:
    def dump(n: int, trigger: str, count: int) -> Path:
        made = tmp_path / f"callgrind.marketplace-0-0.{n}"
        made.write_text(f"version: 1\ndesc: Trigger: Client Request: {trigger}\nevents: Ir\ntotals: {count}\n")
        return made

    named = [
        dump(3, "quote_lines", 600),
        dump(4, "line_taxes", 200),
        dump(5, "quote_lines", 400),
        dump(6, "measured", 9),
    ]
    counted = steps_counted(named, 2)
    assert counted["quote_lines"] == 500
    assert counted["line_taxes"] == 100
    assert counted["automatic_promotions"] == 0
    table = steps_table(counted, 1000, 200)
    assert "1-4 lines: list price, offers landed, flash sales, rules" in table
    assert "         500         2  50.0%" in table
    assert table.splitlines()[-1].endswith("         400         2  40.0%")  # the rest: 1,000 - 500 - 100
