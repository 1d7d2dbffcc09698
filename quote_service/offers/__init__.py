"""Offers: other sellers' prices, stock and condition for a catalog product (docs/offers.md)."""
