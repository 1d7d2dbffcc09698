"""scipy's first import (experiment statistics) must not stall the event loop: it takes ~0.3-0.6 s,
and on the loop it held up every quote of the worker whose guardrail pass came first."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# A fresh interpreter (this one may have imported scipy already): a 1 ms ticker on the loop
# records the longest gap between its turns while the statistics load.
_SCRIPT = """
import asyncio, json, sys, time
from quote_service.analytics import distributions, experiments, health, stats
assert "scipy" not in sys.modules, "imported before it was asked for"

async def main():
    gaps, done = [], False

    async def ticker():
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    gaps.clear()
    started = time.perf_counter()
    await distributions.load_statistics()
    took = time.perf_counter() - started
    done = True
    await task
    again = time.perf_counter()
    await distributions.load_statistics()  # loaded: nothing more
    print(json.dumps({"took": took, "longest_gap": max(gaps), "loaded": "scipy.special" in sys.modules,
                      "second": time.perf_counter() - again}))

asyncio.run(main())
"""


@pytest.mark.slow  # a Python process of its own: ~4 s of the unit loop
def test_the_first_import_of_the_statistics_leaves_the_event_loop_serving() -> None:
    run = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True)  # noqa: S603
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["loaded"]
    assert result["took"] > 0.05, result  # an import this slow is what a stall would be made of
    # On the loop the longest gap would be the whole import; in a thread the loop gets the GIL
    # back every few milliseconds (sys.getswitchinterval(), 5 ms).
    assert result["longest_gap"] < result["took"] / 3, result
    assert result["second"] < 0.01, result
