"""What a warm simple quote and a line of the 200-line marketplace quote cost in CPU instructions,
counted by valgrind: checks that fail.

The call budget (test_cost_budget.py) counts Python calls, which a cheap call and a dear one count
alike, and which C code (msgspec, zstd, the interpreter itself) does not show. These run
loadtests/bench_instructions.py (the worker's whole quote path under callgrind, what runs by the clock
pinned: the script's docstring) and check against tests/cost_budget.toml's `[instructions]`, each
within its tolerance: the `simple` workload's instructions a quote (runs of one tree agree within
~1 %: an added Redis command or SQL statement costs a quote several per cent and fails it; an added
Python call, ~0.1 %, is the call budget's to catch), and the `marketplace` workload's instructions a
line (the quote's over its 200 lines: work added per line shows 200 times over; runs of one tree
agree within ~0.3 %, so ~3 K instructions added a line fail it, a UUID parsed per line did).

Instructions depend on the interpreter's build (CPython's version, its configure flags: PGO, LTO): the
budget names the interpreter it was counted on, and another one fails with both named (`.python-version`
pins the one `uv sync` builds the environment with). Needs valgrind, a C compiler and redis-server
(.ci/run installs valgrind); ~1-2 minutes for the simple quote, ~3 for the marketplace's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from quote_service.config import Settings

# Minutes under valgrind: in `make test-all` (CI), beside the call budget of make test (test_cost_budget.py).
pytestmark = [pytest.mark.long, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BUDGET_FILE = ROOT / "tests" / "cost_budget.toml"
QUOTES = 300
MARKETPLACE_QUOTES = 10
"""200-line quotes counted (after two warm rounds of as many; each costs ~125 simple ones): fewer make a
one-off in the window weigh more a quote (docs/hot-path.md#the-cost-budget)."""
MARKETPLACE_LINES = 200


def interpreter() -> str:
    """The interpreter's version and a digest of its configure flags (what moves instruction counts)."""
    flags = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    return f"CPython {sys.version.split()[0]} ({hashlib.sha256(flags.encode()).hexdigest()[:8]})"


def count(settings: Settings, tmp_path: Path, workload: str, quotes: int) -> float:
    """Instructions a quote of `workload`, one run of `quotes` quotes (the script's median of one)."""
    missing = [tool for tool in ("valgrind", "callgrind_annotate", "cc", "redis-server") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: apt-get install valgrind gcc redis-server)")
    budget = tomllib.loads(BUDGET_FILE.read_text())["instructions"]
    assert budget["python"] == interpreter(), (
        f"the instruction budget was counted on {budget['python']}, this is {interpreter()}: counts differ between"
        " builds. Use the interpreter `.python-version` names (uv sync), or count the budget again on this one"
        " (docs/hot-path.md#the-cost-budget)"
    )
    assert settings.database_url is not None
    admin_url = settings.database_url.rsplit("/", 1)[0] + "/postgres"
    result = tmp_path / "counts.json"
    done = subprocess.run(  # noqa: S603 - this interpreter, the project's own script
        [sys.executable, str(ROOT / "loadtests" / "bench_instructions.py"), "--workload", workload, "--runs", "1",
         "--quotes", str(quotes), "--json", str(result)],
        cwd=ROOT / "loadtests", env={**os.environ, "BENCH_DATABASE_ADMIN_URL": admin_url},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return float(json.loads(result.read_text())["results"][workload]["this checkout"][0])


def test_a_simple_quote_within_its_instruction_budget(settings: Settings, tmp_path: Path) -> None:
    counted = count(settings, tmp_path, "simple", QUOTES)
    budget = tomllib.loads(BUDGET_FILE.read_text())["instructions"]
    allowed = budget["simple"] * (1 + budget["tolerance"])
    print(f"simple: {counted:,.0f} instructions a quote (budget {budget['simple']:,} + {budget['tolerance']:.0%})")
    assert counted <= allowed, (
        f"a simple quote costs {counted:,.0f} instructions, more than tests/cost_budget.toml allows"
        f" ({budget['simple']:,} + {budget['tolerance']:.0%} = {allowed:,.0f}). Make it cheaper, or raise the budget"
        " with a line in BENCHMARKS.md naming the feature and what it costs (docs/hot-path.md#the-cost-budget)"
    )


def test_a_marketplace_line_within_its_instruction_budget(settings: Settings, tmp_path: Path) -> None:
    # The 200-line basket's quote over its lines: what a line costs, so that work added per line shows
    # 200 times over (a simple quote has one line, and its own work hides such a cost in its tolerance).
    counted = count(settings, tmp_path, "marketplace", MARKETPLACE_QUOTES) / MARKETPLACE_LINES
    budget = tomllib.loads(BUDGET_FILE.read_text())["instructions"]
    allowed = budget["marketplace_line"] * (1 + budget["line_tolerance"])
    print(
        f"marketplace: {counted:,.0f} instructions a line of a {MARKETPLACE_LINES}-line quote"
        f" (budget {budget['marketplace_line']:,} + {budget['line_tolerance']:.1%})"
    )
    assert counted <= allowed, (
        f"a line of the {MARKETPLACE_LINES}-line marketplace quote costs {counted:,.0f} instructions, more than"
        f" tests/cost_budget.toml allows ({budget['marketplace_line']:,} + {budget['line_tolerance']:.1%} ="
        f" {allowed:,.0f}): work added per line? Make it cheaper, or raise the budget with a line in BENCHMARKS.md"
        " naming the feature and what it costs a line (docs/hot-path.md#the-cost-budget)"
    )
