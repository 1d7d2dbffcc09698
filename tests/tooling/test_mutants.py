"""loadtests/mutants.py's table follows the code: each money mutant's original text is in its file exactly once
(a refactor that moves the code must move its mutant, or the mutation run would test nothing), each is named
once, each names suites that exist, and the check itself sees a mutant that no longer matches. Running the
mutants takes tens of minutes: docs/development.md#money-mutants shows how."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtests"))

import mutants  # noqa: E402


def test_every_mutant_still_matches_the_code_it_mutates() -> None:
    assert mutants.check() == []
    assert len(mutants.MUTANTS) >= 30


def test_every_suite_names_tests_that_exist() -> None:
    for mutant in mutants.MUTANTS:
        assert mutant.suites, mutant.name
        for suite in mutant.suites:
            paths = [arg.removeprefix("--deselect=").split("::")[0] for arg in suite.split()]
            missing = [path for path in paths if not (ROOT / path).exists()]
            assert not missing, (mutant.name, missing)


def test_the_check_sees_a_mutant_that_lost_its_code(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first = mutants.MUTANTS[0]
    moved = dataclasses.replace(first, original=first.original + " # moved away")
    monkeypatch.setattr(mutants, "MUTANTS", (moved, *mutants.MUTANTS[1:]))
    assert mutants.check() == [f"{first.name}: its original text is in {first.file} 0 times, not once"]
