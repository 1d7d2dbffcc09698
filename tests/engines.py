"""Run tests in a pytest process of their own on a chosen pricing engine (`PRICING_ENGINE`).

A process loads one engine for its whole life (quote_service/compiled/loader.py), so a test
that must see the other one runs its checks in a fresh interpreter and reads their verdicts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from quote_service.compiled.loader import VARIABLE

ROOT = Path(__file__).resolve().parents[1]
HEADERS = {"compiled": "pricing engine: compiled", "pure": "pricing engine: pure Python"}


@dataclass(frozen=True)
class EngineRun:
    """Each test's outcome (`passed`, `failed`, `skipped`) by its name, and what pytest printed."""

    verdicts: dict[str, str]
    output: str


def run_on_engine(engine: str, tests: list[str], report: Path) -> EngineRun:
    """Run `tests` (node ids) in a fresh pytest process on `engine` (`compiled` or `pure`)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    environment[VARIABLE] = engine
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist"]
    command += [f"--junitxml={report}", *tests]
    run = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
    output = run.stdout + run.stderr
    assert report.exists(), f"the pytest process on the {engine} engine reported nothing:\n{output}"
    assert HEADERS[engine] in output, f"the pytest process did not run on the {engine} engine:\n{output}"
    return EngineRun(verdicts=_verdicts(report), output=output)


def _verdicts(report: Path) -> dict[str, str]:
    verdicts = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):  # noqa: S314 - our own pytest's report
        tags = {child.tag for child in case}
        outcome = "failed" if tags & {"failure", "error"} else "skipped" if "skipped" in tags else "passed"
        verdicts[case.get("name", "")] = outcome
    return verdicts
