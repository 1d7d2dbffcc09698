"""An independent quote engine written from docs/pricing.md (see engine.py): the differential test's reference."""
