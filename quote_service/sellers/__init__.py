"""The seller role's own routes (docs/sellers.md); its policy lives in auth/sellers.py."""
