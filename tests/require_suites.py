"""A pytest plugin: with QS_REQUIRE_ALL_SUITES=1 (set by .ci/run) a skipped test fails instead.

The fault, replica, cluster and browser suites skip on a machine without their binaries
(PostgreSQL server binaries, redis-server and redis-cli, Chromium: docs/development.md). On a
laptop that is a convenience; in CI it would hide that a whole suite never ran. So CI sets the
variable, and every skip (a `pytest.skip`, a `skipif` mark, a module skipped at collection)
becomes a failure that names the test and why it could not run.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

VARIABLE = "QS_REQUIRE_ALL_SUITES"


def _required() -> bool:
    return os.environ.get(VARIABLE) == "1"


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _fail(report: pytest.TestReport | pytest.CollectReport) -> None:
    report.outcome = "failed"
    report.longrepr = (
        f"{report.nodeid} was skipped ({_reason(report)}), but {VARIABLE}=1 requires every suite to run: "
        "install what it needs (docs/development.md, 'Suites that need extra binaries')"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if _required() and report.skipped and not hasattr(report, "wasxfail"):
        _fail(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if _required() and report.skipped:
        _fail(report)
