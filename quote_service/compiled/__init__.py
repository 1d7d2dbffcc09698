"""The compiled pricing engine: the hot modules of `pricing/` built with mypyc, and which engine loads.

`loader.py` decides, once per process as `quote_service.pricing` is imported, whether the
modules of `MODULES` come from a compiled build (`quote_service/pricing/_compiled/`) or from
their Python source; `build.py` makes that build (`make compile`, `make clean-compiled`). The
pure-Python source stays the one truth: the build is checked against it at every import, and a
build that no longer matches it is never loaded. docs/development.md#the-compiled-pricing-engine.
"""
