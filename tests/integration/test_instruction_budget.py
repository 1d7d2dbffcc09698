"""What a warm simple quote costs in CPU instructions, counted by valgrind: a check that fails.

The call budget (test_cost_budget.py) counts Python calls, which a cheap call and a dear one count
alike, and which C code (msgspec, zstd, the interpreter itself) does not show. This one runs
loadtests/bench_instructions.py on the `simple` workload (the worker's whole quote path under
callgrind, what runs by the clock pinned: the script's docstring) and checks the instructions a quote
against tests/cost_budget.toml's `[instructions]`, within its tolerance (runs of one tree agree within
~1 %). An added Redis command or SQL statement costs a quote several per cent and fails it; an added
Python call (~0.1 %) is the call budget's to catch.

Instructions depend on the interpreter's build (CPython's version, its configure flags: PGO, LTO): the
budget names the interpreter it was counted on, and another one fails with both named (`.python-version`
pins the one `uv sync` builds the environment with). Needs valgrind, a C compiler and redis-server
(.ci/run installs valgrind); ~1-2 minutes.
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

# A minute under valgrind: in `make test-all` (CI), beside the call budget of make test (test_cost_budget.py).
pytestmark = [pytest.mark.long, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BUDGET_FILE = ROOT / "tests" / "cost_budget.toml"
QUOTES = 300


def interpreter() -> str:
    """The interpreter's version and a digest of its configure flags (what moves instruction counts)."""
    flags = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    return f"CPython {sys.version.split()[0]} ({hashlib.sha256(flags.encode()).hexdigest()[:8]})"


def test_a_simple_quote_within_its_instruction_budget(settings: Settings, tmp_path: Path) -> None:
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
        [sys.executable, str(ROOT / "loadtests" / "bench_instructions.py"), "--workload", "simple", "--runs", "1",
         "--quotes", str(QUOTES), "--json", str(result)],
        cwd=ROOT / "loadtests", env={**os.environ, "BENCH_DATABASE_ADMIN_URL": admin_url},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    counted = json.loads(result.read_text())["results"]["simple"]["this checkout"][0]
    allowed = budget["simple"] * (1 + budget["tolerance"])
    print(f"simple: {counted:,.0f} instructions a quote (budget {budget['simple']:,} + {budget['tolerance']:.0%})")
    assert counted <= allowed, (
        f"a simple quote costs {counted:,.0f} instructions, more than tests/cost_budget.toml allows"
        f" ({budget['simple']:,} + {budget['tolerance']:.0%} = {allowed:,.0f}). Make it cheaper, or raise the budget"
        " with a line in BENCHMARKS.md naming the feature and what it costs (docs/hot-path.md#the-cost-budget)"
    )
