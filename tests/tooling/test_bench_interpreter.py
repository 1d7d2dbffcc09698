"""The benchmarks' interpreter line (loadtests/plumbing.py `interpreter`): what of the build moves
their absolute figures, read from the running process."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtests"))

from plumbing import interpreter  # noqa: E402 - loadtests/plumbing.py

_SHARED = (
    "7f10a000-7f10b000 r-xp 00000000 08:01 123 /root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0\n"
    "7f10b000-7f10c000 r--p 00100000 08:01 123 /root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0\n"
    "7f10c000-7f10d000 r-xp 00000000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
)
_STATIC = "55d0a000-55d0b000 r-xp 00000000 08:01 789 /usr/bin/python3.11\n"


def test_a_shared_libpython_is_named_once() -> None:
    line = interpreter(_SHARED)
    assert "libpython shared (libpython3.11.so.1.0);" in line
    assert line.startswith(f"{platform.python_implementation()} {platform.python_version()} at ")
    assert os.path.realpath(sys.executable) in line


def test_a_libpython_linked_into_the_executable() -> None:
    assert "libpython in the executable;" in interpreter(_STATIC)


def test_this_process_is_read_when_no_maps_are_given() -> None:
    here = Path("/proc/self/maps").read_text()
    assert interpreter() == interpreter(here)
