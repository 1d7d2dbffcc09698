"""The distributions behind the experiment statistics, every one from scipy.special.

The statistics themselves are the textbook formulas, written out in `stats` and `health`; the
tails and quantiles they are read against (standard normal, chi-square, Student's t: the
numerically delicate part) are scipy's special functions. `scipy.stats` answers the same (the
unit tests compare) but costs ~40x more per call and ~4x more to import
(docs/experiments.md#statistics-from-scipy).

scipy is imported on first use, so a process that never looks at an experiment never loads it;
`load_statistics()` imports it in a thread (the import takes ~0.3-0.6 s, which on the event loop
stalled every request of the process). Async callers await it before any statistic here.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from typing import Any


@functools.cache
def _special() -> Any:
    """scipy.special, imported once, on first use."""
    return importlib.import_module("scipy.special")


_loaded = False


async def load_statistics() -> None:
    """Import scipy.special in a thread the first time (the event loop serves on meanwhile); then nothing.

    Async callers await this before the statistics, which would otherwise import it on the
    event loop."""
    global _loaded  # one flag per process, set once
    if not _loaded:
        await asyncio.to_thread(_special)
        _loaded = True


def normal_two_sided(statistic: float) -> float:
    """P(|Z| >= |statistic|) for Z standard normal (`scipy.stats.norm.sf` doubled: 2 ndtr(-|z|))."""
    return float(2 * _special().ndtr(-abs(statistic)))


def normal_quantile(probability: float) -> float:
    """The `probability` quantile of the standard normal (`scipy.stats.norm.ppf`: ndtri)."""
    return float(_special().ndtri(probability))


def chi_square_tail(statistic: float, degrees: int) -> float:
    """P(X >= statistic) for X chi-square with `degrees` degrees of freedom."""
    return float(_special().chdtrc(degrees, statistic))


def t_two_sided(statistic: float, degrees: float) -> float:
    """P(|T| >= |statistic|) for T Student's t with `degrees` (real) degrees of freedom."""
    return float(2 * _special().stdtr(degrees, -abs(statistic)))
