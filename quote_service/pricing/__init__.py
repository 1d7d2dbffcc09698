"""Pure pricing: money, rounding and evaluation. Standard library and msgspec only; no I/O."""
