"""`make` installs uv where it is missing, even when the system pip refuses (PEP 668)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKER = "[externally-managed]\nError=simulated PEP 668 system Python\n"


def _externally_managed_python(root: Path) -> Path:
    """A copy of this test run's base interpreter that carries PEP 668's EXTERNALLY-MANAGED marker.

    The marker counts only outside a virtual environment, in the interpreter's stdlib directory,
    so this builds a small installation: the interpreter binary copied, its stdlib linked entry
    by entry, plus the marker. pip in it refuses `pip install` as a Debian or Homebrew Python does.
    """
    base = Path(sys.base_prefix)
    stdlib = Path(sysconfig.get_path("stdlib", vars={"installed_base": sys.base_prefix, "base": sys.base_prefix}))
    executable = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    (root / "bin").mkdir(parents=True)
    shutil.copy2(executable, root / "bin" / "python3")
    copy = root / stdlib.relative_to(base)
    copy.mkdir(parents=True)
    for entry in stdlib.iterdir():
        (copy / entry.name).symlink_to(entry)
    for entry in (base / "lib").iterdir():  # libpython, when the build is shared
        if not (root / "lib" / entry.name).exists():
            (root / "lib" / entry.name).symlink_to(entry)
    (copy / "EXTERNALLY-MANAGED").write_text(MARKER)
    return root / "bin" / "python3"


def _path_without_uv(first: Path) -> str:
    """`first`, then the directories of the tools a Makefile recipe needs, none of which holds uv."""
    keep = [str(first)]
    for tool in ("sh", "env", "echo"):
        found = shutil.which(tool)
        if found and str(Path(found).parent) not in keep:
            keep.append(str(Path(found).parent))
    assert not any((Path(d) / "uv").exists() for d in keep), f"uv sits beside the shell tools in {keep}"
    return os.pathsep.join(keep)


@pytest.mark.long
@pytest.mark.slow  # installs uv from the package index
def test_make_installs_uv_into_tools_when_the_system_pip_is_externally_managed(tmp_path: Path) -> None:
    python = _externally_managed_python(tmp_path / "system-python")
    refused = subprocess.run(  # noqa: S603
        [python, "-m", "pip", "install", "--dry-run", "uv"], capture_output=True, text=True, check=False
    )
    if "externally-managed-environment" not in refused.stderr:
        pytest.skip(f"could not build a PEP 668 interpreter from {sys.base_prefix}: {refused.stderr[-300:]}")
    project = tmp_path / "checkout"
    project.mkdir()
    shutil.copy2(ROOT / "Makefile", project / "Makefile")
    env = {"PATH": _path_without_uv(python.parent), "HOME": os.environ.get("HOME", str(tmp_path))}
    make = shutil.which("make")
    assert make is not None

    result = subprocess.run(  # noqa: S603
        [make, "-C", str(project), "tools"], env=env, capture_output=True, text=True, timeout=300, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "externally-managed-environment" not in result.stderr
    uv = project / ".tools" / "bin" / "uv"
    version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    assert version.stdout.startswith("uv ")
    # A second run finds the private uv and installs nothing.
    again = subprocess.run(  # noqa: S603
        [make, "-C", str(project), "tools"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert "installing" not in again.stdout
