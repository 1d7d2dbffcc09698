"""Where a server worker's Python thread spends its time: py-spy samples summed by component.

`record(pid, seconds, out)` starts py-spy (a dev dependency) on one process; `summarize(path)`
reads its collapsed stacks and attributes each sample to the DEEPEST frame that belongs to a
known component (walking from the leaf towards the root), so the standard library and C calls
count for whoever called them: a `decimal` operation inside the engine counts as the engine, a
socket write inside redis-py as the Redis client. Idle samples (the event loop waiting) are not
recorded (py-spy's default), so the shares are of the thread's busy time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# (component, pattern of a frame's file); the first pattern that matches a frame names it.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("engine (pricing/)", r"quote_service/pricing/"),
    (
        "quote store + quote log (quotes/store.py, compact.py, quote_log.py)",
        r"quote_service/quotes/(store|compact|quote_log)\.py|zstandard",
    ),
    ("quote service glue (quotes/)", r"quote_service/quotes/"),
    ("flash sales", r"quote_service/flash_sales/"),
    ("caches (cache/)", r"quote_service/cache/"),
    ("snapshot (snapshot/)", r"quote_service/snapshot/"),
    ("auth (auth/)", r"quote_service/auth/"),
    ("metrics/logs/traces (observability/)", r"quote_service/observability/|prometheus_client|structlog|opentelemetry"),
    ("lean edge (edge.py)", r"quote_service/edge\.py"),
    ("web glue (web/, app.py)", r"quote_service/web/|quote_service/app\.py"),
    ("other quote_service", r"quote_service/"),
    ("Litestar", r"/litestar/"),
    ("redis-py", r"/redis/"),
    ("asyncpg", r"/asyncpg/"),
    ("msgspec", r"/msgspec/"),
    ("granian (Python side)", r"/granian/"),
    ("asyncio event loop", r"/asyncio/|uvloop"),
)
_FRAME_FILE = re.compile(r"\(([^()]*):\d+\)$")


def record(pid: int, seconds: int, out: Path, *, rate: int = 200) -> subprocess.Popen[bytes]:
    """py-spy recording `pid` for `seconds` into `out` (collapsed stacks); wait() for it."""
    # The virtual environment's own first: `.venv/bin/python loadtests/bench.py` runs without its bin on PATH.
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed (it is a dev dependency: uv sync)")
    command = [spy, "record", "--pid", str(pid), "--rate", str(rate), "--duration", str(seconds)]
    command += ["--format", "raw", "--nonblocking", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603


def component(stack: list[str]) -> str:
    """The component of one sample's stack (root first), by its deepest known frame."""
    for frame in reversed(stack):
        match = _FRAME_FILE.search(frame)
        if match is None:
            continue
        for name, pattern in COMPONENTS:
            if re.search(pattern, match.group(1)):
                return name
    return "other (interpreter, threads)"


def summarize(path: Path) -> tuple[int, list[tuple[str, int]]]:
    """(samples, [(component, samples)] most first) of a py-spy raw (collapsed) file."""
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not stack_text or not count.isdigit():
            continue
        total += int(count)
        counts[component(stack_text.split(";"))] += int(count)
    return total, counts.most_common()


def report(path: Path, requests: float, busy_cpu_seconds: float) -> str:
    """A table of shares, and µs per request when the thread's CPU time and requests are known."""
    total, parts = summarize(path)
    lines = [f"  profile of the worker's Python thread ({total} samples, {path}):"]
    for name, samples in parts:
        share = samples / max(1, total)
        per_request = share * busy_cpu_seconds / max(1.0, requests) * 1e6
        lines.append(f"    {name:<44} {share * 100:5.1f} %  ~{per_request:5.0f} µs/request")
    return "\n".join(lines)
