"""Every test is in a tier: `make test` (its unit and rest stages) or `make test-all` (those and the
long stage), and `make test` leaves out only what is marked `long` or is a unit test's long run
(docs/development.md#two-test-commands).

The stages' marker expressions are read from the Makefile itself and evaluated, with pytest's own
expression parser, against the marks of every collected test (one `--collect-only` run that writes
them out: tests/conftest.py, QS_TEST_TIERS_FILE).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression

# A collection of the whole suite (~16 s of CPU): make test-all's, where CI runs it on every landing.
pytestmark = pytest.mark.long

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("test-unit", "test-rest", "test-long")


def stage_expression(makefile: str, target: str) -> tuple[str | None, str]:
    """(the folder the stage is limited to, or None; its `-m` expression) of a Makefile target."""
    recipe = re.search(rf"^{re.escape(target)}:.*\n\t(.+)$", makefile, re.M)
    assert recipe is not None, f"no recipe for {target} in the Makefile"
    line = recipe.group(1)
    marks = re.search(r'-m "([^"]+)"', line)
    assert marks is not None, f"{target} selects no marks: {line}"
    folder = re.search(r"\$\(PYTEST\) (tests/\S+)", line)
    return (folder.group(1) if folder else None), marks.group(1)


def selected(rows: list[dict[str, object]], folder: str | None, expression: str) -> set[str]:
    compiled = Expression.compile(expression)
    chosen = set()
    for row in rows:
        test_id = str(row["id"])
        marks = set(row["marks"])  # type: ignore[call-overload]
        if folder is not None and not test_id.startswith(folder + "/"):
            continue
        if compiled.evaluate(lambda name, marks=marks, **_: name in marks):  # type: ignore[misc]
            chosen.add(test_id)
    return chosen


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    out = tmp_path_factory.mktemp("tiers") / "tiers.json"
    env = {**os.environ, "QS_TEST_TIERS_FILE": str(out)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows: list[dict[str, object]] = json.loads(out.read_text())
    assert len(rows) > 1000
    return rows


def test_every_test_is_in_make_test_or_make_test_all(collected: list[dict[str, object]]) -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: test-unit test-rest\b", makefile, re.M)
    assert re.search(r"^test-all: test test-long\b", makefile, re.M)
    stages = {target: selected(collected, *stage_expression(makefile, target)) for target in STAGES}
    everything = {str(row["id"]) for row in collected}
    in_neither = everything - set().union(*stages.values())
    assert not in_neither, f"{len(in_neither)} tests run in no tier, e.g. {sorted(in_neither)[:5]}"
    # make test leaves out exactly the long suites and the unit tests' long runs.
    left_out = everything - stages["test-unit"] - stages["test-rest"]
    for test_id in left_out:
        row = next(r for r in collected if r["id"] == test_id)
        marks = set(row["marks"])  # type: ignore[call-overload]
        assert "long" in marks or ("unit" in marks and "slow" in marks), test_id


def test_make_test_keeps_a_browser_and_a_fault_test(collected: list[dict[str, object]]) -> None:
    """Each page keeps its browser test in make test, and the fast fault checks stay there."""
    makefile = (ROOT / "Makefile").read_text()
    in_make_test = selected(collected, *stage_expression(makefile, "test-rest"))
    pages = {"store", "dashboard", "governance", "books", "seller"}
    for page in pages:
        assert any(f"pages/test_{page}" in t and "browser" in t for t in in_make_test), page
    assert any(t.startswith("tests/faults/") for t in in_make_test)


def test_the_expressions_are_read_as_pytest_reads_them() -> None:
    rows = [
        {"id": "tests/unit/a.py::t", "marks": ["unit"]},
        {"id": "tests/unit/b.py::t", "marks": ["unit", "slow", "property"]},
        {"id": "tests/integration/c.py::t", "marks": []},
        {"id": "tests/faults/d.py::t", "marks": ["slow", "long"]},
    ]
    assert selected(rows, "tests/unit", "not slow") == {"tests/unit/a.py::t"}
    assert selected(rows, None, "not unit and not long") == {"tests/integration/c.py::t"}
    assert selected(rows, None, "long or (unit and (slow or property))") == {
        "tests/unit/b.py::t",
        "tests/faults/d.py::t",
    }
