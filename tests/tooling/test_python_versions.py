"""The Python versions the project admits are exactly those its locked dependencies install on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[2]
# The embedded PostgreSQL ships as compiled wheels only; their CPython tags bound what works.
WHEEL_ONLY = "pgserver"


def _requires_python() -> SpecifierSet:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return SpecifierSet(project["requires-python"])


def _locked_wheel_pythons(package: str) -> set[str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    (entry,) = [p for p in lock["package"] if p["name"] == package]
    assert "sdist" not in entry, f"{package} has a source distribution now: revisit this test"
    tags = {m.group(1) for w in entry["wheels"] if (m := re.search(r"-cp3(\d+)-", w["url"]))}
    return {f"3.{minor}" for minor in tags}


def test_every_admitted_python_has_a_pgserver_wheel() -> None:
    admitted = {f"3.{minor}" for minor in range(8, 20) if f"3.{minor}.0" in _requires_python()}
    assert admitted, "requires-python admits no version"
    assert admitted <= _locked_wheel_pythons(WHEEL_ONLY), (
        f"requires-python admits {sorted(admitted)} but {WHEEL_ONLY} has wheels for "
        f"{sorted(_locked_wheel_pythons(WHEEL_ONLY))} only"
    )


def test_supported_versions_are_311_and_312() -> None:
    spec = _requires_python()
    assert "3.11.0" in spec
    assert "3.12.9" in spec
    assert "3.13.0" not in spec


def test_lock_was_resolved_for_the_same_range() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert SpecifierSet(lock["requires-python"]) == _requires_python()
