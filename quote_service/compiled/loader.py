"""Which pricing engine a process runs, chosen once as `quote_service.pricing` is imported.

`PRICING_ENGINE` says what to load:
- `auto` (the default): the compiled build when there is one that matches the source and this
  interpreter, else the pure-Python modules (and `quote_service.pricing.ENGINE` says why);
- `compiled`: the compiled build or nothing: the import fails, naming what is wrong (CI runs so,
  so a suite can never pass on the pure engine by accident);
- `pure`: the Python source, whatever is built (the mutation tests need it: they edit source).

A build is loaded by putting its folder first on the pricing package's `__path__`: the import
system then finds `engine.cpython-311-....so` there before `engine.py`. Nothing is loaded from a
build whose manifest does not match: every source file the compiler read is hashed at import
(~1 ms), so editing one module after `make compile` falls back to Python instead of running
the old compiled code.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, MutableSequence
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any, Final

VARIABLE: Final = "PRICING_ENGINE"
CHOICES: Final = ("auto", "compiled", "pure")
PACKAGE: Final = Path(__file__).resolve().parents[1]
"""The `quote_service` folder: manifests name source files relative to it."""
OUTPUT: Final = PACKAGE / "pricing" / "_compiled"
"""Where `make compile` puts the extension modules (git-ignored, never in a wheel)."""
MANIFEST: Final = "manifest.json"
SUFFIX: Final = EXTENSION_SUFFIXES[0]
"""This interpreter's extension-module suffix (`.cpython-311-x86_64-linux-gnu.so`): a build is for one."""
GROUP: Final = "quote_service.pricing.compiled"
"""mypyc's name for the build: every module's code is in one shared library, `compiled__mypyc`."""

MODULES: Final = (
    "attributes",
    "commission_breakdown",
    "delivery",
    "discounts",
    "engine",
    "lines",
    "money",
    "plan",
    "price_lists",
    "promotion_deals",
    "regions",
    "resolution",
    "settle",
    "snapshot",
)
"""The pricing modules a build compiles: those a quote runs through, less the ones that declare a
class with keyword arguments (the msgspec Structs' `frozen=True, kw_only=True`, `tag=...`): mypyc
drops class keywords without a word (build.class_keywords), so those stay Python. Their code is
a small part of a warm quote (BENCHMARKS.md, "Decisions")."""


class EngineUnavailable(ImportError):
    """`PRICING_ENGINE=compiled` and no compiled build that can be loaded."""


@dataclass(frozen=True)
class Choice:
    """The engine chosen for this process, and in words why (one line for logs and test headers)."""

    compiled: bool
    description: str


def choose(
    package_path: MutableSequence[str], environ: Mapping[str, str] = os.environ, output: Path = OUTPUT
) -> Choice:
    """Choose the engine as `environ` asks; for the compiled one, put `output` first on `package_path`."""
    wanted = environ.get(VARIABLE, "").strip().lower() or "auto"
    if wanted not in CHOICES:
        raise ValueError(f"{VARIABLE}={environ[VARIABLE]!r}: use one of {', '.join(CHOICES)}")
    if wanted == "pure":
        return Choice(compiled=False, description=f"pure Python ({VARIABLE}=pure)")
    problem = build_problem(output)
    if problem is not None:
        if wanted == "compiled":
            raise EngineUnavailable(f"{VARIABLE}=compiled, but {problem}")
        return Choice(compiled=False, description=f"pure Python ({problem})")
    package_path.insert(0, str(output))
    return Choice(compiled=True, description=f"compiled (mypyc: {len(MODULES)} pricing modules)")


def build_problem(output: Path = OUTPUT) -> str | None:
    """Why the build in `output` must not be loaded, or None when it matches the source and this interpreter."""
    try:
        manifest: dict[str, Any] = json.loads((output / MANIFEST).read_bytes())
    except FileNotFoundError:
        return "no compiled build; `make compile` makes one"
    except ValueError:
        return "the compiled build's manifest is unreadable; `make compile` again"
    if manifest.get("suffix") != SUFFIX:
        return f"the compiled build is for another interpreter ({manifest.get('suffix')}); `make compile` again"
    if manifest.get("modules") != list(MODULES):
        return "the compiled build has other modules than loader.MODULES; `make compile` again"
    missing = [name for name in extension_files() if not (output / name).is_file()]
    if missing:
        return f"the compiled build lacks {', '.join(missing)}; `make compile` again"
    sources: dict[str, str] = manifest.get("sources") or {}
    if not sources:
        return "the compiled build's manifest names no sources; `make compile` again"
    changed = [name for name, digest in sources.items() if _digest(PACKAGE / name) != digest]
    if changed:
        return f"the compiled build is out of date ({', '.join(changed)} changed since); `make compile` again"
    return None


def extension_files() -> list[str]:
    """The files of a build for this interpreter: the shared library, then a small module per compiled module."""
    library = GROUP.rsplit(".", 1)[1] + "__mypyc"
    return [f"{name}{SUFFIX}" for name in (library, *MODULES)]


def manifest(sources: list[Path]) -> dict[str, Any]:
    """What a build records of what it was built from: this interpreter, the modules and every source's digest."""
    return {
        "suffix": SUFFIX,
        "modules": list(MODULES),
        "sources": {str(path.relative_to(PACKAGE)): _digest(path) for path in sources},
    }


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "missing"
