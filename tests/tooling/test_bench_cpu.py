"""loadtests/cpu.py's `ServerCpu.drain`: a phase's stores are counted until they are idle again, so
that work a server left behind (a quote log writer behind its load) is its own and stays out of the
next phase (loadtests/bench.py). A process standing in for a store burns CPU after the phase."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "loadtests"))

from cpu import ServerCpu  # noqa: E402

BURN = (
    "import ctypes, time\n"
    "ctypes.CDLL(None).prctl(15, b'postgres', 0, 0, 0)\n"  # PR_SET_NAME: /proc/PID/stat's name, as cpu.py reads it
    "end = time.process_time() + {seconds}\n"
    "while time.process_time() < end: pass\n"
    "time.sleep(60)"
)


def store(seconds: float) -> subprocess.Popen[bytes]:
    """A process named like PostgreSQL's that spends `seconds` of CPU, then sleeps; returned once it
    has its name (its interpreter's start-up spent, before the meter starts)."""
    process = subprocess.Popen([sys.executable, "-c", BURN.format(seconds=seconds)])  # noqa: S603 - our own code
    stat = Path(f"/proc/{process.pid}/stat")
    deadline = time.monotonic() + 30
    while "(postgres)" not in stat.read_text():
        assert time.monotonic() < deadline, "the stand-in store never took its name"
        time.sleep(0.01)
    return process


def test_the_stores_are_counted_until_idle_and_the_wait_is_returned() -> None:
    busy = store(1.5)
    try:
        meter = ServerCpu(root=busy.pid, stores=(busy.pid,))
        meter.start()
        meter.stop()  # at once: its 1.5 s of CPU are all still to come
        drained, waited = meter.drain(interval=0.25)
        assert 1.0 <= waited < 30.0
        assert drained["postgres"] >= 1.3
        assert drained["redis"] == 0.0
    finally:
        busy.kill()
        busy.wait()


def test_idle_stores_end_the_wait_after_one_interval() -> None:
    idle = store(0.0)
    try:
        meter = ServerCpu(root=idle.pid, stores=(idle.pid,))
        meter.start()
        meter.stop()
        drained, waited = meter.drain(interval=0.25)
        assert waited < 1.0
        assert drained["postgres"] < 0.05
    finally:
        idle.kill()
        idle.wait()


def test_without_known_stores_it_returns_at_once() -> None:
    meter = ServerCpu(root=1)
    meter.start()
    meter.stop()
    assert meter.drain() == ({"postgres": 0.0, "redis": 0.0}, 0.0)
