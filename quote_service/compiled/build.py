"""Build the compiled pricing engine with mypyc (`make compile`), or remove it (`make clean-compiled`).

mypyc (part of mypy, a dev dependency) type-checks `loader.MODULES` under the project's strict
mypy settings, turns them into C, and setuptools' `build_ext` compiles that with the machine's
C compiler into one shared library plus a small extension module per pricing module. The result
replaces `loader.OUTPUT` only once it is whole and imports, with a manifest of the sources it
was built from; a failed build leaves what was there and says why. Scratch files (the C code,
object files) stay in `build/mypyc/` for the next build.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from quote_service.compiled.loader import GROUP, MANIFEST, MODULES, OUTPUT, PACKAGE, VARIABLE, extension_files, manifest

ROOT = PACKAGE.parent
"""The checkout: mypy reads its settings from pyproject.toml here."""
WORK = ROOT / "build" / "mypyc"


class BuildFailed(Exception):
    """The compiled engine could not be built; the message says why and what to do."""


def class_keywords(path: Path) -> list[str]:
    """Each class of `path` declared with keyword arguments (`class A(Struct, frozen=True)`), as `file:line Name`.

    A compiled module's class loses those keywords without a word: its metaclass and
    `__init_subclass__` never see them (python/mypy#21938), so a frozen, keyword-only Struct
    would become a mutable, positional one. Such modules are not compiled.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    return [f"{path.name}:{node.lineno} {node.name}" for node in classes if node.keywords]


def module_paths() -> list[Path]:
    """The source files of `loader.MODULES`."""
    return [PACKAGE / "pricing" / f"{name}.py" for name in MODULES]


def source_files() -> list[Path]:
    """Every file the compiled code was checked against: the pricing modules and what they import of ours
    (not the package's `__init__`, which only chooses the engine)."""
    pricing = sorted(path for path in (PACKAGE / "pricing").glob("*.py") if path.name != "__init__.py")
    imported: set[Path] = set()
    for path in pricing:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("quote_service."):
                imported.add(_module_file(node.module or ""))
    return pricing + sorted(path for path in imported if path.parent != PACKAGE / "pricing")


def _module_file(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def build(*, force: bool = False) -> float:
    """Compile `loader.MODULES` into `loader.OUTPUT`; the seconds it took. Raises BuildFailed.

    The C compiler runs again only for C that mypyc changed, unless `force`.
    """
    started = time.monotonic()
    refused = [found for path in module_paths() for found in class_keywords(path)]
    if refused:
        raise BuildFailed(
            "mypyc would drop the keyword arguments of these classes: " + ", ".join(refused) + ". "
            "Move them to a module that stays Python, or take their module off loader.MODULES."
        )
    sources = source_files()
    built = _compile(force)
    staging = OUTPUT.with_name(OUTPUT.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in extension_files():
        shutil.copy2(built / name, staging / name)
    (staging / MANIFEST).write_text(json.dumps(manifest(sources), indent=2) + "\n")
    _install(staging)
    return time.monotonic() - started


def _compile(force: bool) -> Path:
    """Run mypyc and the C compiler; the folder holding the built extension modules."""
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
    except ImportError as exc:
        raise BuildFailed(f"{exc.name} is not installed: it comes with the dev dependencies (uv sync)") from exc
    cwd = Path.cwd()
    os.chdir(ROOT)  # mypy finds pyproject.toml's [tool.mypy] (strict) and names modules from here
    try:
        try:
            extensions = mypycify(
                [str(path.relative_to(ROOT)) for path in module_paths()],
                group_name=GROUP,
                target_dir=str(WORK / "c"),
            )
        except SystemExit as exc:  # mypyc exits on a type error, after printing it
            raise BuildFailed("mypyc refused the sources (its messages are above)") from exc
        command = Distribution({"name": "quote-service-pricing", "ext_modules": extensions}).get_command_obj(
            "build_ext"
        )
        command.build_lib = str(WORK / "lib")
        command.build_temp = str(WORK / "tmp")
        command.force = force
        command.ensure_finalized()
        try:
            command.run()
        except Exception as exc:  # setuptools' CompileError, LinkError, a missing compiler: all say why
            raise BuildFailed(
                f"the C compiler failed ({exc}); it needs a C compiler and the Python headers "
                "(Debian: apt-get install gcc python3-dev)"
            ) from exc
    finally:
        os.chdir(cwd)
    return WORK / "lib" / "quote_service" / "pricing"


def _install(staging: Path) -> None:
    """Put the staged build in place, keeping the previous one until the new one imports."""
    previous = OUTPUT.with_name(OUTPUT.name + ".old")
    shutil.rmtree(previous, ignore_errors=True)
    if OUTPUT.exists():
        OUTPUT.rename(previous)
    staging.rename(OUTPUT)
    problem = _import_problem()
    if problem is not None:
        shutil.rmtree(OUTPUT)
        if previous.exists():
            previous.rename(OUTPUT)
        raise BuildFailed(f"the built modules do not import: {problem}")
    shutil.rmtree(previous, ignore_errors=True)


def _import_problem() -> str | None:
    """Import every compiled module in a fresh interpreter, as a worker would; None when all load compiled."""
    probe = (
        "import importlib; from quote_service.compiled.loader import MODULES, SUFFIX; "
        "files = [importlib.import_module('quote_service.pricing.' + name).__file__ or '' for name in MODULES]; "
        "python = [file for file in files if not file.endswith(SUFFIX)]; "
        "assert not python, f'loaded from source: {python}'"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, our own package
        [sys.executable, "-c", probe],
        env={**os.environ, VARIABLE: "compiled"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return None if result.returncode == 0 else (result.stderr.strip().splitlines() or ["no output"])[-1]


def clean() -> list[Path]:
    """Remove the compiled build and the scratch files; the folders removed."""
    removed = [path for path in (OUTPUT, WORK) if path.exists()]
    for path in removed:
        shutil.rmtree(path)
    return removed
