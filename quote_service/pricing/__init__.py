"""Pure pricing: money, rounding and evaluation. Standard library and msgspec only; no I/O.

The modules a quote runs through may be loaded compiled (mypyc) instead: `compiled.loader`
chooses once, here, before any of them is imported (`PRICING_ENGINE`; docs/development.md).
"""

from quote_service.compiled.loader import choose

_CHOICE = choose(__path__)
COMPILED: bool = _CHOICE.compiled
"""Whether `compiled.loader.MODULES` run as compiled extension modules (else every module is Python)."""
ENGINE: str = _CHOICE.description
"""The engine this process runs, in words: `compiled (...)` or `pure Python (why)`."""
