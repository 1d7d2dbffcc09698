"""The compiled pricing engine: the one asked for is the one loaded, a build that no longer matches
the source is never loaded, and a failed build leaves the pure engine in charge.

What the engines compute is checked elsewhere: the differential test prices thousands of
baskets on both (tests/unit/test_engine_differential.py), and the rest of the suite runs on
whichever this process loaded (CI: the compiled one, `PRICING_ENGINE=compiled`).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from quote_service import pricing
from quote_service.compiled.build import class_keywords, module_paths
from quote_service.compiled.loader import (
    MANIFEST,
    MODULES,
    OUTPUT,
    PACKAGE,
    SUFFIX,
    VARIABLE,
    EngineUnavailable,
    build_problem,
    choose,
    extension_files,
    manifest,
)

ROOT = PACKAGE.parent
ENGINE_SOURCE = PACKAGE / "pricing" / "engine.py"


def test_the_engine_loaded_is_the_one_asked_for() -> None:
    """CI asks for the compiled engine: its suite must not pass on the Python modules instead."""
    files = [importlib.import_module(f"quote_service.pricing.{name}").__file__ or "" for name in MODULES]
    # A module first imported by another compiled module gets a `__file__` that mypyc derives from
    # the shared library's (OUTPUT/quote_service/pricing/...): still under OUTPUT.
    compiled = [file for file in files if file.endswith(SUFFIX) and Path(file).is_relative_to(OUTPUT)]

    assert compiled in ([], files), "some modules loaded compiled, others from source"
    assert pricing.COMPILED is (compiled == files), pricing.ENGINE
    wanted = os.environ.get(VARIABLE, "auto")
    if wanted == "compiled":
        assert pricing.COMPILED, pricing.ENGINE
    elif wanted == "pure":
        assert not pricing.COMPILED, pricing.ENGINE
    else:
        assert pricing.COMPILED is (build_problem() is None), pricing.ENGINE


def fake_build(output: Path, sources: list[Path]) -> Path:
    """A build folder the loader accepts (empty extension files: `choose` only reads the manifest and names)."""
    output.mkdir()
    for name in extension_files():
        (output / name).write_bytes(b"")
    (output / MANIFEST).write_text(json.dumps(manifest(sources)))
    return output


def test_a_build_that_matches_the_source_goes_first_on_the_package_path(tmp_path: Path) -> None:
    output = fake_build(tmp_path / "build", [ENGINE_SOURCE])
    path = ["pricing-source"]

    choice = choose(path, {}, output)

    assert choice.compiled
    assert path == [str(output), "pricing-source"]


def test_a_build_older_than_its_source_is_not_loaded_and_says_which_file_changed(tmp_path: Path) -> None:
    output = fake_build(tmp_path / "build", [ENGINE_SOURCE])
    recorded = json.loads((output / MANIFEST).read_text())
    recorded["sources"]["pricing/engine.py"] = "0" * 64  # engine.py edited after the build
    (output / MANIFEST).write_text(json.dumps(recorded))
    path = ["pricing-source"]

    choice = choose(path, {VARIABLE: "auto"}, output)

    assert not choice.compiled
    assert path == ["pricing-source"]
    assert "pricing/engine.py changed" in choice.description
    with pytest.raises(EngineUnavailable, match=r"pricing/engine\.py changed"):
        choose(path, {VARIABLE: "compiled"}, output)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("no build", "no compiled build"),
        ("another interpreter", "another interpreter"),
        ("a missing module", f"lacks engine{SUFFIX}"),
        ("another module list", "other modules"),
    ],
)
def test_an_unusable_build_leaves_the_pure_engine_and_says_why(tmp_path: Path, damage: str, reason: str) -> None:
    output = fake_build(tmp_path / "build", [ENGINE_SOURCE])
    recorded = json.loads((output / MANIFEST).read_text())
    if damage == "no build":
        shutil.rmtree(output)
    elif damage == "a missing module":
        (output / f"engine{SUFFIX}").unlink()
    else:
        recorded["suffix" if damage == "another interpreter" else "modules"] = ["elsewhere"]
        (output / MANIFEST).write_text(json.dumps(recorded))
    path = ["pricing-source"]

    choice = choose(path, {}, output)

    assert (choice.compiled, path) == (False, ["pricing-source"])
    assert choice.description.startswith("pure Python (")
    assert reason in choice.description
    with pytest.raises(EngineUnavailable, match=re.escape(reason)):
        choose(path, {VARIABLE: "compiled"}, output)


def test_pure_is_loaded_when_asked_whatever_is_built(tmp_path: Path) -> None:
    output = fake_build(tmp_path / "build", [ENGINE_SOURCE])
    path = ["pricing-source"]

    assert not choose(path, {VARIABLE: " Pure "}, output).compiled
    assert path == ["pricing-source"]


def test_an_unknown_engine_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PRICING_ENGINE='fast': use one of auto, compiled, pure"):
        choose([], {VARIABLE: "fast"}, tmp_path)


def test_no_compiled_module_declares_a_class_with_keyword_arguments() -> None:
    """mypyc drops class keywords without a word: a Struct's `frozen=True, kw_only=True` would vanish."""
    assert [found for path in module_paths() for found in class_keywords(path)] == []
    structs = class_keywords(PACKAGE / "pricing" / "quote.py")  # the check does see them
    assert any(found.endswith(" QuoteItemIn") for found in structs), structs


@pytest.mark.slow  # mypyc type-checks and generates C (~20 s) before the compiler is called
def test_a_build_without_a_c_compiler_fails_says_why_and_changes_nothing() -> None:
    before = {path.name: path.read_bytes() for path in OUTPUT.glob("*")} if OUTPUT.exists() else None
    environment = {**os.environ, "CC": "/nonexistent/cc"}

    command = [sys.executable, "-m", "quote_service.compiled", "build", "--force"]  # else unchanged C is not compiled
    run = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603

    assert run.returncode == 1, run.stdout + run.stderr
    assert "the compiled pricing engine was not built: the C compiler failed" in run.stderr
    assert "the pure-Python engine keeps working" in run.stderr
    after = {path.name: path.read_bytes() for path in OUTPUT.glob("*")} if OUTPUT.exists() else None
    assert after == before


def test_compiled_artefacts_are_never_committed() -> None:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    artefacts = [
        OUTPUT / f"engine{SUFFIX}",
        OUTPUT / MANIFEST,
        ROOT / "build" / "mypyc" / "c" / "engine.c",
        PACKAGE / "pricing" / f"engine{SUFFIX}",  # an in-place build (mypyc's own command line)
    ]
    for path in artefacts:
        ignored = subprocess.run([git, "check-ignore", "-q", str(path)], cwd=ROOT, check=False)  # noqa: S603
        assert ignored.returncode == 0, f"{path.relative_to(ROOT)} is not git-ignored"
