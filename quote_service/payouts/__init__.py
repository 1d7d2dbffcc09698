"""Seller payouts: terms, balances from the ledger, runs that pay each seller once a cycle (docs/payouts.md)."""
