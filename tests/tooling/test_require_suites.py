"""CI cannot pass with a suite that did not run: QS_REQUIRE_ALL_SUITES=1 turns every skip into a failure."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

SKIPPING = """
import pytest

pytestmark = []


def test_runs() -> None:
    assert True


def test_needs_a_binary() -> None:
    pytest.skip("redis-cli not found")


@pytest.mark.skipif(True, reason="no Chromium")
def test_needs_a_browser() -> None:
    pass


@pytest.fixture
def server() -> None:
    pytest.skip("PostgreSQL server binaries not found")


def test_needs_a_server(server: None) -> None:
    pass


@pytest.mark.xfail(reason="a known bug, not a skip")
def test_known_bug() -> None:
    raise AssertionError
"""
SKIPPED_MODULE = """
import pytest

pytest.skip("no Redis Cluster here", allow_module_level=True)
"""


def _run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, required: str | None, source: str
) -> pytest.RunResult:
    if required is None:
        monkeypatch.delenv("QS_REQUIRE_ALL_SUITES", raising=False)
    else:
        monkeypatch.setenv("QS_REQUIRE_ALL_SUITES", required)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_suite=source)
    return pytester.runpytest_inprocess("-p", "tests.require_suites", "-p", "no:cacheprovider")


def test_without_the_variable_skips_stay_skips(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(pytester, monkeypatch, None, SKIPPING)

    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == pytest.ExitCode.OK
    assert _run(pytester, monkeypatch, "0", SKIPPED_MODULE).ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_with_the_variable_every_skip_fails_and_says_why(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(pytester, monkeypatch, "1", SKIPPING)

    result.assert_outcomes(passed=1, failed=1, errors=2, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    for reason in ("redis-cli not found", "no Chromium", "PostgreSQL server binaries not found"):
        assert f"({reason}), but QS_REQUIRE_ALL_SUITES=1 requires every suite to run" in output


def test_with_the_variable_a_module_skipped_at_collection_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _run(pytester, monkeypatch, "1", SKIPPED_MODULE)

    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error stops the run: loud, never green
    assert "(no Redis Cluster here), but QS_REQUIRE_ALL_SUITES=1" in result.stdout.str()
